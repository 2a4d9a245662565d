"""Walk the expanded graph once, calling each kind's rules: shapes, counts, receptive field."""
from __future__ import annotations

from archcalc.analysis.inplace import settle_in_place
from archcalc.analysis.report import Call, ReceptiveField, Report, Row
from archcalc.errors import ArchcalcError, SpecError
from archcalc.layers.arith import product
from archcalc.layers.registry import UnknownCost, get_kind
from archcalc.spec.expr import ChannelExpr
from archcalc.spec.model import Branch, Layer, Params, Sequence, Spec


def resolve_params(params: Params, in_shape) -> Params:
    """Channel expressions (``in/2``) evaluated against this node's input."""
    if not any(isinstance(value, ChannelExpr) for value in params.values()):
        return params
    return Params({key: value.resolve(in_shape[0]) if isinstance(value, ChannelExpr) else value
                   for key, value in params.items()})


def _known(rule, params, ins, out):
    """A rule's value, or None where the kind does not know it (an ``opaque`` node):
    unknown, shown ``?``, never counted as zero."""
    try:
        return rule(params, ins, out)
    except UnknownCost:
        return None


def _rf_start(shape) -> ReceptiveField | None:
    if len(shape) != 3:
        return None
    half = 0.5  # the first pixel's centre
    return ReceptiveField((1, 1), (1, 1), (half, half))


def _widest(fields):
    """The field of the largest size; with symbolic sizes that cannot be ordered, the first."""
    try:
        return max(fields, key=lambda f: f.size, default=None)
    except TypeError:
        return fields[0]


def _half(value):
    # Offsets are whole or half pixels, exact in a float (Fraction arithmetic was a
    # quarter of the analysis time of the 1,348-row preact_resnet1001); symbols halve too.
    return value / 2


def _rf_step(rf: ReceptiveField | None, step) -> ReceptiveField | None:
    if rf is None or step is None:
        return rf
    sizes, strides, offsets = [], [], []
    for axis, (kernel, stride, pad) in enumerate(step):
        jump = rf.stride[axis]
        sizes.append(rf.size[axis] + (kernel - 1) * jump)
        strides.append(jump * stride)
        offsets.append(rf.offset[axis] + (_half(kernel - 1) - pad) * jump)
    return ReceptiveField(tuple(sizes), tuple(strides), tuple(offsets))


def _rf_after(rf, kind, params, ins, out):
    try:
        step = kind.rf_step(params, ins, out)
    except UnknownCost:
        return None  # unknown from here on: no field rather than a wrong one
    return _rf_step(rf, step)


