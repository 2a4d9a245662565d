"""One tool's convention: a rule per part (layers/parts.py) and the way the tool prints a
total."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from archcalc.errors import ArchcalcError


@dataclass(frozen=True)
class ToolConvention:
    """``rules`` maps a part's op to the tool's count of it per image; ``zero_ops`` are
    the ops the tool counts as nothing (listed, so that an op missing from both is an
    error, not a silent zero)."""

    name: str
    package: str  # the PyPI package (the `peers` extra)
    tested: str  # the version whose totals the tests reproduce exactly
    quantity: str  # what the tool calls its number
    summary: str  # the rule in one sentence, for captions and the README
    printed: Callable[[int], str]  # the total as the tool prints it
    rules: Mapping[str, Callable] = field(default_factory=dict)
    zero_ops: tuple = ()
    # why the tool fails, for the ops where running it raises instead of counting
    fails_on: Mapping[str, str] = field(default_factory=dict)

    def count(self, part) -> int:
        rule = self.rules.get(part.op)
        if rule is not None:
            return rule(part)
        if part.op in self.zero_ops:
            return 0
        raise ArchcalcError(f"the {self.name} convention has no rule for {part.op!r}",
                            hint="add one to archcalc/analysis/conventions/"
                                 f"{self.name}.py, from the tool's source and a run")
