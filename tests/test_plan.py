"""`archcalc plan` against what PyTorch really keeps.

Oracles: autograd's saved tensors in a training-mode forward pass of the built module
(saved_tensors_hooks, each storage once), the peak of live tensors in an inference pass
(a dispatch mode that follows every tensor's storage), and the real weights, gradients,
buffers and optimizer state after a backward pass and an optimizer step.

Batch 4 for every spec would cost several minutes of CPU for the VGGs, so each spec is
measured at batches 1 and 2 and batch 4 follows by linearity: every tensor autograd
saves has the batch as its first axis except BatchNorm's per-channel mean and inverse
std, which do not depend on the batch, so saved(N) = a + b*N exactly and two
measurements fix a and b. Specs under 1 GMAC per image are measured at batch 4 as well,
which checks that linearity. The inference oracle runs every operator through Python (a
dispatch mode), four times slower than a plain pass, so it covers the specs up to 5 GMACs
per image: every structure of the zoo but the plain VGG stack, which the smaller
sequential nets (AlexNet, LeNet) share.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc import analyze, load_spec
from archcalc.analysis.memory import parse_memory, plan
from archcalc.errors import ArchcalcError
from archcalc.spec.catalog import bundled
from archcalc.spec.loader import parse_spec
from archcalc.testing import specs

SMALL_MACS = 1e9  # per image: measured at batch 4 too
INFERENCE_ORACLE_MACS = 5e9  # per image: the inference peak is measured up to this


def measured(name):
    """{batch: saved bytes} and the inference peak at batch 1 (or None), from PyTorch."""
    torch = pytest.importorskip("torch")
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    spec = load_spec(name)
    # Training mode, with PyTorch's default initialisation only: values do not change
    # which tensors autograd keeps, and a second pass over 138M VGG weights costs 0.5 s.
    model = build_module(spec, init=False)
    macs = analyze(spec).totals["macs"]
    batches = (1, 2, 4) if macs < SMALL_MACS else (1, 2)
    saved = {batch: saved_tensor_bytes(model, torch.randn(batch, *spec.input))
             for batch in batches}
    peak = None
    if macs <= INFERENCE_ORACLE_MACS:
        peak = inference_peak_bytes(model.eval(), torch.randn(1, *spec.input))
    return spec, saved, peak


@pytest.mark.parametrize("name", list(bundled()))
def test_saved_activations_and_inference_peak_match_pytorch(name):
    spec, saved, peak = measured(name)
    cuda, cpu = plan(spec), plan(spec, device="cpu")
    # linear in the batch from batch 2 on; batch 1 keeps a little more where a reshape is
    # a view only then (Swin's one-window stage; both batches are measured exactly below)
    single = saved[1] - cpu.saved_at_batch_one_bytes
    at_4 = saved.get(4, single + 3 * (saved[2] - single))
    if 4 in saved:
        assert saved[4] == single + 3 * (saved[2] - single)
    # The plan models a CUDA device; measured here on the CPU, where dropout keeps a
    # dtype-sized noise tensor instead of CUDA's bool mask (the only difference).
    for batch, bytes_measured in ((1, saved[1]), (4, at_4)):
        ratio = cuda.at(batch).saved_activation_bytes / bytes_measured
        assert abs(ratio - 1) < 0.10, (batch, ratio)
        assert cpu.at(batch).saved_activation_bytes == bytes_measured, batch
    assert cpu.at(2).saved_activation_bytes == saved[2]
    # A dispatch mode sends CPU max pooling down CUDA's path (indices even without
    # autograd), so the oracle's inference peak is CUDA's.
    if peak is not None:
        assert cuda.at(1).inference_activation_peak_bytes == peak


CASES = [("resnet20", "sgd", "fp32"), ("resnet20", "sgd-momentum", "fp16"),
         ("resnet20", "adam", "bf16"), ("lenet5", "adam", "fp32"),
         ("alexnet", "sgd-momentum", "fp32"), ("googlenet", "adam", "bf16")]


@pytest.mark.parametrize("name,optimizer,dtype", CASES)
def test_weights_gradients_buffers_and_optimizer_state_are_exact(name, optimizer, dtype):
    torch = pytest.importorskip("torch")
    from archcalc.torchgraph.builder import build_module

    spec = load_spec(name)
    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    model = build_module(spec).to(torch_dtype)
    model(torch.randn(2, *spec.input, dtype=torch_dtype)).float().sum().backward()
    make = {"sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
            "sgd-momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
            "adam": lambda ps: torch.optim.Adam(ps)}[optimizer]
    step = make(model.parameters())
    step.step()
    state = [(key, value) for per_param in step.state.values() for key, value in per_param.items()
             if torch.is_tensor(value)]
    # Adam's `step` counters: one fp32 element per parameter tensor, on the CPU (not the
    # device) unless capturable or fused; the plan leaves them out.
    assert all(value.numel() == 1 and value.device.type == "cpu"
               for key, value in state if key == "step")
    result = plan(spec, batch=2, dtype=dtype, optimizer=optimizer)
    assert result.weights_bytes == sum(p.nbytes for p in model.parameters())
    assert result.gradients_bytes == sum(p.grad.nbytes for p in model.parameters())
    assert result.buffers_bytes == sum(b.nbytes for b in model.buffers())
    assert result.optimizer_bytes == sum(value.nbytes for key, value in state if key != "step")
    assert result.total_bytes == result.weights_bytes + result.buffers_bytes + \
        result.gradients_bytes + result.optimizer_bytes + result.saved_activation_bytes


@pytest.mark.parametrize("name,memory,optimizer,dtype", [
    ("resnet50", "80GiB", "sgd-momentum", "fp32"),
    ("densenet121", "16GB", "adam", "bf16"),
    ("vgg16", "1.5GiB", "adam", "fp32"),
    ("vgg16", "100MB", "sgd", "fp32"),
    ("preact_resnet1001", "24GiB", "sgd-momentum", "fp16"),
])
def test_max_batch_is_the_largest_batch_that_fits(run_cli, name, memory, optimizer, dtype):
    limit = parse_memory(memory)
    result = run_cli("plan", name, "--memory", memory, "--optimizer", optimizer,
                     "--dtype", dtype, "--format", "json")
    assert result.exit_code == 0, result.output
    best = json.loads(result.output)["max_batch"]

    def total(batch):
        return plan(load_spec(name), batch=batch, dtype=dtype, optimizer=optimizer).total_bytes

    if best:
        assert total(best) <= limit < total(best + 1)
    else:
        assert total(1) > limit


def test_plan_json_has_every_part_and_adds_up(run_cli):
    result = run_cli("plan", "resnet18", "--batch", "8", "--dtype", "fp16", "--optimizer",
                     "adam", "--input", "3x160x160", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    parts = ("weights_bytes", "buffers_bytes", "gradients_bytes", "optimizer_bytes",
             "saved_activation_bytes")
    assert data["total_bytes"] == sum(data[key] for key in parts)
    assert data["optimizer_bytes"] == 2 * data["weights_bytes"] == 2 * 2 * 11_689_512
    assert data["input"] == [3, 160, 160] and data["batch"] == 8
    assert data["inference_peak_bytes"] > data["weights_bytes"]
    assert "max_batch" not in data


def test_plan_rich_names_the_max_batch(run_cli):
    result = run_cli("plan", "resnet50", "--batch", "32", "--memory", "80GiB")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # whatever width the console wraps at
    assert "saved activations" in text and "inference peak" in text
    best = plan(load_spec("resnet50")).max_batch(80 * 2**30)
    assert f"max batch in 80GiB (85,899,345,920 bytes): {best:,}," in text


@pytest.mark.parametrize("text,value", [
    ("80GiB", 80 * 2**30), ("40GB", 40 * 10**9), ("512MiB", 512 * 2**20), ("100MB", 10**8),
    ("1.5GiB", 3 * 2**29), (" 2 gib ", 2 * 2**30), ("64kib", 65536), ("1000", 1000)])
def test_memory_sizes(text, value):
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["12XB", "GiB", "-1GiB", "0GB", "1e3MB", ""])
def test_bad_memory_sizes_are_one_clear_error(run_cli, text):
    with pytest.raises(ArchcalcError):
        parse_memory(text)
    result = run_cli("plan", "resnet18", "--memory", text)
    assert result.exit_code == 2
    assert "memory size" in result.output and "Traceback" not in result.output


def test_plan_imports_neither_torch_nor_sympy():
    trace = subprocess.run([sys.executable, "-X", "importtime", "-m", "archcalc", "plan",
                            "densenet121", "--memory", "80GiB"],
                           capture_output=True, text=True, check=True).stderr
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in trace.splitlines() if line.startswith("import time:") and "|" in line}
    assert "archcalc" in names
    assert not names & {"torch", "sympy", "numpy"}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(max_layers=5, max_side=40))
def test_random_specs_match_pytorch(document):
    torch = pytest.importorskip("torch")
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    spec = parse_spec(yaml.safe_dump(document, sort_keys=False), "random.yaml")
    model = build_module(spec)
    example = torch.randn(2, *spec.input)
    assert plan(spec, batch=2, device="cpu").saved_activation_bytes == \
        saved_tensor_bytes(model, example)
    assert plan(spec, batch=2).inference_activation_peak_bytes == \
        inference_peak_bytes(model.eval(), example)


DROPOUT_SPEC = """archcalc: 1
name: dropout_{name}
input: [2, 8, 8]
layers:
  - conv: {{out: 3, kernel: 3}}
  - dropout: {{p: {p}}}
  - conv: {{out: 4, kernel: 1}}
