"""Whatever a spec file holds, loading and analysing it ends in a Spec or an ArchcalcError.

The corpus in tests/bad_specs/ holds the cases someone thought of; these properties
draw the rest: any text where a value goes, any YAML tag on it, and bundled specs
with random edits (characters deleted, inserted, replaced, lines swapped). Any other
exception (ValueError from Python's integer limits, a KeyError inside the expander,
OverflowError, RecursionError) is a leak through the spec boundary.
"""
from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis.analyze import analyze
from archcalc.errors import ArchcalcError
from archcalc.spec.loader import parse_spec

REPO = Path(__file__).resolve().parent.parent
ZOO = {name: (REPO / "specs" / f"{name}.yaml").read_text()
       for name in ("lenet5", "alexnet", "resnet18", "googlenet", "densenet121")}
# ARCHCALC_FUZZ_EXAMPLES=5000 for a longer hunt than the suite's default
FUZZ = settings(max_examples=int(os.environ.get("ARCHCALC_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TEMPLATE = """archcalc: 1
name: fuzz
input: [3, 32, 32]
templates:
  block:
    args: {{c: 8}}
    body:
      - conv: {{out: $c, kernel: 3, pad: 1}}
layers:
  - conv: {{out: {a}, kernel: {b}}}
  - block: {{c: {c}, repeat: {d}}}
  - maxpool: {{kernel: 2}}
  - flatten
  - fc: {{out: 10, dropout: {e}}}
"""


def load_and_analyse(text: str) -> None:
    try:
        analyze(parse_spec(text, "fuzz.yaml"), check_expect=True)
    except ArchcalcError as error:
        message = str(error)
        assert message.startswith("error: ") and "Traceback" not in message


SCALAR = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789+-*/()$in ._xoe", max_size=30),
    st.text(max_size=20).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(["!!int", "!!float", "!!str", "!!binary", "!!timestamp", "!!set",
                     "!!bool", "!!null", "!!python/int", "&a", "*a"]).flatmap(
        lambda tag: st.text(alphabet="0123456789abx:-.", max_size=12).map(
            lambda v: f"{tag} {v}")),
)


@FUZZ
@given(a=SCALAR, b=SCALAR, c=SCALAR, d=SCALAR, e=SCALAR)
def test_any_value_ends_in_a_spec_or_an_archcalc_error(a, b, c, d, e):
    load_and_analyse(TEMPLATE.format(a=a, b=b, c=c, d=d, e=e))


EDIT = st.tuples(st.sampled_from(["delete", "insert", "replace", "swap_lines"]),
                 st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1),
                 st.text(alphabet=" \t\n-:{}[],&*!|>'\"#$0123456789abcxyz\x1b\ud800", min_size=1,
                         max_size=4))


def edited(text: str, edits) -> str:
    for kind, where, other, chars in edits:
        at = int(where * len(text))
        if kind == "delete":
            text = text[:at] + text[at + len(chars):]
        elif kind == "insert":
            text = text[:at] + chars + text[at:]
        elif kind == "replace":
            text = text[:at] + chars + text[at + len(chars):]
        else:
            lines = text.split("\n")
            i, j = int(where * (len(lines) - 1)), int(other * (len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@FUZZ
@given(name=st.sampled_from(sorted(ZOO)), edits=st.lists(EDIT, min_size=1, max_size=4))
def test_edited_zoo_specs_end_in_a_spec_or_an_archcalc_error(name, edits):
    load_and_analyse(edited(ZOO[name], edits))
