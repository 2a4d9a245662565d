"""`archcalc verify`: the analysis against the built module, fvcore and FlopCounterMode."""
from __future__ import annotations

import json
import time

import click

from archcalc.cli import console
from archcalc.cli.options import (
    complete_spec,
    format_option,
    input_option,
    parse_input,
    require_torch,
)


@click.command("verify")
@click.argument("specs", metavar="NAME|PATH...", nargs=-1, shell_complete=complete_spec)
@click.option("--all", "every", is_flag=True, help="verify every bundled spec")
@input_option
@format_option("rich", "json")
def command(specs, every, input_text, fmt):
    """Build each spec in eval mode on CPU, run one forward pass and compare node
    by node: output shapes (forward hooks), activation elements, params and
    buffers per submodule, conv/linear MACs per module (fvcore) and the total
    (FlopCounterMode / 2). Operators fvcore has no rule for (max-pool, add,
    concat) are listed as not counted, not as failures. Then values: the output
    equals the same module with every in-place op turned off, the input is left
    unchanged, no in-place op overwrites a tensor another op read or autograd
    saved, and a training-mode backward pass runs. One line per spec as it
    finishes (on stderr with --format json).

    Exit status 0 when everything agrees, 1 when anything differs.
    """
    require_torch()
    from archcalc.spec.catalog import bundled

    names = list(bundled()) if every else list(specs)
    if not names:
        raise click.UsageError("give NAME|PATH... or --all")
    shape = parse_input(input_text)
    results, failed = {}, []
    for index, name in enumerate(names, start=1):
        started = time.perf_counter()
        checks = _verify_one(name, shape)
        results[name] = checks
        if any(check.status == "mismatch" for check in checks):
            failed.append(name)
        # one line per spec as it finishes (verify --all takes minutes): the verdict on
        # stdout in rich format, progress on stderr in JSON so stdout stays one document
        seconds = time.perf_counter() - started
        if fmt == "json":
            if len(names) > 1:
                verdict = "MISMATCH" if name in failed else "ok"
                console.err().print(f"[{index}/{len(names)}] {verdict} {name} ({seconds:.1f} s)")
        else:
            _print_spec(name, checks, f" ({index}/{len(names)}, {seconds:.1f} s)"
                        if len(names) > 1 else "")
    if fmt == "json":
        console.print_text(json.dumps(
            {name: {"ok": name not in failed, "checks": [c.as_dict() for c in checks]}
             for name, checks in results.items()}, indent=2, default=str))
    elif len(results) > 1:
        console.out().print(f"{len(results) - len(failed)}/{len(results)} specs verified")
    if failed:
        raise click.exceptions.Exit(1)


def _verify_one(name, shape):
    from archcalc.spec.loader import load_spec
    from archcalc.verify.node_checks import verify_spec

    spec = load_spec(name)
    return verify_spec(spec, shape)


def _print_spec(name, checks, timing: str):
    from rich.text import Text

    from archcalc.render.rich_table import Table

    counted = [c for c in checks if c.status != "not counted"]
    skipped = [c.what for c in checks if c.status == "not counted"]
    mismatches = [c for c in checks if c.status == "mismatch"]
    verdict = console.styled("MISMATCH", "red") if mismatches else console.styled("ok", "green")
    line = Text.assemble(verdict, console.safe(
        f" {name}: {len(counted) - len(mismatches)}/{len(counted)} checks agree" +
        (f"; not counted by fvcore (expected): {', '.join(skipped)}" if skipped else "") +
        timing))
    console.out().print(line)
    if mismatches:
        table = Table(header_style="bold")
        for header in ("node", "what", "analysis", "measured"):
            table.add_column(header)
        for check in mismatches:
            table.add_row(check.node, check.what, str(check.expected), str(check.measured))
        console.out().print(table)
