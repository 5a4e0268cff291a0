"""Wrong admin logins (argon2) must not stall the server: a real ``newsletter serve``,
attackers from several loopback addresses in parallel, a poller on a feed and /healthz."""

from __future__ import annotations

from pathlib import Path

from newsletter import admins
from newsletter.config import load_config
from newsletter.context import Context
from tests.livesrv import newsletter_serve, write_config
from tests.loginburst import Attackers, poll_during

FEED = "/feeds/leipzig-nordsachsen.rss"


def test_feeds_and_healthz_stay_fast_under_a_burst_of_wrong_logins(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    ctx = Context(load_config(config_path, environ={}))
    ctx.init_db()
    admins.create(ctx, "anna", "", "ein-langes-geheimes-passwort", actor="test")
    ctx.close()
    with newsletter_serve(config_path, tmp_path / "serve.log") as served:
        base = served.url
        attackers = Attackers(base, 6)
        (feed, health), codes = poll_during(
            [base + FEED, base + "/healthz"], lambda: attackers.fire("anna", 5)
        )
        attackers.close()
    assert set(codes) <= {401, 429, 503} and codes.count(401) >= 10  # type: ignore[attr-defined]
    assert len(feed.seconds) >= 20 and feed.failed == 0
    assert feed.p50 < 0.050, feed.line()
    assert health.failed == 0 and health.seconds, health.line()
    assert max(health.seconds) < 5, health.line()
