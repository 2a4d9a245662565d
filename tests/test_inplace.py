"""In-place operations only where safe, and `verify` catching them where they are not.

Oracles: hand-written plain PyTorch on the built module's own weights (no in-place op
anywhere), the same module with every in-place flag off in float64, autograd itself
(backward refuses a saved tensor overwritten in place) and PyTorch's measured memory.
Each hazard is also shown to fail `verify` when the safety decision is reverted to
"always in place", so the checks can fail."""
from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis import inplace
from archcalc.analysis.analyze import analyze
from archcalc.errors import ArchcalcError
from archcalc.spec.loader import parse_spec
from archcalc.testing import buildable_kinds, kind_examples, specs

torch = pytest.importorskip("torch")
F = torch.nn.functional

from archcalc.torchgraph.builder import build_module  # noqa: E402  (needs torch, skipped above)
from archcalc.verify.node_checks import verify_spec  # noqa: E402

FEW = settings(max_examples=25, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

CONV = {"conv": {"out": 3, "kernel": 1, "name": "stem"}}


def spec_of(layers, name="case", shape=(3, 5, 6)):
    document = {"archcalc": 1, "name": name, "input": list(shape), "layers": layers}
    return parse_spec(yaml.safe_dump(document, sort_keys=False), f"{name}.yaml")


def conv(module, x):
    return F.conv2d(x, module.weight, module.bias)


# name -> (layers, plain PyTorch on the built model `m`, the node an unsafe write breaks)
CASES = {
    "identity_concat_relu": (
        [CONV, {"branch": {"name": "b", "merge": "concat",
                           "paths": {"same": [], "relu_path": ["relu"]}}}],
        lambda m, x: torch.cat([conv(m.stem, x), F.relu(conv(m.stem, x))], 1), "b"),
    "residual_starting_with_relu": (
        [CONV, {"branch": {"name": "b", "merge": "add", "paths": {
            "main": ["relu", {"conv": {"out": 3, "kernel": 1, "name": "c"}}], "skip": []}}}],
        lambda m, x: conv(m.stem, x) + conv(m.b.main.c, F.relu(conv(m.stem, x))), "b"),
    "pre_conv_without_bn_first_in_a_path": (
        [CONV, {"branch": {"name": "b", "merge": "concat", "paths": {
            "same": [],
            "pre": [{"conv": {"out": 2, "kernel": 1, "order": "pre", "act": "relu",
                              "name": "c"}}]}}}],
        lambda m, x: torch.cat([conv(m.stem, x), conv(m.b.pre.c.conv,
                                                       F.relu(conv(m.stem, x)))], 1), "b"),
    "tanh_then_relu": (
        [CONV, {"tanh": {"name": "t"}}, {"relu": {"name": "r"}}],
        lambda m, x: F.relu(torch.tanh(conv(m.stem, x))), "r"),
    "relu_on_the_callers_input": (
        [{"relu": {"name": "r"}}, CONV], lambda m, x: conv(m.stem, F.relu(x)), "input"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_built_module_equals_plain_pytorch_and_differentiates(case):
    layers, plain, _ = CASES[case]
    model = build_module(spec_of(layers)).double()
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    given = x.clone().requires_grad_(False)
    out = model(given)
    assert torch.equal(given, x), "the caller's input was overwritten"
    assert torch.allclose(out, plain(model, x), rtol=0, atol=1e-12)
    out.sum().backward()  # no saved tensor was overwritten
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    plain(model, x).sum().backward()
    for built, expected in zip(grads, [p.grad for p in model.parameters()]):
        assert torch.allclose(built, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_passes_and_fails_when_the_decision_is_reverted(case, monkeypatch):
    layers, _, node = CASES[case]
    spec = spec_of(layers)
    assert [c for c in verify_spec(spec) if c.status == "mismatch"] == []
    monkeypatch.setattr(inplace, "unsafe_writers", lambda root, calls: [])  # always in place
    failed = [c for c in verify_spec(spec) if c.status == "mismatch"]
    assert failed, "verify did not notice an in-place write that changes the result"
    assert node in {c.node for c in failed}, failed


def test_only_unsafe_writers_move_out_of_place():
    # the branch's ReLU reads the shared input: out of place, 3*5*6 new elements;
    # the ReLU after the stem conv, whose output only it reads, stays in place
    spec = spec_of([CONV, "relu", {"branch": {"name": "b", "merge": "concat",
                                              "paths": {"same": [], "relu_path": ["relu"]}}}])
    report = analyze(spec)
    rows = {row.path: row for row in report.layers}
    assert rows["relu1"].activations == 0
    assert rows["b.relu_path.relu1"].activations == 3 * 5 * 6
    model = build_module(spec)
    assert model.relu1.inplace and not model.b.relu_path.relu1.inplace


def test_zoo_keeps_every_in_place_relu():
    # the zoo's in-place ReLUs are all safe, so its figures do not move
    from archcalc.spec.catalog import bundled
    from archcalc.spec.loader import load_spec

    for name in bundled():
        spec = load_spec(name)
        assert inplace.unsafe_writers(spec.root, analyze(spec).calls) == [], name


@pytest.mark.parametrize("case", sorted(CASES))
def test_memory_plan_follows_what_is_built(case):
    from archcalc.analysis.memory import plan
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    spec = spec_of(CASES[case][0])
    model = build_module(spec)
    x = torch.randn(2, 3, 5, 6)
    assert plan(spec, batch=2, device="cpu").saved_activation_bytes == \
        saved_tensor_bytes(model, x)
    assert plan(spec, batch=2).inference_activation_peak_bytes == \
        inference_peak_bytes(model.eval(), x)


def _no_in_place_float64(model):
    reference = copy.deepcopy(model).double()
    for module in reference.modules():
        if getattr(module, "inplace", False):
            module.inplace = False
    return reference


@FEW
@given(specs(max_layers=4, max_side=20))
def test_random_spec_equals_its_no_inplace_float64_evaluation(document):
    from archcalc.analysis.memory import plan
    from archcalc.verify.memory_ref import saved_tensor_bytes

    spec = parse_spec(yaml.safe_dump(document, sort_keys=False), "random.yaml")
    model = build_module(spec)
    x = torch.randn(2, *spec.input, dtype=torch.float64)
    reference = _no_in_place_float64(model).eval()
    built = model.double().eval()
    given_input = x.clone()
    with torch.no_grad():
        expected, got = reference(x), built(given_input)
    assert torch.equal(given_input, x)
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    model.float().train()
    example = torch.randn(2, *spec.input)
    assert plan(spec, batch=2, device="cpu").saved_activation_bytes == \
        saved_tensor_bytes(model, example)
    model(example.requires_grad_()).sum().backward()  # no saved tensor was overwritten


# --- whatever `check` accepts builds ----------------------------------------------------

NAMES = ["forward", "training", "to", "cuda", "state_dict", "act", "merge", "_hidden",
         "layer_a", "x1", "modules", "T_destination"]


@st.composite
def renamed_specs(draw):
    """Random specs whose top-level items get names drawn from NAMES (some reserved)."""
    document = copy.deepcopy(draw(specs(max_layers=3, max_side=16)))
    chosen = draw(st.lists(st.sampled_from(NAMES), min_size=len(document["layers"]),
                           max_size=len(document["layers"]), unique=True)) \
        if len(document["layers"]) <= len(NAMES) else []
    for item, name in zip(document["layers"], chosen):
        if isinstance(item, dict) and draw(st.booleans()):
            (_, body), = item.items()
            if isinstance(body, dict) and "repeat" not in body:
                body["name"] = name
    return document


@FEW
@given(renamed_specs())
def test_what_check_accepts_builds_and_runs(document):
    text = yaml.safe_dump(document, sort_keys=False)
    try:
        spec = parse_spec(text, "random.yaml")
        analyze(spec, check_expect=True)
    except ArchcalcError as exc:
        assert "cannot name a module" in str(exc)
        return
    model = build_module(spec)
    with torch.no_grad():
        model.eval()(torch.randn(1, *spec.input))


NAMED = {"layer": lambda name: [{"conv": {"out": 2, "kernel": 1, "name": name}}],
         "path": lambda name: [{"branch": {"merge": "add", "paths": {name: [], "other": []}}}]}


@pytest.mark.parametrize("kind", buildable_kinds())
def test_every_kinds_examples_that_check_accepts_build_and_run(kind):
    @settings(max_examples=10, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(kind_examples(kind))
    def check(document):
        spec = parse_spec(yaml.safe_dump(document, sort_keys=False), f"{kind}.yaml")
        analyze(spec, check_expect=True)
        model = build_module(spec)
        output = model(torch.randn(2, *spec.input))  # training mode: the harder case
        if output.requires_grad:  # a kind without parameters has nothing to differentiate
            output.sum().backward()

    check()


@pytest.mark.parametrize("where,name", [
    ("layer", "forward"), ("layer", "training"), ("layer", "to"), ("layer", "cuda"),
    ("layer", "state_dict"), ("layer", "_x"), ("layer", "spec_name"), ("path", "act"),
    ("path", "merge"), ("path", "eval")])
def test_check_refuses_a_name_a_module_cannot_register(where, name, tmp_path, run_cli):
    path = tmp_path / "named.yaml"
    path.write_text(yaml.safe_dump({"archcalc": 1, "name": "named", "input": [2, 4, 4],
                                    "layers": NAMED[where](name)}, sort_keys=False))
    result = run_cli("check", path)
    assert result.exit_code == 2
    assert "named.yaml:" in result.output and "cannot name a module" in result.output
    assert "hint:" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("name", ["act", "merge", "conv", "bn"])
def test_names_free_in_a_sequence_build(name):
    model = build_module(spec_of([{"conv": {"out": 2, "kernel": 1, "name": name}}]))
    assert isinstance(model.get_submodule(name), torch.nn.Conv2d)


def test_reserved_names_cover_the_torch_in_use():
    from archcalc.layers.registry import get_kind
    from archcalc.nn import ParallelPaths
    from archcalc.spec.names import BRANCH_ATTRIBUTES, RESERVED

    sequential = set(dir(torch.nn.Sequential()))
    assert {a for a in sequential if not a.startswith("_")} <= RESERVED
    join = get_kind("add").join
    branch = set(dir(ParallelPaths([], join, None))) | set(vars(ParallelPaths([], join, None)))
    assert {a for a in branch if not a.startswith("_")} <= RESERVED | BRANCH_ATTRIBUTES


# --- sizes that cannot be allocated -------------------------------------------------------

# check accepts it (every size is within the spec bounds); the second conv alone has
# 10^12 weights, and stays when --train adapts the first conv's input and the fc's out
HUGE = [{"conv": {"out": 1_000_000, "kernel": 1}}, {"conv": {"out": 1_000_000, "kernel": 1}},
        {"avgpool": {"global": True}}, "flatten", {"fc": {"out": 4}}]


def test_build_refuses_a_model_larger_than_memory_before_allocating():
    spec = spec_of(HUGE, "huge", (3, 8, 8))
    params = analyze(spec).totals["params"]
    assert params == (3 + 1) * 10**6 + (10**12 + 10**6) + (4 * 10**6 + 4)
    with pytest.raises(ArchcalcError) as caught:
        build_module(spec)
    message = str(caught.value)
    assert "needs 4.0" in message and "TB" in message and "memory available" in message
    assert f"{params:,} parameters" in message


def test_refusal_compares_with_the_memory_given():
    from archcalc.torchgraph.limits import needed_bytes, refuse_oversized

    spec = spec_of([CONV], "small")
    report = analyze(spec)
    needed = needed_bytes(spec, report)
    assert needed == 4 * (3 * 3 + 3) + 4 * 2 * 3 * 5 * 6  # weights, input and output
    refuse_oversized(spec, report, available=needed)
    with pytest.raises(ArchcalcError):
        refuse_oversized(spec, report, available=needed - 1)


@pytest.mark.parametrize("command", [["build"], ["verify"], ["build", "--train",
                                                             "--max-steps", "1"]])
def test_cli_refuses_a_huge_model_with_exit_2(command, tmp_path, run_cli):
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump({"archcalc": 1, "name": "huge", "input": [3, 8, 8],
                                    "layers": HUGE}))
    result = run_cli(*command, path)
    assert result.exit_code == 2, result.output
    assert "memory available" in result.output and "Traceback" not in result.output


def test_the_random_property_fails_when_the_decision_is_reverted(monkeypatch):
    # the strategies draw the hazards (a ReLU first in a path, a ReLU after a tanh, a
    # pre-activation conv without BN), so "always in place" must be caught
    monkeypatch.setattr(inplace, "unsafe_writers", lambda root, calls: [])
    with pytest.raises(Exception) as caught:  # which exceptions: checked below
        test_random_spec_equals_its_no_inplace_float64_evaluation()
    # a wrong value, or autograd refusing an overwritten saved tensor (hypothesis groups
    # several distinct failures)
    failures = getattr(caught.value, "exceptions", (caught.value,))
    assert all(isinstance(e, (AssertionError, RuntimeError)) for e in failures), failures
