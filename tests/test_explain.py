"""`archcalc explain` writes the lecture's arithmetic, from the layer rules themselves."""
from __future__ import annotations

import json
import re

import pytest

from archcalc import analyze, load_spec
from archcalc.analysis.explain import explain


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_alexnet_conv1_as_the_lecture_writes_it(run_cli):
    result = run_cli("explain", "alexnet", "--layer", "conv1")
    assert result.exit_code == 0, result.output
    assert "(227-11)/4+1=55" in squash(result.output)
    assert "11*11*3*96=34,848" in squash(result.output)
    assert "55*55*96=290,400" in squash(result.output)


# The lecture's VGG16 rows: (memory product, params product) per CONV/FC row.
VGG16_LECTURE = [
    ("224*224*64=3,211,264", "3*3*3*64=1,728"),
    ("224*224*64=3,211,264", "3*3*64*64=36,864"),
    ("112*112*128=1,605,632", "3*3*64*128=73,728"),
    ("112*112*128=1,605,632", "3*3*128*128=147,456"),
    ("56*56*256=802,816", "3*3*128*256=294,912"),
    ("56*56*256=802,816", "3*3*256*256=589,824"),
    ("56*56*256=802,816", "3*3*256*256=589,824"),
    ("28*28*512=401,408", "3*3*256*512=1,179,648"),
    ("28*28*512=401,408", "3*3*512*512=2,359,296"),
    ("28*28*512=401,408", "3*3*512*512=2,359,296"),
    ("14*14*512=100,352", "3*3*512*512=2,359,296"),
    ("14*14*512=100,352", "3*3*512*512=2,359,296"),
    ("14*14*512=100,352", "3*3*512*512=2,359,296"),
    ("4,096", "7*7*512*4096=102,760,448"),
    ("4,096", "4096*4096=16,777,216"),
    ("1,000", "4096*1000=4,096,000"),
]


def test_vgg16_rows_show_the_lecture_products():
    rows = [row for row in explain(load_spec("vgg16")) if row.kind in ("conv", "fc")]
    assert len(rows) == len(VGG16_LECTURE)
    for row, (memory, params) in zip(rows, VGG16_LECTURE):
        assert squash(row.activations) == memory
        assert params in [squash(term) for term in row.params_terms]


def test_floor_is_shown_when_a_division_is_not_exact():
    (row,) = explain(load_spec("resnet50"), pattern="layer2.0.main.conv2")
    assert squash(row.output["height"]) == "floor((56-3+2)/2)+1=28"


@pytest.mark.parametrize("name", ["googlenet", "densenet121", "resnet50_v1"])
def test_every_derivation_ends_in_the_analysed_value(name):
    spec = load_spec(name)
    rows = {row.path: row for row in analyze(spec).layers}
    for derivation in explain(spec):
        row = rows[derivation.path]
        assert derivation.macs.endswith(f"{row.macs:,}")
        assert derivation.params.endswith(f"{row.params:,}")
        assert derivation.activations.endswith(f"{row.activations:,}")


def test_explain_json_and_bad_pattern(run_cli):
    result = run_cli("explain", "lenet5", "--format", "json")
    assert result.exit_code == 0
    assert len(json.loads(result.output)) == len(analyze(load_spec("lenet5")).layers)
    result = run_cli("explain", "lenet5", "--layer", "nothing_here")
    assert result.exit_code == 2


def _value(text: str) -> int:
    return int(text.rsplit("=", 1)[-1].replace(",", "").strip())


IN_PLACE_HAZARD = """\
archcalc: 1
name: hazard
input: [3, 8, 8]
layers:
  - branch: {merge: concat, paths: {identity: [], relu: [relu]}}
  - tanh
  - relu
"""


@pytest.mark.parametrize("source", ["hazard", "resnet18", "densenet121", "googlenet"])
def test_explained_figures_equal_the_table_rows(source, tmp_path):
    """explain writes its derivations while the analysis walks; the in-place decision comes
    after the walk (a ReLU that may not overwrite its input gets a tensor of its own), so
    the explained activations must still be those of the table."""
    if source == "hazard":
        (tmp_path / "hazard.yaml").write_text(IN_PLACE_HAZARD)
        source = str(tmp_path / "hazard.yaml")
    spec = load_spec(source)
    rows = {row.path: row for row in analyze(spec).layers}
    derivations = explain(spec)
    assert [d.path for d in derivations] == [path for path in rows if path != "input"]
    for derivation in derivations:
        row = rows[derivation.path]
        assert (_value(derivation.activations), _value(derivation.macs)) == \
            (row.activations, row.macs), derivation.path
