"""`archcalc calibrate`: measure what this machine achieves, and save it as a device profile.

Four workloads, each timed for its share of a few seconds with torch's current thread
count (the one training runs with: all cores, or OMP_NUM_THREADS), the best repeat after
a warm-up taken, as timeit advises on a busy machine:

- matmul: an n x n by n x n product, 2n^3 FLOPs (the ``peak_flops`` of the profile);
- conv: a 3x3 convolution, 64 to 64 channels on 8 x 64 x 56 x 56 (ResNet's layer1),
  forward and backward (grad-input and grad-weight), 6 FLOPs per MAC;
- depthwise: a 3x3 depthwise convolution on 8 x 144 x 56 x 56 (MobileNetV2's first
  expanded blocks), forward and backward, 6 FLOPs per MAC;
- pointwise: a 1x1 convolution from 64 to 256 channels on 8 x 64 x 56 x 56 (ResNet-50's
  first expansion), forward and backward, 6 FLOPs per MAC (PyTorch runs 1x1 convolutions
  on other kernels than 3x3 ones: on one CPU thread at batch < 16 its own GEMM path);
- memory bandwidth: a copy between two 128 MiB tensors (STREAM's copy: read + write),
  what convolutions' and matrix products' tensors and the optimizer stream at;
- the bandwidth training's elementwise kernels reach: a BatchNorm2d and a ReLU, forward
  and backward, on 8 x 128 x 56 x 56 (12.25 MiB a tensor in fp32, above most of the
  cache, below the mmap threshold), with the bytes analysis/roofline.py counts for them
  (10 tensors' worth); and a 3x3/2 max pool's on 8 x 64 x 112 x 112 likewise (on this
  project's CPU both reach a fraction of the copy's rate);
- on a CPU, freshly mapped memory: a fill of a new 64 MiB tensor against the same fill
  of a reused one; the difference (mapping, page faults, unmapping) per byte is the
  profile's ``fresh_page_bandwidth``, applied to tensors above glibc's 32 MiB threshold
  (analysis/roofline.py).

On CUDA the matmul is measured for fp32 (TF32 off), tf32, bf16 and fp16, and the convs
for fp32 and bf16; on a CPU in fp32 only (what `build --train` trains in there).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

import torch

from archcalc.analysis.devices import DeviceProfile, profile_yaml
from archcalc.errors import ArchcalcError


@dataclass(frozen=True)
class Workloads:
    """Sizes of the measured workloads (tests use small ones)."""

    matmul_n: int = 1024
    conv: tuple = (8, 64, 56, 56)          # batch, channels, height, width; 3x3, C -> C
    depthwise: tuple = (8, 144, 56, 56)
    pointwise: tuple = (8, 64, 56, 56)      # 1x1, 64 -> 256: ResNet-50's layer1 expansion
    copy_elements: int = 32 * 2**20        # fp32: 128 MiB per tensor
    norm_elements: int = 8 * 128 * 56 * 56  # 12.25 MiB: above the cache, below 32 MiB
    pool: tuple = (8, 64, 112, 112)         # ResNet's stem pool; 24.5 MiB in fp32
    fresh_elements: int = 16 * 2**20          # 64 MiB: above glibc's mmap threshold


SMALL = Workloads(matmul_n=128, conv=(2, 8, 16, 16), depthwise=(2, 8, 16, 16),
                  pointwise=(2, 8, 16, 16),
                  copy_elements=2**18, norm_elements=8 * 2 * 56 * 56,
                  pool=(2, 4, 16, 16), fresh_elements=2**18)


# A GPU needs larger workloads to reach its rates (an 8192^2 matmul is 1.1 TFLOP).
CUDA = Workloads(matmul_n=8192, conv=(128, 64, 56, 56), depthwise=(128, 144, 56, 56),
                 pointwise=(128, 64, 56, 56),
                 copy_elements=256 * 2**20, norm_elements=128 * 128 * 56 * 56,
                 pool=(128, 64, 112, 112))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds(run, device: torch.device, budget: float) -> float:
    """The fastest of repeated calls of ``run`` after one warm-up, repeating until
    ``budget`` seconds pass (at least two timed calls)."""
    run()
    _sync(device)
    timings: list[float] = []
    deadline = time.perf_counter() + budget
    while len(timings) < 2 or time.perf_counter() < deadline:
        started = time.perf_counter()
        run()
        _sync(device)
        timings.append(time.perf_counter() - started)
    return min(timings)


def matmul_rate(n: int, dtype: torch.dtype, device: torch.device, budget: float) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n ** 3 / best_seconds(lambda: torch.mm(a, b), device, budget)


def conv_rate(shape: tuple, groups_all: bool, dtype: torch.dtype, device: torch.device,
              budget: float) -> float:
    """FLOP/s of a 3x3 convolution's forward and backward (6 FLOPs per MAC)."""
    batch, channels, height, width = shape
    groups = channels if groups_all else 1
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False)
    conv = conv.to(device=device, dtype=dtype)
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)

    def step():
        conv.weight.grad = x.grad = None
        conv(x).sum().backward()

    macs = batch * channels * height * width * 9 * channels // groups
    return 6 * macs / best_seconds(step, device, budget)


