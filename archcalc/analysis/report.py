"""The analysis result: one row per layer or merge, and totals."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


@dataclass(frozen=True)
class ReceptiveField:
    """Per spatial axis: size in input pixels, effective stride, centre of the first unit."""

    size: tuple
    stride: tuple
    offset: tuple

    def as_dict(self) -> dict:
        return {"size": list(self.size), "stride": list(self.stride),
                "offset": [_plain(v) for v in self.offset]}


def _plain(value):
    """Whole offsets as ints, half-pixel ones as floats (x.5), symbols as they are."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Row:
    path: str
    kind: str
    output_shape: tuple
    activations: int
    params: int = 0
    buffers: int = 0
    macs: int = 0
    flops: int = 0
    rf: ReceptiveField | None = None
    folded: int = 1  # how many layer rows this row stands for (with --depth)

    @property
    def depth(self) -> int:
        return self.path.count(".") + 1


@dataclass
class Report:
    name: str
    input: tuple
    rows: list  # Row, the first is the input
    batch: int = 1
    dtype: str = "fp32"
    totals: dict = field(init=False)
    calls: dict = field(default_factory=dict, repr=False)  # set by analyze()

    def __post_init__(self):
        self.totals = self.compute_totals()

    @property
    def output(self) -> tuple:
        return self.rows[-1].output_shape

    @property
    def layers(self) -> list:
        return self.rows[1:]

    def compute_totals(self) -> dict:
        size = DTYPE_BYTES[self.dtype]
        params = sum(row.params for row in self.rows)
        activations = sum(row.activations for row in self.rows)
        return {
            "params": params,
            "buffers": sum(row.buffers for row in self.rows),
            "macs": sum(row.macs for row in self.rows) * self.batch,
            "flops": sum(row.flops for row in self.rows) * self.batch,
            "activations": activations * self.batch,
            "activation_bytes": activations * self.batch * size,
            "param_bytes": params * size,
        }

    def per_image_totals(self) -> dict:
        """The totals for one image, whatever the batch: what a spec's `expect:` states."""
        return self.totals if self.batch == 1 else replace(self, batch=1).totals

    def folded(self, depth: int | None) -> Report:
        """Rows deeper than ``depth`` path components merged into their ancestor."""
        if not depth:
            return self
        rows, groups = [self.rows[0]], {}
        for row in self.rows[1:]:
            key = ".".join(row.path.split(".")[:depth])
            if key in groups:
                index = groups[key]
                last = rows[index]
                rows[index] = replace(
                    last, kind="block", output_shape=row.output_shape,
                    activations=last.activations + row.activations,
                    params=last.params + row.params, buffers=last.buffers + row.buffers,
                    macs=last.macs + row.macs, flops=last.flops + row.flops, rf=row.rf,
                    folded=last.folded + 1)
            else:
                groups[key] = len(rows)
                rows.append(replace(row, path=key) if key != row.path else row)
        return Report(self.name, self.input, rows, self.batch, self.dtype)
