"""Analysis with symbols for the input size: exact formulas of H and W, and the
conditions an input must meet.

The layer rules are the ordinary ones (``+ - * //`` and ``arith`` helpers);
given sympy integers they build expressions, ``//`` becoming ``floor``. Every
``arith.require`` that sympy cannot settle is recorded as a condition on the
input. Assumptions are applied by substitution before the analysis and undone
after it, so floors that the assumption makes exact disappear:
``H%32==0`` analyses with ``H = 32*h``, then writes the result back in ``H``.
sympy is imported only here, never on the numeric path.
"""
from __future__ import annotations

import math
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sympy

from archcalc.analysis.analyze import Analyzer, analyze
from archcalc.analysis.report import Report
from archcalc.errors import ArchcalcError
from archcalc.layers import arith

MAX_MODULUS = 128
# Bounds on sympy's work: the analysis of the largest zoo spec (preact_resnet1001) takes
# about 3 s; the size classes are a search over moduli, cut off rather than left to run.
ANALYSIS_SECONDS = 30.0
CLASSES_SECONDS = 3.0


def symbol(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, integer=True, positive=True)


def is_symbolic(values) -> bool:
    return any(isinstance(v, sympy.Basic) for v in values)


@dataclass
class Assumptions:
    """Substitutions made before the analysis and their inverse for the results."""

    forward: dict = field(default_factory=dict)
    backward: dict = field(default_factory=dict)
    text: list = field(default_factory=list)
    moduli: dict = field(default_factory=dict)  # symbol name -> required modulus

    def allows_side(self, side: int) -> bool:
        return all(side % modulus == 0 for modulus in self.moduli.values())

    def apply(self, value):
        return value.subs(self.forward) if isinstance(value, sympy.Basic) else value

    def undo(self, value):
        if not isinstance(value, sympy.Basic):
            return value
        return sympy.expand(value.subs(self.backward))


_MULTIPLE = re.compile(r"^\s*([A-Za-z_]\w*)\s*%\s*(\d+)\s*==?\s*0\s*$")
_EQUAL = re.compile(r"^\s*([A-Za-z_]\w*)\s*==?\s*([A-Za-z_]\w*|\d+)\s*$")


def parse_assumptions(items, shape) -> Assumptions:
    """``H=W``, ``H%32==0`` (also ``H%32=0``) and ``H=224``, several per option or
    comma-separated."""
    names = {str(d): d for d in shape if isinstance(d, sympy.Symbol)}
    result = Assumptions()
    texts = [part for item in items for part in item.split(",") if part.strip()]
    for text in texts:
        multiple, equal = _MULTIPLE.match(text), _EQUAL.match(text)
        if multiple:
            name, modulus = multiple.group(1), int(multiple.group(2))
            target = _known(names, name, text)
            if modulus < 1:
                raise ArchcalcError(f"--assume {text!r}: the modulus must be positive")
            base = symbol(f"{name}_{modulus}")  # H = modulus * H_32
            result.forward[target] = modulus * base
            result.backward[base] = target / modulus
            result.moduli[name] = modulus
        elif equal and equal.group(2).isdigit():
            result.forward[_known(names, equal.group(1), text)] = int(equal.group(2))
        elif equal:
            # H=W: W is replaced by H, so results read in the first name
            kept, dropped = (_known(names, name, text) for name in equal.groups())
            result.forward[dropped] = kept
        else:
            raise ArchcalcError(f"cannot read --assume {text!r}",
                                hint="use forms like H=W, H%32==0 or H=224")
        result.text.append(text.strip())
    # Chains such as H=W with W%32==0: apply the substitutions to each other.
    for key in list(result.forward):
        result.forward[key] = sympy.sympify(result.forward[key]).subs(result.forward)
    return result


def _known(names, name, text):
    if name not in names:
        raise ArchcalcError(f"--assume {text!r} names {name!r}, which is not a symbol of "
                            f"the input", hint=f"symbols here: {', '.join(names) or 'none'}")
    return names[name]


@dataclass(frozen=True)
class Condition:
    node: str
    condition: Any  # a sympy relation in the input symbols
    message: str

    def as_dict(self) -> dict:
        return {"node": self.node, "condition": str(self.condition), "message": self.message,
                "free_symbols": sorted(str(s) for s in self.condition.free_symbols)}


class SymbolicAnalyzer(Analyzer):
    def __init__(self):
        super().__init__(check_expect=False)
        self.conditions: list[Condition] = []
        self.node = ""

    def apply(self, node, kind_name, params, ins, rf):
        self.node = node.path  # conditions recorded by this node's rules name it
        return super().apply(node, kind_name, params, ins, rf)

    def collect(self, condition, message, hint):
        self.conditions.append(Condition(self.node, condition, message))


@dataclass
class SymbolicResult:
    report: Report
    conditions: list
    assumptions: Assumptions
    symbols: tuple
    spec: Any = None
    cache: dict = field(default_factory=dict, repr=False)  # derived facts, computed once

    def smallest_search(self):
        """The smallest square input the spec accepts among the sides the assumptions
        allow, from the one exact search (analysis/limits.py); None with symbolic
        channels, on which the answer may depend."""
        from archcalc.analysis.limits import search_smallest_square

        channels = self.report.input[0]
        if self.spec is None or len(self.report.input) != 3 or not isinstance(channels, int):
            return None
        if "smallest" not in self.cache:
            self.cache["smallest"] = search_smallest_square(
                self.spec, channels, allowed=self.assumptions.allows_side)
        return self.cache["smallest"]


class _Expired(BaseException):
    """Raised from the alarm; a BaseException so that no ``except Exception`` inside
    sympy swallows it."""


