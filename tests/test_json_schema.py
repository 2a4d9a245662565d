"""The published JSON Schema (schema/report.schema.json) holds for what the commands print.

Every zoo spec's `table`, `plan` and `compare` document validates, as do `table --paper`,
`--depth`, `--batch`/`--dtype`, `list`, `check` and `kinds`, and the error objects of the
malformed-spec corpus; and the schema can fail: renamed, missing, mistyped or negative
fields are refused, while an extra numeric column on a row (what a later release may add
within a version) is accepted."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from archcalc.cli.main import main
from archcalc.spec.catalog import bundled

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema" / "report.schema.json"
ZOO = list(bundled())
# The corpus's resource bombs cost a second or more each (tests/test_bad_input.py runs
# them); their errors are built the same way as the others'.
SLOW_BAD = {"alias_bomb", "alias_bomb_in_layer", "nested_repeat_explodes",
            "nesting_through_templates", "repeat_huge", "nested_too_deep",
            "expression_squares_through_templates", "when_false_items_multiply",
            "yaml_too_many_values", "yaml_mapping_nested_too_deep", "int_too_many_digits"}
BAD = [path for path in sorted((ROOT / "tests" / "bad_specs").glob("*.yaml"))
       if path.stem not in SLOW_BAD]


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def printed(*args) -> dict:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_valid(validator, document: dict, form: str) -> None:
    assert document["schema"] == f"archcalc/{form}/1"
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_the_package_finds_the_published_schema():
    import archcalc
    from archcalc.render.export import SCHEMA_VERSION, schema_path

    assert schema_path().read_bytes() == SCHEMA_FILE.read_bytes()
    assert archcalc.json_schema() == json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert f"version {SCHEMA_VERSION}" in archcalc.json_schema()["title"]


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_table_and_plan_validate(validator, name):
    table = printed("table", name, "--format", "json")
    assert_valid(validator, table, "table")
    # independent of the schema: the rows' figures add up to the totals it describes
    assert sum(row["params"] for row in table["layers"]) == table["totals"]["params"]
    assert sum(row["macs"] for row in table["layers"]) == table["totals"]["macs"]
    assert_valid(validator, printed("plan", name, "--format", "json"), "plan")


def test_the_whole_zoo_compared_validates(validator):
    document = printed("compare", *ZOO, "--format", "json")
    assert_valid(validator, document, "compare")
    assert [model["name"] for model in document["models"]] == ZOO


@pytest.mark.parametrize("args", [
    ("table", "resnet50", "--depth", "2", "--batch", "3", "--dtype", "fp16"),
    ("table", "alexnet", "--input", "3x320x320"),
    ("table", "resnet18", "--convention", "fvcore"),
    ("plan", "resnet18", "--memory", "8GiB", "--optimizer", "adam", "--batch", "4"),
    ("compare", "resnet18", "mobilenet_v2", "--input", "3x64x64", "--dtype", "bf16"),
])
def test_options_keep_the_documents_valid(validator, args):
    document = printed(*args, "--format", "json")
    assert_valid(validator, document, args[0])


def test_folded_rows_are_described(validator):
    document = printed("table", "resnet50", "--depth", "1", "--format", "json")
    assert_valid(validator, document, "table")
    assert any(row.get("folded_rows", 1) > 1 for row in document["layers"])


def _has_key(value, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_has_key(v, key) for v in value.values())
    return isinstance(value, list) and any(_has_key(v, key) for v in value)


@pytest.mark.parametrize("name", [name for name in ZOO if _has_key(
    yaml.safe_load(bundled()[name].read_text(encoding="utf-8")), "paper")])
def test_paper_documents_validate(validator, name):
    assert_valid(validator, printed("table", name, "--paper", "--format", "json"), "table")


def test_list_check_and_kinds_validate(validator):
    listed = printed("list", "--format", "json")
    assert_valid(validator, listed, "list")
    assert [entry["name"] for entry in listed["specs"]] == ZOO
    kinds = printed("kinds", "--format", "json")
    assert_valid(validator, kinds, "kinds")
    from archcalc.layers.registry import all_kinds

    assert [kind["name"] for kind in kinds["kinds"]] == list(all_kinds())
    checked = printed("check", ROOT / "specs" / "vgg16.yaml", ROOT / "specs" / "lenet5.yaml",
                      "--format", "json")
    assert_valid(validator, checked, "check")
    assert checked["ok"] and checked["results"][0]["params"] == 138_357_544


def _text_of(parts: dict) -> str:
    """The text error from its JSON parts, as ArchcalcError.__str__ writes it."""
    where = parts["file"] or ""
    if parts["line"]:
        where += f":{parts['line']}:{parts['column']}"
    head = (f"{where}: " if where else "") + (f"in {parts['node']}: " if parts["node"] else "")
    hint = f"\n  hint: {parts['hint']}" if parts["hint"] else ""
    return f"error: {head}{parts['message']}{hint}"


def test_every_error_of_the_corpus_is_the_text_as_json(validator):
    """`check --format json` on the corpus: each result an error whose parts, put back
    together, are exactly the message the text form prints; `table --format json` prints
    the same parts on stderr, as an error document, with nothing on stdout."""
    checked = invoke("check", *BAD, "--format", "json")
    assert checked.exit_code == 2
    document = json.loads(checked.stdout)
    assert_valid(validator, document, "check")
    assert not document["ok"] and len(document["results"]) == len(BAD)
    for path, result in zip(BAD, document["results"]):
        assert result["ok"] is False, path.name
        text = invoke("table", path)
        assert text.exit_code == 2, path.name
        assert text.stderr.strip() == _text_of(result["error"]), path.name
        as_json = invoke("table", path, "--format", "json")
        assert as_json.exit_code == 2 and as_json.stdout == "", path.name
        error = json.loads(as_json.stderr)
        assert_valid(validator, error, "error")
        assert {k: error[k] for k in result["error"]} == result["error"], path.name
        assert error["exit_status"] == 2


TABLE = {"schema": "archcalc/table/1", "name": "tiny", "input": [1, 2, 2], "output": [4],
         "batch": 1, "dtype": "fp32",
         "totals": {"params": 20, "buffers": 0, "macs": 16, "flops": 32, "activations": 8,
                    "activation_bytes": 32, "param_bytes": 80},
         "layers": [{"name": "input", "kind": "input", "output_shape": [1, 2, 2],
                     "activations": 4, "activation_bytes": 16, "params": 0, "buffers": 0,
                     "macs": 0, "flops": 0, "receptive_field": None},
                    {"name": "fc", "kind": "fc", "output_shape": [4], "activations": 4,
                     "activation_bytes": 16, "params": 20, "buffers": 0, "macs": 16,
                     "flops": 32, "receptive_field": None}]}


def _changed(path: list, value=None, delete: bool = False) -> dict:
    document = copy.deepcopy(TABLE)
    target = document
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


@pytest.mark.parametrize("document", [
    _changed(["layers", 1, "macs"], delete=True),  # a field missing
    _changed(["layers", 1, "macs"], -1),  # a count below zero
    _changed(["layers", 1, "macs"], "16"),  # a count as text
    _changed(["layers", 1, "output_shape"], []),  # no axes
    _changed(["totals", "param_bytes"], delete=True),
    _changed(["dtype"], "fp64"),
    _changed(["batch"], 0),
    _changed(["schema"], "archcalc/table/2"),  # another version
    _changed(["layer"], []),  # a renamed top-level field
    _changed(["layers", 1, "backward_note"], "text"),  # an extra column that is not a number
    _changed(["layers"], [TABLE["layers"][0]]),  # the input row alone
], ids=lambda d: "case")
def test_the_schema_refuses_what_breaks_the_form(validator, document):
    assert list(validator.iter_errors(TABLE)) == []
    assert list(validator.iter_errors(document)), "the schema accepted a broken document"


def test_extra_numeric_columns_are_allowed_within_a_version(validator):
    document = _changed(["layers", 1, "backward_flops"], 64)
    document["totals"]["backward_flops"] = 64
    assert list(validator.iter_errors(document)) == []
