"""Settings: defaults, CHATSERVER_* environment variables, test_config, and the README table."""

import pytest

from chatserver import create_app
from chatserver.config import DEFAULTS, SETTINGS, from_environ

from support import ROOT


def test_environment_overrides_defaults_and_test_config_overrides_both(monkeypatch):
    monkeypatch.setenv("CHATSERVER_PORT", "4000")
    monkeypatch.setenv("CHATSERVER_MAX_MESSAGE_LENGTH", "10")
    app = create_app({"CHATSERVER_MAX_MESSAGE_LENGTH": 20})
    assert app.config["CHATSERVER_PORT"] == 4000
    assert app.config["CHATSERVER_MAX_MESSAGE_LENGTH"] == 20
    assert app.config["CHATSERVER_LOCALE"] == "en"


def test_defaults_match_the_seed_and_outgrow_eventlets_pool():
    assert DEFAULTS["CHATSERVER_PORT"] == 3000
    assert DEFAULTS["CHATSERVER_CORS_ORIGINS"] == "*"
    assert DEFAULTS["CHATSERVER_MAX_CONNECTIONS"] >= 10_000


def test_origins_parse_as_star_or_a_list():
    assert from_environ({"CHATSERVER_CORS_ORIGINS": "*"})["CHATSERVER_CORS_ORIGINS"] == "*"
    parsed = from_environ({"CHATSERVER_CORS_ORIGINS": "https://a.example, https://b.example"})
    assert parsed["CHATSERVER_CORS_ORIGINS"] == ["https://a.example", "https://b.example"]


def test_bad_number_names_the_variable():
    with pytest.raises(ValueError, match="CHATSERVER_PORT"):
        from_environ({"CHATSERVER_PORT": "three thousand"})


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [setting.key for setting in SETTINGS if f"`{setting.key}`" not in readme]
    assert missing == []
