"""`smrules schema NAME` prints the shipped JSON schemas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from smrules.cli import main
from smrules.schemas import SCHEMA_DIR


@pytest.mark.parametrize("name", ["activity", "decision", "policy-test"])
def test_schema_prints_the_shipped_schema(name):
    result = CliRunner().invoke(main, ["schema", name])
    assert result.exit_code == 0
    shipped = (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")
    assert result.stdout.rstrip("\n") == shipped.rstrip("\n")
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_printed_schemas_are_valid_draft_2020_12():
    jsonschema = pytest.importorskip("jsonschema")
    for name in ("activity", "decision", "policy-test"):
        schema = json.loads(CliRunner().invoke(main, ["schema", name]).stdout)
        jsonschema.Draft202012Validator.check_schema(schema)


def test_activity_schema_accepts_the_text_activity_of_check():
    jsonschema = pytest.importorskip("jsonschema")
    from smrules.commands.check import _text_activity

    schema = json.loads(CliRunner().invoke(main, ["schema", "activity"]).stdout)
    activity = _text_activity("hi", "comment", "x", "hr", ("admin",), "brand")
    jsonschema.validate(activity, schema)


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "Missing argument 'NAME'"),
        (["activities"], "'activities' is not one of 'activity', 'decision', 'policy-test'"),
        (["activity", "decision"], "unexpected extra argument (decision)"),
    ],
)
def test_bad_schema_name_is_a_usage_error(args, message):
    result = CliRunner().invoke(main, ["schema", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_schema_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "smrules", "schema", "decision"], capture_output=True, timeout=60
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["title"] == "smrules decision"
