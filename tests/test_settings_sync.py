"""README, meltano.yml and `tap-posthog --about` list the same settings."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tap_posthog.tap import TapPostHog

ROOT = Path(__file__).resolve().parents[1]
_BUILTINS: dict = {"type": "object", "properties": {}}
TapPostHog.append_builtin_config(_BUILTINS)  # the SDK's own settings, added to every tap
# (the SDK also appends them to config_jsonschema itself once a tap is instantiated)
SETTINGS = [
    name
    for name in TapPostHog.config_jsonschema["properties"]
    if name not in _BUILTINS["properties"]
]


def test_meltano_yml_mirrors_the_tap_settings():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = project["plugins"]["extractors"][0]
    names = [s["name"] for s in extractor["settings"]]
    assert names == SETTINGS
    sensitive = {s["name"] for s in extractor["settings"] if s.get("sensitive")}
    secret = {
        name
        for name, prop in TapPostHog.config_jsonschema["properties"].items()
        if prop.get("secret")
    }
    assert sensitive == secret == {"personal_api_key"}
    for setting in extractor["settings"]:
        prop = TapPostHog.config_jsonschema["properties"][setting["name"]]
        assert setting["description"] == prop["description"], setting["name"]
        if "default" in prop:
            assert setting.get("value") == prop["default"], setting["name"]


def test_readme_settings_table_matches_about():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (\w+) \| (True|False) \|", readme, flags=re.MULTILINE)
    listed = [
        name
        for name, _ in rows
        if name in SETTINGS or not name.startswith(("stream_", "flattening", "batch", "faker"))
    ]
    assert [n for n in listed if n in SETTINGS] == SETTINGS
    required = {name for name, req in rows if req == "True"}
    assert required == set(TapPostHog.config_jsonschema.get("required", []))