def pointwise_rate(shape: tuple, dtype: torch.dtype, device: torch.device,
                   budget: float) -> float:
    """FLOP/s of a 1x1 convolution from C to 4C channels (a bottleneck's expansion),
    forward and backward (6 FLOPs per MAC)."""
    batch, channels, height, width = shape
    conv = torch.nn.Conv2d(channels, 4 * channels, 1, bias=False).to(device=device, dtype=dtype)
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)

    def step():
        conv.weight.grad = x.grad = None
        conv(x).sum().backward()

    macs = batch * height * width * channels * 4 * channels
    return 6 * macs / best_seconds(step, device, budget)


def copy_bandwidth(elements: int, device: torch.device, budget: float) -> float:
    """Bytes/s of a copy: each element read once and written once (STREAM's copy)."""
    source = torch.ones(elements, device=device)
    target = torch.empty_like(source)
    return 2 * elements * 4 / best_seconds(lambda: target.copy_(source), device, budget)


# Bytes the roofline's model (analysis/roofline.py) counts for a BatchNorm and a ReLU on
# N elements in training, in elements: forward, each part reads and writes N (4N);
# backward, each part reads and writes one gradient (4N) and the BN reads its saved
# input (N), the ReLU its saved output (N).
NORM_ACT_ELEMENTS_MOVED = 10


# glibc's largest dynamic mmap threshold on 64-bit Linux (DEFAULT_MMAP_THRESHOLD_MAX,
# 4 * 1024 * 1024 * sizeof(long), malloc/malloc.c; mallopt(3)): above it, every block is
# mapped fresh and unmapped when freed, however often a size repeats.
GLIBC_MMAP_THRESHOLD_MAX = 32 * 2**20


