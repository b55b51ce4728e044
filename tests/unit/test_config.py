"""Config errors name the key and what is expected; check-config lists every problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from bot.__main__ import main
from bot.config import RENAMED, Config, ConfigError, load_config, parse_config

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


EXAMPLE = Path(__file__).parents[2] / "config" / "flurfunk.example.yaml"


def leaf_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaf_fields(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def test_example_config_is_valid_and_documents_every_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [
        key
        for key, _ in leaf_fields(Config)
        if any(f"{part}:" not in text for part in key.split("."))
    ]
    assert not missing, f"keys not documented in the example config: {missing}"


def test_every_key_is_described() -> None:
    undescribed = [key for key, field in leaf_fields(Config) if not field.description]
    assert not undescribed


def test_example_config_is_generated_from_the_descriptions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["example-config"]) == 0
    generated = capsys.readouterr().out
    assert EXAMPLE.read_text(encoding="utf-8") == generated, (
        "config/flurfunk.example.yaml is out of date: "
        "flurfunk example-config > config/flurfunk.example.yaml"
    )
    # The description of a key is its comment in the file.
    assert '  # Command prefix.\n  command_prefix: "!"\n' in generated


def test_example_config_shows_every_default() -> None:
    example = parse_config(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), "example", {})
    for key, field in leaf_fields(Config):
        if field.examples:
            continue
        value: object = example
        for part in key.split("."):
            value = getattr(value, part)
        assert value == field.get_default(call_default_factory=True), key


def test_renamed_key_is_answered_with_its_new_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # No key has been renamed yet; a synthetic entry stands in for the first real one.
    monkeypatch.setitem(RENAMED, "bot.prefix", "bot.command_prefix")
    raw = {**MINIMAL, "bot": {"prefix": "?", "comand_prefix": "!"}}
    assert problems(raw) == [
        "bot.prefix: this key is now bot.command_prefix; rename it in the file",
        "bot.comand_prefix: unknown key (check the spelling against config/flurfunk.example.yaml)",
    ]


@pytest.mark.parametrize("section", ["coffee", "circles"])
def test_rounds_check_schedule_and_holiday_state_alike(section: str) -> None:
    raw = {**MINIMAL, section: {"schedule": "Mox 9", "holiday_state": "XX"}}
    found = problems(raw)
    assert any(p.startswith(f"{section}.schedule:") and "'Mox 9'" in p for p in found)
    assert any(p.startswith(f"{section}.holiday_state:") and "NW" in p for p in found)
    config = parse_config({**MINIMAL, section: {"holiday_state": " nw "}}, "test.yaml", {})
    assert getattr(config, section).holiday_state == "NW"


def test_kitchen_schedule_names_the_unreadable_entry() -> None:
    raw = {**MINIMAL, "kitchen": {"schedule": ["Di 10:00", "irgendwann"]}}
    [problem] = problems(raw)
    assert problem.startswith("kitchen.schedule.1:") and "'irgendwann'" in problem


def test_own_organisation_kinds_are_checked_when_the_config_is_read(tmp_path: Path) -> None:
    good = tmp_path / "kinds.yaml"
    good.write_text(
        "- names: [Imkerverein, Imkerei]\n  requests: [Bienenschwarm am Kindergarten einfangen]\n",
        encoding="utf-8",
    )
    config = parse_config({**MINIMAL, "crisis": {"organisation_kinds": str(good)}}, "t.yaml", {})
    assert config.crisis.organisation_kinds == good
    bad = tmp_path / "bad.yaml"
    bad.write_text("- names: [Imkerverein]\n  anfragen: [Bienen]\n", encoding="utf-8")
    [problem] = problems({**MINIMAL, "crisis": {"organisation_kinds": str(bad)}})
    assert problem.startswith("crisis.organisation_kinds:") and "'requests'" in problem
    [missing] = problems({**MINIMAL, "crisis": {"organisation_kinds": str(tmp_path / "no.yaml")}})
    assert "cannot read" in missing
    broken = tmp_path / "broken.yaml"
    broken.write_text("- names: [Imkerverein\n", encoding="utf-8")
    [unreadable] = problems({**MINIMAL, "crisis": {"organisation_kinds": str(broken)}})
    assert "not valid YAML" in unreadable
