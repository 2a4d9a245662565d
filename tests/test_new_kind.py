"""Adding a layer kind is one class in one module: this module defines HardTanh, registers
it for the duration of each test (removed afterwards), and runs the whole registry contract
suite (tests/test_registry_contract.py) on it, alone and folded as the ``act:`` of a conv,
an fc and a merge. It is the worked example of README "Adding a layer kind".

Hard tanh is a good stranger: unlike relu, tanh and sigmoid, its backward reads its input
(out of place) and may run in place, where PyTorch then keeps its output, which is the same
tensor; and its FLOPs differ from the other activations' one per element.
"""
from __future__ import annotations

import pytest
import test_registry_contract as contract
import yaml

from archcalc import testing
from archcalc.analysis.analyze import analyze
from archcalc.errors import SpecError
from archcalc.layers.activation import Activation
from archcalc.layers.registry import all_kinds, registered
from archcalc.spec.loader import parse_spec

pytest.importorskip("torch")


class HardTanh(Activation):
    """Hard tanh, ``min(max(x, -1), 1)`` (``nn.Hardtanh``). FLOPs: 2 per element (a max and a
    min). In place where safe; autograd keeps its input (its output when in place)."""

    name = "hardtanh"
    summary = "hard tanh: clamp to [-1, 1]"
    module = "Hardtanh"  # torch.nn.Hardtanh, given inplace= since it can run in place
    can_run_in_place = True
    keeps = "input"
    flops_per_element = 2


@pytest.fixture
def hardtanh():
    with registered(HardTanh) as kind:
        yield kind
    assert "hardtanh" not in all_kinds()  # cleaned up


def analysed(layers, shape=(2, 5, 6)):
    document = {"archcalc": 1, "name": "case", "input": list(shape), "layers": layers}
    return analyze(parse_spec(yaml.safe_dump(document, sort_keys=False), "case.yaml"))


def test_the_whole_contract_holds_for_a_kind_from_one_class(hardtanh):
    assert "hardtanh" in testing.KIND_STRATEGIES  # derived from the class: no table entry
    contract.run_contract("hardtanh")


def test_the_class_is_every_act_choice_while_registered(hardtanh):
    # 2x5x6 input; a 1x1 conv to 3 channels: 90 outputs, 2 FLOPs each for the act
    rows = {row.path: row for row in analysed([
        {"conv": {"out": 3, "kernel": 1, "act": "hardtanh", "name": "c"}},
        {"branch": {"name": "b", "merge": "add", "act": "hardtanh",
                    "paths": {"main": [{"conv": {"out": 3, "kernel": 1}}], "skip": []}}},
        {"hardtanh": {"name": "h"}}]).layers}
    elements = 3 * 5 * 6
    assert rows["c"].flops == 2 * elements * 2 + elements + 2 * elements  # MACs, bias, act
    assert rows["b"].flops == elements + 2 * elements  # one addition, then the act
    assert rows["h"].flops == 2 * elements and rows["h"].activations == 0  # in place


def test_nothing_is_left_behind_after_the_test():
    assert "hardtanh" not in all_kinds() and "hardtanh" not in testing.KIND_STRATEGIES
    with pytest.raises(SpecError, match="must be one of none, relu, tanh, sigmoid"):
        analysed([{"conv": {"out": 3, "kernel": 1, "act": "hardtanh"}}])
