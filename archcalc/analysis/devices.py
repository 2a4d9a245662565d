"""Device profiles: what a machine can do per second, for the roofline (analysis/roofline.py).

A profile gives the peak arithmetic rate per dtype (FLOP/s, dense: no 2:4 sparsity) and
the memory bandwidth (bytes/s). Optional fields, written by ``archcalc calibrate``, give
achieved rates for 3x3, depthwise and 1x1 convolutions, the bandwidth that
elementwise (BatchNorm, activation) and pooling kernels achieve, which on a CPU is far
below a copy's, the cost of freshly mapped memory, and the torch thread count.

The bundled table holds published datasheet figures (sources beside each entry). Where a
datasheet prints a Tensor Core figure "with sparsity" only, the dense figure is half of
it, as the same datasheets' footnotes say. A user's own profile is a YAML file:

    name: my-gpu
    memory_bandwidth: 2.0e12          # bytes/s streamed (calibrate: a copy)
    elementwise_bandwidth: 1.5e12     # optional: bytes/s of BatchNorm and activation kernels
    pool_bandwidth: 1.0e12            # optional: bytes/s of pooling kernels
    fresh_page_bandwidth: 1.0e9       # optional (CPU): bytes/s into freshly mapped pages
    fresh_threshold: 33554432         # optional (CPU): tensors above this many bytes are
                                      # mapped fresh (glibc's largest mmap threshold)
    peak_flops: {fp32: 19.5e12, tf32: 156e12, bf16: 312e12, fp16: 312e12}
    conv_flops: {fp32: 15e12}         # optional: achieved by convolutions
    depthwise_flops: {fp32: 1e12}     # optional: achieved by depthwise convolutions
    pointwise_flops: {fp32: 12e12}    # optional: achieved by 1x1 convolutions
    threads: 8                        # optional: CPU threads it was measured with
    source: where the figures come from

Numbers may be written with an SI suffix as text ("19.5T", "2.0e12"). No torch here.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from archcalc.errors import ArchcalcError, Location

DTYPES = ("fp32", "tf32", "fp16", "bf16")
RATE_FIELDS = ("peak_flops", "conv_flops", "depthwise_flops", "pointwise_flops")
OPTIONAL_NUMBERS = ("elementwise_bandwidth", "pool_bandwidth", "fresh_page_bandwidth",
                    "fresh_threshold")
KNOWN_FIELDS = ("name", "memory_bandwidth", *OPTIONAL_NUMBERS, *RATE_FIELDS, "threads",
                "source", "device", "measured")
MAX_PROFILE_BYTES = 64 * 1024

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}
_NUMBER = re.compile(r"^\s*([0-9.eE+-]+)\s*([kKmMgGtTpP]?)\s*$")


@dataclass(frozen=True)
class DeviceProfile:
    """Rates of one device; ``conv_flops``, ``depthwise_flops`` and ``pointwise_flops``
    fall back to ``peak_flops`` where not given."""

    name: str
    memory_bandwidth: float                   # bytes/s
    peak_flops: dict                          # dtype -> FLOP/s (matmul, dense)
    conv_flops: dict = field(default_factory=dict)
    depthwise_flops: dict = field(default_factory=dict)
    threads: int | None = None
    source: str = ""
    match: tuple = ()                         # regexes on torch.cuda.get_device_name
    device: str = "cuda"                      # cuda | cpu: what the figures describe
    measured: str = ""                        # when calibrate measured it
    pointwise_flops: dict = field(default_factory=dict)
    elementwise_bandwidth: float | None = None  # bytes/s of BN/activation kernels
    pool_bandwidth: float | None = None       # bytes/s of pooling kernels
    fresh_page_bandwidth: float | None = None  # bytes/s writing freshly mapped memory (CPU)
    fresh_threshold: float | None = None      # bytes above which a tensor is mapped fresh

    def peak(self, dtype: str) -> float:
        """The matmul peak for ``dtype``, or a clear error when the profile has none."""
        if dtype not in self.peak_flops:
            raise ArchcalcError(f"the device profile {self.name!r} has no {dtype} peak",
                                hint=f"it gives {', '.join(sorted(self.peak_flops))}; "
                                     "train with another dtype or add the figure")
        return self.peak_flops[dtype]

    def best(self, dtype: str) -> float:
        """The highest rate the profile gives for ``dtype`` (matmul or convolution): the
        denominator of model FLOPs utilisation. A CPU's convolutions (Winograd kernels
        among them) can outrun its matmul."""
        return max(self.peak(dtype), self.conv_flops.get(dtype, 0.0))

    def rate(self, family: str, dtype: str) -> float:
        """FLOP/s for a layer of ``family`` (matmul, conv, depthwise, pointwise) at
        ``dtype``."""
        peak = self.peak(dtype)
        if family == "pointwise":
            return self.pointwise_flops.get(dtype) or peak
        if family == "depthwise":
            return self.depthwise_flops.get(dtype) or self.conv_flops.get(dtype) or peak
        if family == "conv":
            return self.conv_flops.get(dtype) or peak
        return peak

    def bandwidth(self, kernel: str) -> float:
        """Bytes/s of a kernel class: stream (convolutions' and matrix products' tensors,
        the optimizer), elementwise (BatchNorm, activations, adds) or pool; the last two
        fall back to ``memory_bandwidth`` where not measured."""
        measured = {"elementwise": self.elementwise_bandwidth, "pool": self.pool_bandwidth}
        return measured.get(kernel) or self.memory_bandwidth

    def as_dict(self) -> dict:
        data = {"name": self.name, "device": self.device,
                "memory_bandwidth": self.memory_bandwidth, "peak_flops": dict(self.peak_flops)}
        for key in ("conv_flops", "depthwise_flops", "pointwise_flops"):
            if getattr(self, key):
                data[key] = dict(getattr(self, key))
        for key in OPTIONAL_NUMBERS:
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.threads is not None:
            data["threads"] = self.threads
        if self.measured:
            data["measured"] = self.measured
        if self.source:
            data["source"] = self.source
        return data


def _gpu(name, match, bandwidth, source, **peaks) -> DeviceProfile:
    return DeviceProfile(name, bandwidth, {k: v * 1e12 for k, v in peaks.items()},
                         source=source, match=tuple(match))


# Published figures, TFLOP/s dense and bytes/s. Each source is NVIDIA's datasheet or
# whitepaper named in `source`; "sparse/2" marks a figure printed with sparsity only.
DATASHEETS = {
    # NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf,
    # https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/
    # nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf): A100 80GB SXM column.
    "a100-sxm-80gb": _gpu("NVIDIA A100 SXM 80GB", [r"a100.*sxm.*80"],
                          2.039e12, "NVIDIA A100 datasheet (r4), A100 80GB SXM",
                          fp32=19.5, tf32=156, bf16=312, fp16=312),
    # NVIDIA H100 Tensor Core GPU datasheet (https://resources.nvidia.com/en-us-tensor-core/
    # nvidia-tensor-core-gpu-datasheet), H100 SXM column: TF32 989, BF16/FP16 1,979 with
    # sparsity (sparse/2 dense).
    "h100-sxm": _gpu("NVIDIA H100 SXM", [r"h100(?!.*(pcie|nvl))"], 3.35e12,
                     "NVIDIA H100 datasheet, H100 SXM (tensor figures sparse/2)",
                     fp32=67, tf32=494.5, bf16=989.5, fp16=989.5),
    # NVIDIA H200 Tensor Core GPU datasheet (https://resources.nvidia.com/en-us-data-center-
    # overview-mc/en-us-data-center-overview/hpc-datasheet-sc23-h200), H200 SXM column:
    # the H100 SXM's compute, 4.8 TB/s HBM3e.
    "h200-sxm": _gpu("NVIDIA H200 SXM", [r"h200(?!.*nvl)"], 4.8e12,
                     "NVIDIA H200 datasheet, H200 SXM (tensor figures sparse/2)",
                     fp32=67, tf32=494.5, bf16=989.5, fp16=989.5),
    # NVIDIA V100 Tensor Core GPU datasheet (https://images.nvidia.com/content/technologies/
    # volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf), V100 SXM2: no TF32, no BF16.
    "v100-sxm2": _gpu("NVIDIA V100 SXM2", [r"v100.*sxm2"], 900e9,
                      "NVIDIA V100 datasheet (r5), V100 SXM2", fp32=15.7, fp16=125),
    # NVIDIA T4 Tensor Core GPU datasheet (https://www.nvidia.com/content/dam/en-zz/Solutions/
    # Data-Center/tesla-t4/t4-tensor-core-datasheet-951643.pdf): FP16/FP32 mixed 65 TFLOPS.
    "t4": _gpu("NVIDIA T4", [r"\bt4\b"], 320e9, "NVIDIA T4 datasheet (951643)",
               fp32=8.1, fp16=65),
    # NVIDIA L4 Tensor Core GPU datasheet (https://resources.nvidia.com/en-us-data-center-
    # overview/l4-gpu-datasheet): TF32 120, BF16/FP16 242 with sparsity (sparse/2 dense).
    "l4": _gpu("NVIDIA L4", [r"\bl4\b"], 300e9,
               "NVIDIA L4 datasheet (tensor figures sparse/2)",
               fp32=30.3, tf32=60, bf16=121, fp16=121),
    # NVIDIA Ada Lovelace GPU Architecture whitepaper v2.1, Appendix A, GeForce RTX 4090:
    # FP16/BF16 Tensor with FP32 accumulate 165.2, TF32 Tensor 82.6 (dense), 1,008 GB/s.
    "rtx-4090": _gpu("NVIDIA GeForce RTX 4090", [r"rtx\s*4090"], 1008e9,
                     "NVIDIA Ada Lovelace architecture whitepaper v2.1, RTX 4090",
                     fp32=82.6, tf32=82.6, bf16=165.2, fp16=165.2),
}


def datasheet_for(device_name: str) -> DeviceProfile | None:
    """The bundled profile whose patterns match a CUDA device's name, or None."""
    lowered = device_name.lower()
    for profile in DATASHEETS.values():
        if any(re.search(pattern, lowered) for pattern in profile.match):
            return profile
    return None


