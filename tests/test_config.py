"""Configuration: defaults, environment overrides, German errors with key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import Config, load_config, locate_key
from newsletter.errors import ConfigError, NotFoundError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repository_config_is_valid_and_has_the_five_regions() -> None:
    config = load_config(ROOT / "config.toml", environ={})
    assert [r.key for r in config.region_list()] == [
        "leipzig-nordsachsen",
        "chemnitz",
        "ostsachsen",
        "zwickau",
        "dresden",
    ]
    districts = sorted(d for r in config.region_list() for d in r.districts)
    assert len(districts) == 13 and len(set(districts)) == 13


def test_region_lookups_follow_a_copy_with_other_regions() -> None:
    """The region table is made once per config; a copy with other regions makes its own."""
    config = load_config(ROOT / "config.toml", environ={})
    zwickau = config.region("zwickau")
    assert zwickau is not None and config.region("zwickau") is zwickau
    fewer = config.model_copy(update={"regions": config.regions[:1]})
    assert [r.key for r in fewer.region_list()] == ["leipzig-nordsachsen"]
    assert fewer.region("zwickau") is None and config.region("zwickau") is zwickau


def test_an_unknown_region_key_is_a_german_not_found() -> None:
    config = load_config(ROOT / "config.toml", environ={})
    assert config.known_region("zwickau") is config.region("zwickau")
    with pytest.raises(NotFoundError, match=r"^Die Region »vogtland« gibt es nicht\.$") as caught:
        config.known_region("vogtland")
    assert (caught.value.kind, caught.value.key, caught.value.http_status) == (
        "region",
        "vogtland",
        404,
    )


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[mail]\nsmtp_port = 587\n")
    env = {"NEWSLETTER_MAIL__SMTP_PORT": "2525", "NEWSLETTER_MAIL__TRANSPORT": "smtp"}
    config = load_config(path, environ=env)
    assert config.mail.smtp_port == 2525
    assert config.mail.transport == "smtp"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[site]\nname = "Test"\n')
    assert load_config(environ={"NEWSLETTER_CONFIG": str(path)}).site.name == "Test"


def test_relative_paths_resolve_against_config_dir(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={})
    assert config.database_url() == f"sqlite:///{tmp_path / 'var' / 'newsletter.db'}"
    assert config.path(config.mail.maildir) == tmp_path / "var" / "mail"


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[site]\nname = "x"\n\n[mail]\ntransport = "smtp"\nsmtp_prot = 25\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.key == "mail.smtp_prot"
    assert info.value.line == 6
    assert "Zeile 6" in info.value.message and "kein bekannter Schlüssel" in info.value.message


def test_wrong_value_in_region_array_names_the_line(tmp_path: Path) -> None:
    text = '[[regions]]\nkey = "a"\nname = "A"\ndistricts = ["14511"]\n\n[[regions]]\nkey = "b"\nname = "B"\ndistricts = ["99999"]\n'
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ={})
    assert info.value.line == 9
    assert "99999" in info.value.message


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"NEWSLETTER_MAIL__SMTP_PORT.*ganze Zahl"):
        load_config(write(tmp_path, ""), environ={"NEWSLETTER_MAIL__SMTP_PORT": "abc"})


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kein gültiges TOML") as info:
        load_config(write(tmp_path, "[site\n"), environ={})
    assert info.value.line == 1


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nicht gefunden"):
        load_config(tmp_path / "nope.toml", environ={})


def test_source_with_unknown_region_is_refused(tmp_path: Path) -> None:
    text = '[[sources]]\nname = "x"\nkind = "feed"\nurl = "https://example.org/feed"\nregion = "mars"\n'
    with pytest.raises(ConfigError, match="unbekannte Region"):
        load_config(write(tmp_path, text), environ={})


def test_smtp_tls_must_be_known_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="smtp_tls"):
        load_config(write(tmp_path, '[mail]\nsmtp_tls = "maybe"\n'), environ={})


def test_locate_key_finds_nested_array_entries() -> None:
    text = "[[sources]]\nname = 'a'\n[[sources]]\nname = 'b'\nkind = 'x'\n"
    assert locate_key(text, ["sources", "1", "kind"]) == 5
    assert locate_key(text, ["sources", "0", "kind"]) == 1


def test_site_domain_from_base_url() -> None:
    config = Config.model_validate({"site": {"base_url": "https://news.example.org:8443/"}})
    assert config.site.domain == "news.example.org"
    assert config.site.base_url == "https://news.example.org:8443"
