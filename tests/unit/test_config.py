"""Config errors name the key and what is expected; check-config lists every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import ConfigError, load_config, parse_config

MINIMAL = {
    "homeserver": {
        "url": "https://matrix.rathaus.example",
        "user_id": "@flurfunk:rathaus.example",
        "password": "geheim",
        "allowed_homeservers": ["rathaus.example"],
    }
}


def problems(raw: object, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "test.yaml", environ or {})
    return caught.value.problems


def test_minimal_config_is_valid_with_defaults() -> None:
    config = parse_config(MINIMAL, "test.yaml", {})
    assert config.bot.command_prefix == "!"
    assert config.timezone == "Europe/Berlin"
    assert config.server_name == "rathaus.example"


def test_unknown_key_is_named() -> None:
    raw = {**MINIMAL, "bot": {"comand_prefix": "!"}}
    assert problems(raw) == [
        "bot.comand_prefix: unknown key (check the spelling against config/flurfunk.example.yaml)"
    ]


def test_wrong_type_names_key_and_expectation() -> None:
    raw = {**MINIMAL, "sync": {"timeout_ms": "lange"}}
    [problem] = problems(raw)
    assert problem.startswith("sync.timeout_ms:")
    assert "integer" in problem and "'lange'" in problem


def test_missing_required_keys_are_all_listed() -> None:
    found = problems({"homeserver": {"url": "https://x.example"}})
    assert "homeserver.user_id: required key is missing" in found
    assert "homeserver.allowed_homeservers: required key is missing" in found


def test_credentials_required_but_env_may_supply_them() -> None:
    raw = {"homeserver": {k: v for k, v in MINIMAL["homeserver"].items() if k != "password"}}
    [problem] = problems(raw)
    assert "password or access_token is required" in problem
    config = parse_config(raw, "test.yaml", {"FLURFUNK_PASSWORD": "aus-env"})
    assert config.homeserver.password is not None
    assert config.homeserver.password.get_secret_value() == "aus-env"


def test_secret_is_not_shown_in_repr() -> None:
    config = parse_config(MINIMAL, "test.yaml", {})
    assert "geheim" not in repr(config) and "geheim" not in str(config.homeserver)


def test_bad_matrix_ids_and_timezone() -> None:
    raw = {**MINIMAL, "bot": {"admins": ["anna"]}, "timezone": "Europa/Berlin"}
    found = problems(raw)
    assert any(p.startswith("bot.admins.0:") for p in found)
    assert any(p.startswith("timezone:") and "Europa/Berlin" in p for p in found)


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("homeserver: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken, {})
    assert problems(["a", "list"]) == ["(top level): expected a mapping of sections"]


def test_check_config_prints_all_problems_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "flurfunk.yaml"
    path.write_text("homeserver:\n  url: ftp://x\nbogus: 1\n", encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "homeserver.url:" in err and "homeserver.user_id:" in err and "bogus:" in err


def test_example_config_is_valid_and_documents_every_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = Path(__file__).parents[2] / "config" / "flurfunk.example.yaml"
    assert main(["check-config", str(example)]) == 0
    text = example.read_text(encoding="utf-8")
    from bot.config import Config

    def keys(model: type, prefix: str = "") -> list[str]:
        found = []
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            found.append(name)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                found += keys(annotation, f"{prefix}{name}.")
        return found

    missing = [k for k in keys(Config) if f"{k}:" not in text]
    assert not missing, f"keys not documented in the example config: {missing}"
