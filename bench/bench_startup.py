"""Start-up of the ``newsletter`` command against the libraries it cannot do without.

Times whole processes, interleaved in rounds (A B C A B C …) so a machine's drift hits
all of them alike, and prints each command's median and its ratio to the baseline
``python -c "import typer, rich"`` measured in the same run. The goal (issue »One
house«): ``newsletter --help`` and ``newsletter items list`` each ≤ 2 × the baseline.

Floors are timed alongside: the ``--help`` of a two-command Typer app (Typer's rich help
imports markdown-it, rich.traceback …: no Typer command's help starts faster), ``import
sqlalchemy`` alone, ``import typer, rich, sqlalchemy`` and the same with pydantic (the
config) — what any command that reads the database cannot start faster than, so the honest
bound for ``items list``: the 2 × goal is out of its reach while it reads through the store.

Usage: ``.venv/bin/python bench/bench_startup.py [--rounds N]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 2.0
TWO_COMMAND_APP = """
import typer
app = typer.Typer(add_completion=False)
@app.command()
def one() -> None:
    "One."
@app.command()
def two() -> None:
    "Two."
app(["--help"])
"""


def _seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=env["HOME"])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    cli = str(Path(sys.executable).parent / "newsletter")
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    shutil.copy(ROOT / "config.toml", work / "config.toml")
    shutil.copytree(ROOT / "news", work / "news")
    env = os.environ | {"NEWSLETTER_CONFIG": str(work / "config.toml"), "HOME": str(work)}
    # An installed wheel carries bytecode (pip compiles it); a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would recompile the package on every start instead.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "newsletter")],
        env={k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run([cli, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run([cli, "collect"], env=env, check=True, capture_output=True)
    commands = {
        "baseline: import typer, rich": [sys.executable, "-c", "import typer, rich"],
        "floor: two-command Typer app --help": [sys.executable, "-c", TWO_COMMAND_APP],
        "floor: import sqlalchemy": [sys.executable, "-c", "import sqlalchemy"],
        "floor: import typer, rich, sqlalchemy": [
            sys.executable,
            "-c",
            "import typer, rich, sqlalchemy",
        ],
        "floor: import typer, rich, sqlalchemy, pydantic": [
            sys.executable,
            "-c",
            "import typer, rich, sqlalchemy, pydantic",
        ],
        "newsletter --help": [cli, "--help"],
        "newsletter items list": [cli, "items", "list"],
    }
    for command in commands.values():  # warm the page cache and the bytecode
        _seconds(command, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            times[name].append(_seconds(command, env))
    base = statistics.median(times["baseline: import typer, rich"])
    print(f"{args.rounds} interleaved rounds, medians (goal: each ≤ {GOAL:g} × baseline)")
    for name, values in times.items():
        median = statistics.median(values)
        verdict = (
            ""
            if not name.startswith("newsletter")
            else ("  ok" if median / base <= GOAL else "  over goal")
        )
        print(f"  {name:48s} {median * 1000:7.1f} ms  {median / base:5.2f} × baseline{verdict}")
    floor = statistics.median(times["floor: import typer, rich, sqlalchemy, pydantic"])
    listing = statistics.median(times["newsletter items list"])
    print(
        f"  newsletter items list ÷ its floor (typer, rich, sqlalchemy, pydantic): {listing / floor:.2f}"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
