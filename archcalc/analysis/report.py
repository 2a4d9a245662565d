"""The analysis result: one row per layer or merge, and totals.

A row's ``macs`` or ``flops`` is None where its kind does not know them (an ``opaque``
node): the totals then sum the known rows and ``Report.unknown`` names the others, so
every renderer says "at least" rather than passing the known part for the whole.

One unit per field: a row's ``activations``, ``macs`` and ``flops`` and the report's
``totals`` are per image, the way a paper's table and a spec's ``expect:`` state them;
``params`` and ``buffers`` belong to the model. Figures for the report's ``batch`` are
asked for by name: ``batch_totals`` and ``row_per_batch``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}

# Totals that scale with the number of images; the others (params, buffers, param_bytes)
# are the model's.
PER_IMAGE_KEYS = ("macs", "flops", "activations", "activation_bytes")


class Call(NamedTuple):
    """What the builder and the memory plan need to instantiate or follow one node
    without re-deriving shapes: its kind, resolved params, input shapes, output shape."""

    kind: Any  # a layers.registry Kind
    params: Any  # spec.model.Params, channel expressions resolved
    inputs: list
    output: tuple


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
    """One node's figures; ``activations``, ``macs`` and ``flops`` are per image."""

    path: str
    kind: str
    output_shape: tuple
    activations: Any  # an int, a Traced int (explain) or a sympy expression (symbolic)
    params: Any = 0
    buffers: Any = 0
    macs: Any = 0  # None: unknown (an opaque node)
    flops: Any = 0  # None: unknown
    rf: ReceptiveField | None = None
    folded: int = 1  # how many layer rows this row stands for (with --depth)

    @property
    def depth(self) -> int:
        return self.path.count(".") + 1


class RowPerBatch(NamedTuple):
    """A row's figures that scale with the images, for a whole batch."""

    activations: Any
    activation_bytes: Any
    macs: Any
    flops: Any


def plus(a, b):
    """a + b, unknown (None) when either is."""
    return None if a is None or b is None else a + b


def times(value, factor):
    return None if value is None else value * factor


def merged(first: Row, second: Row) -> Row:
    """Two consecutive rows as one block row: sums, the second's output and field."""
    return replace(first, kind="block", output_shape=second.output_shape,
                   activations=first.activations + second.activations,
                   params=first.params + second.params, buffers=first.buffers + second.buffers,
                   macs=plus(first.macs, second.macs), flops=plus(first.flops, second.flops),
                   rf=second.rf, folded=first.folded + 1)


def merge_rows(rows: Iterable[Row], group_of: Callable[[str], str | None]) -> list[Row]:
    """Rows with the same ``group_of(path)`` merged into one row named by it; rows whose
    group is None stay as they are. The one folding rule (``--depth`` and ``--paper``)."""
    result: list[Row] = []
    index: dict[str, int] = {}
    for row in rows:
        key = group_of(row.path)
        if key is None:
            result.append(row)
        elif key in index:
            result[index[key]] = merged(result[index[key]], row)
        else:
            index[key] = len(result)
            result.append(replace(row, path=key) if key != row.path else row)
    return result


@dataclass
class Report:
    name: str
    input: tuple
    rows: list  # Row, the first is the input
    batch: Any = 1  # an int, or a sympy symbol in a symbolic analysis
    dtype: str = "fp32"
    totals: dict = field(init=False)  # per image, as the rows
    batch_totals: dict = field(init=False)  # for ``batch`` images
    calls: dict[str, Call] = field(default_factory=dict, repr=False)  # set by analyze()
    # "macs", "flops" -> the rows whose figure is unknown; empty when every one is known
    unknown: dict = field(init=False)

    def __post_init__(self) -> None:
        self.totals, self.batch_totals = self.compute_totals()
        self.unknown = {key: names for key in ("macs", "flops")
                        if (names := [row.path for row in self.rows
                                      if getattr(row, key) is None])}

    @property
    def output(self) -> tuple:
        return self.rows[-1].output_shape

    @property
    def layers(self) -> list:
        return self.rows[1:]

    def compute_totals(self) -> tuple[dict, dict]:
        """(per image, per batch): params, buffers, MACs, FLOPs, activations and bytes."""
        size = DTYPE_BYTES[self.dtype]
        params = sum(row.params for row in self.rows)
        activations = sum(row.activations for row in self.rows)
        # the known rows' sum; Report.unknown names the rest (a lower bound then)
        macs = sum(row.macs for row in self.rows if row.macs is not None)
        flops = sum(row.flops for row in self.rows if row.flops is not None)
        buffers = sum(row.buffers for row in self.rows)

        def totals(batch) -> dict:
            return {"params": params, "buffers": buffers,
                    "macs": macs * batch, "flops": flops * batch,
                    "activations": activations * batch,
                    "activation_bytes": activations * batch * size,
                    "param_bytes": params * size}

        return totals(1), totals(self.batch)

    def row_per_batch(self, row: Row) -> RowPerBatch:
        """``row``'s activations, their bytes at ``dtype``, MACs and FLOPs for the batch."""
        return RowPerBatch(row.activations * self.batch,
                           row.activations * DTYPE_BYTES[self.dtype] * self.batch,
                           times(row.macs, self.batch), times(row.flops, self.batch))

    def with_rows(self, rows: list) -> Report:
        """The same network, input, batch and dtype with other rows (folded ones)."""
        return Report(self.name, self.input, rows, self.batch, self.dtype)

    def folded(self, depth: int | None) -> Report:
        """Rows deeper than ``depth`` path components merged into their ancestor."""
        if not depth:
            return self

        def ancestor(path: str) -> str:
            return ".".join(path.split(".")[:depth])

        return self.with_rows([self.rows[0], *merge_rows(self.rows[1:], ancestor)])