def find_profile(name_or_path: str) -> DeviceProfile:
    """A bundled profile by key (``h100-sxm``) or a user's YAML file by path."""
    if name_or_path in DATASHEETS:
        return DATASHEETS[name_or_path]
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return load_profile(path)
    raise ArchcalcError(f"unknown device profile {name_or_path!r}",
                        hint=f"give a YAML file or one of {', '.join(DATASHEETS)}")


def load_profile(path) -> DeviceProfile:
    """Read and validate a profile YAML; every fault names the file, line and field."""
    from archcalc.spec.yamlsource import YamlMap, read_yaml

    path = Path(path)
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise ArchcalcError("a device profile is a few lines; this file is larger "
                                f"than {MAX_PROFILE_BYTES // 1024} KiB", where=Location(str(path)))
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ArchcalcError("not a text file", where=Location(str(path)),
                            hint="a device profile is YAML text") from None
    except OSError as exc:
        from archcalc.files import os_error

        raise os_error(exc, path, "read") from None
    data = read_yaml(text, str(path))
    if not isinstance(data, YamlMap):
        raise ArchcalcError("a device profile is a mapping (name, memory_bandwidth, "
                            "peak_flops, ...)", where=Location(str(path)))
    return _profile_from(data, str(path))


def _profile_from(data, filename: str) -> DeviceProfile:
    unknown = [key for key in data if key not in KNOWN_FIELDS]
    if unknown:
        raise ArchcalcError(f"unknown field {unknown[0]!r}", where=data.where_of(unknown[0]),
                            hint=f"a profile has {', '.join(KNOWN_FIELDS)}")
    for key in ("memory_bandwidth", "peak_flops"):
        if key not in data:
            raise ArchcalcError(f"missing field {key!r}", where=Location(filename),
                                hint="a profile needs memory_bandwidth (bytes/s) and "
                                     "peak_flops ({fp32: ..., bf16: ...} in FLOP/s)")
    rates = {key: _rates(data, key) for key in RATE_FIELDS if key in data}
    threads = data.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ArchcalcError(f"field 'threads' must be a whole number >= 1, not {threads!r}",
                            where=data.where_of("threads"))
    device = str(data.get("device", "cuda"))
    if device not in ("cuda", "cpu"):
        raise ArchcalcError(f"field 'device' must be cuda or cpu, not {device!r}",
                            where=data.where_of("device"))
    optional = {key: _positive(data[key], data.where_of(key), key)
                for key in OPTIONAL_NUMBERS if key in data}
    return DeviceProfile(str(data.get("name", Path(filename).stem)),
                         _positive(data["memory_bandwidth"], data.where_of("memory_bandwidth"),
                                   "memory_bandwidth"),
                         rates["peak_flops"], rates.get("conv_flops", {}),
                         rates.get("depthwise_flops", {}), threads,
                         str(data.get("source", "")), device=device,
                         measured=str(data.get("measured", "")),
                         elementwise_bandwidth=optional.get("elementwise_bandwidth"),
                         pool_bandwidth=optional.get("pool_bandwidth"),
                         fresh_page_bandwidth=optional.get("fresh_page_bandwidth"),
                         fresh_threshold=optional.get("fresh_threshold"),
                         pointwise_flops=rates.get("pointwise_flops", {}))