"""


@pytest.mark.parametrize("probability", [0.0, 0.3, 1.0])
def test_dropout_saves_what_pytorch_saves_in_training(probability):
    # Measured: p = 0 returns the input itself (nothing saved, no new tensor); p = 1
    # multiplies by a zero scalar and keeps that one element; otherwise the CPU keeps a
    # noise tensor of the input's size (CUDA a bool mask).
    torch = pytest.importorskip("torch")
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import inference_peak_bytes, saved_tensor_bytes

    spec = parse_spec(DROPOUT_SPEC.format(name=str(probability).replace(".", "_"),
                                          p=probability), "dropout.yaml")
    model = build_module(spec)
    for batch in (1, 2, 3):
        example = torch.randn(batch, *spec.input)
        assert plan(spec, batch=batch, device="cpu").saved_activation_bytes == \
            saved_tensor_bytes(model.train(), example), batch
        assert plan(spec, batch=batch).inference_activation_peak_bytes == \
            inference_peak_bytes(model.eval(), example), batch
    image, feature = 2 * 8 * 8 * 4, 3 * 6 * 6 * 4  # fp32 bytes per image: 2x8x8, 3x6x6
    # By hand, at batch 2: the first conv keeps the image, the second its input (the
    # first conv's output itself when p = 0, else the dropout's new output); 0 < p < 1
    # adds the noise tensor, p = 1 its 4-byte zero once per batch.
    noise = feature if 0 < probability < 1 else 0
    expected = 2 * (image + feature + noise) + (4 if probability == 1 else 0)
    assert plan(spec, batch=2, device="cpu").saved_activation_bytes == expected


@pytest.mark.parametrize("probability", [1.5, -0.1])
def test_dropout_probability_outside_0_1_is_refused_by_check_and_build(run_cli, tmp_path,
                                                                       probability):
    path = tmp_path / "bad_dropout.yaml"
    path.write_text(DROPOUT_SPEC.format(name="bad", p=probability))
    for command in ("check", "build"):
        if command == "build":
            pytest.importorskip("torch", reason="`build` needs torch (`check` was tested)")
        result = run_cli(command, str(path))
        assert result.exit_code == 2, result.output
        assert f"dropout probability p={probability} is not between 0 and 1" in result.output


FROZEN_CASES = [("resnet18", (3, 64, 64)), ("mobilenet_v2", (3, 64, 64)),
                ("vit_b_16", (3, 32, 32)), ("densenet121", (3, 32, 32))]


@pytest.mark.parametrize("name, shape", FROZEN_CASES)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.data_too_large])
@given(data=st.data())
def test_frozen_weights_plan_equals_what_pytorch_keeps(name, shape, data):
    """--freeze-until: gradients and optimizer state only for the trained weights, and
    autograd saves nothing before the first trained node (measured after a real step)."""
    torch = pytest.importorskip("torch")
    from archcalc.analysis.backward import frozen_rows
    from archcalc.torchgraph.builder import build_module
    from archcalc.verify.memory_ref import saved_tensor_bytes

    spec = load_spec(name)
    report = analyze(spec, shape)
    until = data.draw(st.sampled_from([row.path for row in report.layers]))
    model = build_module(spec, shape, init=False)
    for path in frozen_rows(report, until):
        for parameter in model.get_submodule(path).parameters():
            parameter.requires_grad_(False)
    planned = plan(spec, batch=2, device="cpu", report=report, frozen_until=until)
    example = torch.randn(2, *shape)
    assert planned.saved_activation_bytes == saved_tensor_bytes(model, example), until
    trained = [p for p in model.parameters() if p.requires_grad]
    assert planned.gradients_bytes == 4 * sum(p.numel() for p in trained)
    if trained:
        optimizer = torch.optim.SGD(trained, lr=0.1, momentum=0.9)
        model(example).sum().backward()
        optimizer.step()
        momentum = sum(state["momentum_buffer"].numel() for state in optimizer.state.values())
        assert planned.optimizer_bytes == 4 * momentum
