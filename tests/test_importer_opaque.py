"""`archcalc import --allow-opaque`: what archcalc cannot express is kept as an `opaque` node
whose shapes and counts are measured on the module (oracles: forward hooks and the module's
own tensors) and whose MACs and FLOPs are unknown everywhere they are shown: `?` and "at
least" in tables, null and an `unknown` list in JSON (schema-valid), a lower bound in the
plan; `build` and an `expect: macs` fact are refused, and without the flag the import is
refused as before."""
from __future__ import annotations

import json
import textwrap

import pytest
import yaml

torch = pytest.importorskip("torch")
jsonschema = pytest.importorskip("jsonschema")

from click.testing import CliRunner  # noqa: E402

from archcalc.cli.main import main  # noqa: E402

SOURCE = textwrap.dedent("""
    import torch
    from torch import nn


    class Spectral(nn.Module):
        '''An FFT filter: rfft2, a weight per channel, irfft2, then a buffer's gain.'''

        def __init__(self, channels):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(channels, 1, 1))
            self.register_buffer("gain", torch.ones(3))

        def forward(self, x):
            spectrum = torch.fft.rfft2(x)
            return torch.fft.irfft2(spectrum * self.scale, s=x.shape[-2:]) * self.gain[0]


    class Gate(nn.Module):
        '''Data-dependent control flow: fx cannot trace it.'''

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 1)

        def forward(self, x):
            if x.sum() > 0:
                return self.conv(x)
            return x


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.act = nn.ReLU()
            self.spectral = Spectral(8)
            self.gate = Gate()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            x = torch.erf(self.act(self.conv(x)))
            x = self.gate(self.spectral(x))
            return self.fc(self.pool(x).flatten(1))
    """)
INPUT = (3, 12, 10)
OPAQUE = ("erf", "spectral", "gate")
# hand count of the known rows: conv 8*3*3*3 per output pixel, fc 8*10
KNOWN_MACS = 8 * 3 * 3 * 3 * 12 * 10 + 8 * 10


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("opaque")
    source = folder / "net.py"
    source.write_text(SOURCE)
    out = folder / "net.yaml"
    result = run("import", f"{source}:Net", "--input", "x".join(map(str, INPUT)),
                 "--allow-opaque", "--out", out)
    assert result.exit_code == 0, result.output
    namespace: dict = {}
    exec(compile(SOURCE, str(source), "exec"), namespace)  # the oracle: the module itself
    module = namespace["Net"]().eval()
    return source, out, module, result


def measured_shapes(module) -> dict:
    shapes = {}
    hooks = [getattr(module, name).register_forward_hook(
        lambda m, args, output, name=name: shapes.__setitem__(name, tuple(output.shape[1:])))
        for name in ("act", "spectral", "gate")]
    with torch.no_grad():
        module(torch.randn(1, *INPUT))
    for hook in hooks:
        hook.remove()
    return shapes


def schema_validator():
    from archcalc.render.export import schema_path

    schema = json.loads(schema_path().read_text())
    return jsonschema.Draft202012Validator(schema)


def test_without_the_flag_the_import_is_still_refused(tmp_path):
    source = tmp_path / "net.py"
    source.write_text(SOURCE)
    out = tmp_path / "net.yaml"
    result = run("import", f"{source}:Net", "--input", "3x12x10", "--out", out)
    assert result.exit_code == 2, result.output
    assert "no archcalc rule for torch.erf" in result.output and "net.py:" in result.output
    assert not out.exists()


def test_each_opaque_node_is_measured_on_the_module(imported):
    _, out, module, result = imported
    layers = {next(iter(item.values()))["name"]: item
              for item in yaml.safe_load(out.read_text())["layers"]}
    shapes = measured_shapes(module)
    expected_in = {"erf": shapes["act"], "spectral": shapes["act"],
                   "gate": shapes["spectral"]}
    expected_out = {"erf": shapes["act"], "spectral": shapes["spectral"],
                    "gate": shapes["gate"]}
    for name in OPAQUE:
        body = layers[name]["opaque"]
        assert tuple(body["input"]) == expected_in[name]
        assert tuple(body["output"]) == expected_out[name]
        own = getattr(module, name, None)
        assert body.get("params", 0) == (sum(p.numel() for p in own.parameters())
                                         if own is not None else 0)
        assert body.get("buffers", 0) == (sum(b.numel() for b in own.buffers())
                                          if own is not None else 0)
        assert "note: opaque node " + name in result.output
    assert "torch.erf" in layers["erf"]["opaque"]["op"]
    assert "torch.fx cannot trace Gate.forward" in layers["gate"]["opaque"]["op"]


def test_the_spec_checks_with_the_module_s_counts(imported):
    _, out, module, _ = imported
    result = run("check", out)
    assert result.exit_code == 0, result.output
    document = json.loads(run("table", out, "--format", "json").output)
    assert document["totals"]["params"] == sum(p.numel() for p in module.parameters())
    assert document["totals"]["buffers"] == sum(b.numel() for b in module.buffers())


def test_table_shows_unknown_costs_and_lower_bounds(imported):
    _, out, _, _ = imported
    text = run("table", out, "--format", "markdown").output
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()
            if line.startswith("| ")}
    for name in OPAQUE:
        assert rows[name].split("|")[7].strip() == "?"
    assert f"at least {KNOWN_MACS:,}" in rows["total"]
    assert "unknown for 3 node(s)" in text
    rich = run("table", out).output
    assert "at least" in rich and " ? " in rich