def pool_bandwidth(shape: tuple, device: torch.device, dtype: torch.dtype,
                   budget: float) -> float:
    """Bytes/s that a max pool (3x3, stride 2, pad 1: ResNet's) reaches in training,
    forward and backward, with the bytes analysis/roofline.py counts for a max-pool row
    whose input needs a gradient: forward reads the input and writes the output and the
    int64 indices; backward reads the output's gradient, the saved input and the indices
    and writes the input's gradient."""
    pool = torch.nn.MaxPool2d(3, 2, 1)
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)

    def step():
        x.grad = None
        pool(x).sum().backward()

    batch, channels, height, width = shape
    inputs = x.numel()
    outputs = batch * channels * ((height - 1) // 2 + 1) * ((width - 1) // 2 + 1)
    size = x.element_size()
    moved = (inputs + outputs) * size + outputs * 8 + \
        (outputs + 2 * inputs) * size + outputs * 8
    return moved / best_seconds(step, device, budget)


def fresh_page_bandwidth(elements: int, device: torch.device, budget: float) -> float | None:
    """Bytes/s of the extra time a write into a freshly allocated tensor of ``elements``
    fp32 (above the mmap threshold) takes over the same write into a reused one: the
    mapping, a page fault per page and the unmapping. None where there is no extra."""
    target = torch.empty(elements, device=device)
    reused = best_seconds(lambda: target.fill_(1.0), device, budget / 2)
    fresh = best_seconds(lambda: torch.empty(elements, device=device).fill_(1.0), device,
                         budget / 2)
    extra = fresh - reused
    return elements * 4 / extra if extra > 0 else None


def training_bandwidth(elements: int, device: torch.device, dtype: torch.dtype,
                       budget: float) -> float:
    """Bytes/s that elementwise training kernels achieve: a BatchNorm2d and a ReLU,
    forward and backward, on a (8, C, 56, 56) map of about ``elements`` elements,
    with the bytes the roofline's model counts for them."""
    channels = max(1, elements // (8 * 56 * 56))
    norm = torch.nn.BatchNorm2d(channels).to(device=device, dtype=dtype)
    x = torch.randn(8, channels, 56, 56, device=device, dtype=dtype, requires_grad=True)

    def step():
        norm.weight.grad = norm.bias.grad = x.grad = None
        torch.relu(norm(x)).sum().backward()

    moved = NORM_ACT_ELEMENTS_MOVED * x.numel() * x.element_size()
    return moved / best_seconds(step, device, budget)


def calibrate(device_name: str = "cpu", seconds: float = 4.0,
              workloads: Workloads | None = None) -> DeviceProfile:
    """Measure this machine (``device_name`` cpu or cuda) for about ``seconds``, with
    ``workloads`` (default: Workloads() on a CPU, CUDA on a GPU)."""
    if device_name == "cuda" and not torch.cuda.is_available():
        raise ArchcalcError("--device cuda, but PyTorch sees no CUDA device",
                            hint="calibrate the CPU with --device cpu")
    device = torch.device(device_name)
    if workloads is None:
        workloads = CUDA if device.type == "cuda" else Workloads()
    if device.type == "cuda":
        dtypes = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16,
                  "fp16": torch.float16}
        conv_dtypes = ("fp32", "bf16")
        name = torch.cuda.get_device_name(device)
    else:
        dtypes, conv_dtypes = {"fp32": torch.float32}, ("fp32",)
        name = f"this CPU ({torch.get_num_threads()} threads)"
    cpu = device.type == "cpu"
    share = seconds / (len(dtypes) + 3 * len(conv_dtypes) + 3 + int(cpu))
    peaks, convs, depthwise, pointwise = {}, {}, {}, {}
    for label, dtype in dtypes.items():
        with _tf32(label == "tf32"):
            peaks[label] = matmul_rate(workloads.matmul_n, dtype, device, share)
    for label in conv_dtypes:
        with _tf32(False):
            convs[label] = conv_rate(workloads.conv, False, dtypes[label], device, share)
            depthwise[label] = conv_rate(workloads.depthwise, True, dtypes[label], device,
                                         share)
            pointwise[label] = pointwise_rate(workloads.pointwise, dtypes[label], device,
                                              share)
    # CUDA's caching allocator reuses blocks: no fresh mappings in a training step
    fresh = fresh_page_bandwidth(workloads.fresh_elements, device, share) if cpu else None
    return DeviceProfile(
        name, copy_bandwidth(workloads.copy_elements, device, share), peaks, convs,
        depthwise,
        elementwise_bandwidth=training_bandwidth(workloads.norm_elements, device,
                                                 torch.float32, share),
        pool_bandwidth=pool_bandwidth(workloads.pool, device, torch.float32, share),
        pointwise_flops=pointwise,
        fresh_page_bandwidth=fresh,
        fresh_threshold=GLIBC_MMAP_THRESHOLD_MAX if fresh is not None else None,
        threads=torch.get_num_threads() if device.type == "cpu" else None,
        source=f"archcalc calibrate, torch {torch.__version__}", device=device.type,
        measured=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


class _tf32:
    """TF32 matmuls and convolutions on or off for a block (CUDA only), then restored."""

    def __init__(self, allowed: bool):
        self.allowed = allowed
        self.before = (False, False)

    def __enter__(self):
        self.before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = self.allowed
        torch.backends.cudnn.allow_tf32 = self.allowed
        return self

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.before


def save_profile(profile: DeviceProfile, path, overwrite: bool = False) -> None:
    """Write ``profile`` as YAML atomically; an existing file needs ``overwrite``."""
    from archcalc.files import refuse_existing, write_text_atomic

    if not overwrite:
        refuse_existing(path, "calibrate --out")
    write_text_atomic(path, profile_yaml(profile))