def _rates(data, key: str) -> dict:
    from archcalc.spec.yamlsource import YamlMap

    value = data[key]
    where = data.where_of(key)
    if not isinstance(value, YamlMap) or not value:
        raise ArchcalcError(f"field {key!r} must map dtypes to FLOP/s, e.g. "
                            "{fp32: 19.5e12, bf16: 312e12}", where=where)
    rates = {}
    for dtype, rate in value.items():
        if dtype not in DTYPES:
            raise ArchcalcError(f"field {key!r}: unknown dtype {dtype!r}",
                                where=value.where_of(dtype), hint=f"one of {', '.join(DTYPES)}")
        rates[dtype] = _positive(rate, value.where_of(dtype), f"{key}.{dtype}")
    return rates


def _positive(value, where, name: str) -> float:
    """A positive, finite number; text may carry an SI suffix ("19.5T")."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        match = _NUMBER.match(value)
        if match:
            try:
                number = float(match.group(1)) * _SUFFIX[match.group(2).lower()]
            except ValueError:
                number = None
    if number is None or not math.isfinite(number) or number <= 0:
        raise ArchcalcError(f"field {name!r} must be a positive number, not {value!r}",
                            where=where, hint="e.g. 19.5e12, or 19.5T as text")
    return number


def default_profile_path(device: str) -> Path:
    """Where `archcalc calibrate` saves, and `build --train` looks for, this machine's
    measured profile: $XDG_CONFIG_HOME/archcalc/ (default ~/.config/archcalc/)."""
    import os

    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path("~/.config").expanduser())
    return Path(base) / "archcalc" / f"profile-{device}.yaml"


def profile_yaml(profile: DeviceProfile) -> str:
    """A profile as the YAML ``load_profile`` reads back."""
    import yaml

    header = ("# archcalc device profile: FLOP/s per dtype, memory bandwidth in bytes/s\n")
    return header + yaml.safe_dump(profile.as_dict(), sort_keys=False)