def test_json_has_null_costs_an_unknown_list_and_fits_the_schema(imported):
    _, out, _, _ = imported
    document = json.loads(run("table", out, "--format", "json").output)
    schema_validator().validate(document)
    rows = {row["name"]: row for row in document["layers"]}
    for name in OPAQUE:
        assert rows[name]["macs"] is None and rows[name]["flops"] is None
    totals = document["totals"]
    assert totals["macs"] == KNOWN_MACS == sum(r["macs"] for r in rows.values()
                                                if r["macs"] is not None)
    assert sorted(totals["unknown"]["macs"]) == sorted(totals["unknown"]["flops"]) == \
        sorted(OPAQUE)
    csv_lines = run("table", out, "--format", "csv").output.splitlines()
    assert csv_lines[-1].startswith("total_lower_bound,")


def test_compare_and_plan_say_lower_bound(imported):
    _, out, _, _ = imported
    validator = schema_validator()
    compared = json.loads(run("compare", out, "resnet18", "--format", "json").output)
    validator.validate(compared)
    mine = compared["models"][0]
    assert mine["macs"] == KNOWN_MACS and sorted(mine["unknown"]) == sorted(OPAQUE)
    assert compared["models"][1]["ratios"]["macs"] is None
    assert "at least" in run("compare", out, "resnet18").output
    planned = run("plan", out, "--format", "json")
    assert planned.exit_code == 0, planned.output
    document = json.loads(planned.output)
    validator.validate(document)
    assert sorted(document["unknown"]) == sorted(OPAQUE) and document["step_flops"] is None
    assert "lower bound" in run("plan", out).output


def test_build_refuses_naming_the_node(imported):
    _, out, _, _ = imported
    result = run("build", out)
    assert result.exit_code == 2, result.output
    assert "in erf: cannot build the opaque node" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("key", ["macs", "flops"])
def test_an_expect_on_unknown_costs_is_an_error(imported, tmp_path, key):
    _, out, _, _ = imported
    document = yaml.safe_load(out.read_text())
    document["expect"][key] = KNOWN_MACS
    changed = tmp_path / "expect.yaml"
    changed.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run("check", changed)
    assert result.exit_code != 0, result.output
    label = {"macs": "MACs", "flops": "FLOPs"}[key]
    assert f"the {label} of 3 node(s) are unknown" in result.output


def test_another_input_size_is_refused_at_the_node(imported):
    _, out, _, _ = imported
    result = run("table", out, "--input", "3x16x16")
    assert result.exit_code == 2, result.output
    assert "in erf" in result.output and "was measured on input [8, 12, 10]" in result.output


def test_swin_v2_imports_with_its_attention_opaque(tmp_path):
    """Refused without the flag (README's table): ShiftedWindowAttentionV2 calls a function
    with its children's weights. With it, each attention block is one opaque node holding
    those weights, and the spec's params and buffers are the module's."""
    torchvision = pytest.importorskip("torchvision")
    from archcalc.importer import import_source

    imported = import_source("torchvision:swin_v2_t", allow_opaque=True)
    with torch.device("meta"):
        model = torchvision.models.swin_v2_t()
    totals = imported.report.totals
    assert totals["params"] == sum(p.numel() for p in model.parameters())
    assert totals["buffers"] == sum(b.numel() for b in model.buffers())
    modules = dict(model.named_modules())
    attention = [(node, path) for node, path, _ in imported.opaque
                 if type(modules[path]).__name__ == "ShiftedWindowAttentionV2"]
    assert len(attention) == sum(type(m).__name__ == "ShiftedWindowAttentionV2"
                                 for m in modules.values()) == 12
    rows = {row.path: row for row in imported.report.rows}
    for node, path in attention:
        assert rows[node].params == sum(p.numel() for p in modules[path].parameters())
        assert rows[node].macs is None
    assert set(imported.report.unknown["macs"]) == {node for node, _, _ in imported.opaque}


def _erf_net(channels: int, stride: int):
    from torch import nn

    class ErfNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, channels, 3, stride=stride, padding=1)
            self.head = nn.Conv2d(channels, 4, 1)

        def forward(self, x):
            return self.head(torch.erf(self.conv(x))).flatten(1)

    return ErfNet().eval()


def test_a_custom_op_keeps_the_measured_shapes_at_any_size():
    """Drawn widths, strides and input sizes: the opaque node's shapes are the ones forward
    hooks see on the module, the counts are its own, and only that node's cost is unknown."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from archcalc.importer import import_module

    @settings(max_examples=6, deadline=None, derandomize=True)
    @given(st.integers(1, 8), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9))
    def check(channels, stride, height, width):
        model = _erf_net(channels, stride)
        imported = import_module(model, (3, height, width), allow_opaque=True)
        seen = {}
        model.conv.register_forward_hook(  # update() returns None: the output stays
            lambda m, args, output: seen.update(conv=tuple(output.shape[1:])))
        with torch.no_grad():
            model(torch.zeros(1, 3, height, width))
        ((node, module_path, what),) = imported.opaque
        call = imported.report.calls[node]
        assert call.inputs[0] == call.output == seen["conv"]
        assert "torch.erf" in what and module_path == "(the model itself)"
        assert imported.report.totals["params"] == sum(p.numel() for p in model.parameters())
        assert imported.report.unknown == {"macs": [node], "flops": [node]}
        oracle = channels * 27 * seen["conv"][1] * seen["conv"][2] + \
            4 * channels * seen["conv"][1] * seen["conv"][2]  # conv and 1x1 head, by hand
        assert imported.report.totals["macs"] == oracle

    check()