class Analyzer:
    def __init__(self, check_expect: bool):
        self.check_expect = check_expect
        self.rows: list[Row] = []
        self.calls: dict[str, Call] = {}  # node path -> its kind, params, inputs, output

    def expect(self, node, shape) -> None:
        if self.check_expect and node.expect is not None and tuple(node.expect) != tuple(shape):
            raise SpecError(f"expected output {list(node.expect)}, the analysis gives "
                            f"{list(shape)}", where=node.where, node=node.path or None,
                            hint="fix the layer arguments or the `expect:` fact")

    def visit(self, node, shape, rf):
        if isinstance(node, Sequence):
            for child in node.children:
                shape, rf = self.visit(child, shape, rf)
        elif isinstance(node, Branch):
            shape, rf = self.visit_branch(node, shape, rf)
        else:
            shape, rf = self.visit_layer(node, shape, rf)
        self.expect(node, shape)
        return shape, rf

    # Hooks for analyses that run the same rules on other numbers (explain, symbolic).
    def prepare(self, node, params, ins):
        return params, ins

    def settle(self, node, out):
        return out

    def record(self, node, row):
        return row

    def apply(self, node, kind_name: str, params, ins, rf):
        """Run one kind's rules; errors get the node's file, line and path."""
        kind = get_kind(kind_name)
        if kind is None:  # the loader admits registered kinds only; a hand-made Spec may not
            raise SpecError(f"unknown layer kind {kind_name!r}", where=node.where,
                            node=node.path or None)
        try:
            params, ins = self.prepare(node, resolve_params(params, ins[0]), ins)
            shape = kind.output_shape(params, ins)
            # a tuple subclass (layout.ChannelsLast) keeps its layout mark
            out = self.settle(node, shape if isinstance(shape, tuple) else tuple(shape))
            row = Row(node.path, kind_name, out,
                      activations=kind.activations(params, ins, out),
                      params=kind.param_count(params, ins, out),
                      buffers=kind.buffer_count(params, ins, out),
                      macs=_known(kind.macs, params, ins, out),
                      flops=_known(kind.flops, params, ins, out),
                      rf=_rf_after(rf, kind, params, ins, out))
        except ArchcalcError as exc:
            raise exc.located(node.where, node.path) from None
        self.rows.append(self.record(node, row))
        self.calls[node.path] = Call(kind, params, ins, out)
        return out, row.rf

    def visit_layer(self, node: Layer, shape, rf):
        return self.apply(node, node.kind, node.params, [shape], rf)

    def visit_branch(self, node: Branch, shape, rf):
        outs, fields = [], []
        for _, path in node.paths:
            out, path_rf = self.visit(path, shape, rf)
            outs.append(out)
            fields.append(path_rf)
        # The merged unit sees the union of what its paths see; paths share a
        # centre in every zoo network, so the widest path's field is that union.
        widest = _widest([f for f in fields if f is not None])
        return self.apply(node, node.merge, node.merge_params, outs, widest)


def analyze(spec: Spec, input_shape=None, *, batch: int = 1, dtype: str = "fp32",
            check_expect: bool | None = None, analyzer: Analyzer | None = None) -> Report:
    """The per-layer report of ``spec`` at its input (or ``input_shape``).

    ``expect:`` facts are checked when the spec is analysed at its own input.
    """
    shape = tuple(input_shape) if input_shape is not None else spec.input
    if check_expect is None:
        check_expect = input_shape is None or tuple(input_shape) == spec.input
    analyzer = analyzer or Analyzer(check_expect)
    analyzer.check_expect = check_expect
    analyzer.rows.append(Row("input", "input", shape, activations=product(shape),
                             rf=_rf_start(shape)))
    analyzer.visit(spec.root, shape, analyzer.rows[0].rf)
    # in-place ops only where nothing else needs their input (analysis/inplace.py)
    settle_in_place(spec.root, analyzer.calls, analyzer.rows)
    report = Report(spec.name, shape, analyzer.rows, batch, dtype)
    report.calls = analyzer.calls
    if check_expect:
        check_file_expect(spec, report)
    return report


def check_file_expect(spec: Spec, report: Report) -> None:
    from archcalc.errors import Location

    # `expect:` facts are per image (the spec's own input, one image), as `paper:` figures
    # and the report's totals are.
    actual = {"output": list(report.output), **report.totals}
    for key, wanted in spec.expect.items():
        got = actual[key]
        where = spec.raw.get("expect").where_of(key) if spec.raw is not None else \
            Location(spec.file)
        unknown = report.unknown.get(key)
        if unknown:
            label = {"macs": "MACs", "flops": "FLOPs"}[key]
            raise SpecError(f"expected {key} {wanted:,}, but the {label} of {len(unknown)} "
                            f"node(s) are unknown ({', '.join(unknown[:3])}"
                            f"{', ...' if len(unknown) > 3 else ''}): the analysis gives at "
                            f"least {got:,}", where=where, node="expect",
                            hint=f"remove `{key}` from expect: (an opaque node's cost is not "
                                 "known)")
        if (list(wanted) if key == "output" else wanted) != got:
            raise SpecError(f"expected {key} {wanted:,}" if key != "output" else
                            f"expected output {list(wanted)}",
                            where=where, node="expect",
                            hint=f"the analysis gives {got:,}" if key != "output" else
                            f"the analysis gives {got}")