@contextmanager
def time_limit(seconds: float):
    """Stop sympy after ``seconds`` with a clear error (main thread, POSIX, and only when
    no other interval timer is running; elsewhere the work is not bounded)."""
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise ArchcalcError(
            f"the symbolic analysis did not finish within {seconds:g} s",
            hint="its formulas grew too large for sympy; analyse at numbers "
                 "(--input 3x224x224), or add --assume facts (H=W, H%32==0) that remove "
                 "floors") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def analyze_symbolic(spec, shape, *, batch=1, dtype="fp32", assume=(),
                     seconds: float = ANALYSIS_SECONDS) -> SymbolicResult:
    assumptions = parse_assumptions(assume, tuple(shape) + (batch,))
    analyzer = SymbolicAnalyzer()
    token = arith.condition_collector.set(analyzer.collect)
    try:
        with time_limit(seconds):
            report = analyze(spec, tuple(assumptions.apply(d) for d in shape),
                             batch=assumptions.apply(batch), dtype=dtype, check_expect=False,
                             analyzer=analyzer)
            report = _undone(report, assumptions)
            conditions = [Condition(c.node, assumptions.undo(c.condition), c.message)
                          for c in analyzer.conditions]
    finally:
        arith.condition_collector.reset(token)
    symbols = tuple(d for d in tuple(shape) + (batch,) if isinstance(d, sympy.Symbol))
    return SymbolicResult(report, conditions, assumptions, symbols, spec)


def _undone(report, assumptions: Assumptions):
    from dataclasses import replace

    def back(value):
        return assumptions.undo(value)

    rows = [replace(row, output_shape=tuple(back(d) for d in row.output_shape),
                    activations=back(row.activations), macs=back(row.macs),
                    flops=back(row.flops)) for row in report.rows]
    result = Report(report.name, tuple(back(d) for d in report.input), rows,
                    back(report.batch), report.dtype)
    result.totals = {key: back(value) for key, value in result.totals.items()}
    result.batch_totals = {key: back(value) for key, value in result.batch_totals.items()}
    return result


# --- what the conditions allow -------------------------------------------------

def square_spatial_symbols(result: SymbolicResult) -> list:
    return [d for d in result.report.input[1:] if isinstance(d, sympy.Symbol)]


def conditions_hold(result: SymbolicResult, side: int) -> bool | None:
    """Whether every recorded condition holds with all spatial symbols equal to
    ``side``; None when a condition names another symbol (C, N) or there is no
    spatial symbol. The smallest input itself comes from analysis/limits.py: this
    evaluation is the independent check that the conditions say the same."""
    checks = _square_checks(result)
    return None if checks is None else all(bool(check(side)) for check in checks)


def _square_checks(result: SymbolicResult):
    """The conditions as functions of one side (compiled once per result), or None."""
    if "checks" not in result.cache:
        spatial = square_spatial_symbols(result)
        side_symbol = sympy.Symbol("side_", integer=True, positive=True)
        exprs = [c.condition.subs({s: side_symbol for s in spatial}) for c in result.conditions]
        usable = spatial and all(e.free_symbols <= {side_symbol} for e in exprs)
        result.cache["checks"] = [sympy.lambdify(side_symbol, e, modules=["math"])
                                  for e in exprs] if usable else None
    return result.cache["checks"]


def _floor_arguments(result: SymbolicResult, side_symbol):
    spatial = [d for d in result.report.input[1:] if isinstance(d, sympy.Symbol)]
    arguments = set()
    for row in result.report.rows:
        for dim in row.output_shape:
            if isinstance(dim, sympy.Basic):
                for term in dim.atoms(sympy.floor, sympy.ceiling):
                    arguments.add(term.args[0].subs({s: side_symbol for s in spatial}))
    return [sympy.lambdify(side_symbol, arg, modules=["math"]) for arg in arguments
            if arg.free_symbols <= {side_symbol}]


def size_classes(result: SymbolicResult, start: int = 1,
                 seconds: float = CLASSES_SECONDS) -> dict:
    """The sizes ``M*k + r`` (smallest M, then r) for which the arithmetic is exact.

    ``polynomial``: every floor/ceil in the output sizes disappears, so each
    size, and MACs and memory, is a polynomial in k (ResNet-50: multiples of 32).
    ``no_rounding``: no division rounds at all (AlexNet: 32k + 3, as 227 is).
    Both come from the floor and ceiling terms of the symbolic output sizes,
    checked at consecutive sizes of each form from ``start`` up. A form not found
    within ``seconds`` (or a modulus of ``MAX_MODULUS``) is None.
    """
    side_symbol = sympy.Symbol("side_", integer=True, positive=True)
    functions = _floor_arguments(result, side_symbol)
    deadline = time.monotonic() + seconds

    def search(test):
        if not functions:
            return (1, 0)
        for modulus in range(1, MAX_MODULUS + 1):
            if time.monotonic() > deadline:
                return None
            for residue in range(modulus):
                k0 = max(1, (start - residue) // modulus + 1)
                sizes = [modulus * k + residue for k in range(k0, k0 + 4)]
                if all(test([f(size) for size in sizes]) for f in functions):
                    return (modulus, residue)
        return None

    def constant_fraction(values):
        fractions = [value - math.floor(value) for value in values]
        return all(abs(f - fractions[0]) < 1e-9 for f in fractions)

    return {"polynomial": search(constant_fraction),
            "no_rounding": search(lambda values: all(_whole(v) for v in values))}


def _whole(value) -> bool:
    return abs(value - round(value)) < 1e-9


def text(value) -> str:
    return str(value)


def free_symbols(value) -> list:
    if isinstance(value, sympy.Basic):
        return sorted(str(s) for s in value.free_symbols)
    return []
