"""`archcalc check`: validate specs and verify their expect: facts."""
from __future__ import annotations

import json

import click

from archcalc.cli import console
from archcalc.cli.options import complete_spec, format_option
from archcalc.errors import ArchcalcError


@click.command("check")
@click.argument("specs", metavar="PATH...", nargs=-1, required=True,
                shell_complete=complete_spec)
@format_option("rich", "json")
def command(specs, fmt):
    """Load each spec, analyse it at its own input and verify every `expect:`
    fact (node output shapes; file-level output, params, MACs...).

    Exit status 0 when all pass, 2 when any spec is invalid. With --format json, one
    document on stdout with each spec's result (an error's file, line, node and hint);
    with --quiet, only the errors.
    """
    results = []
    for name in specs:
        result, text = _check(name)
        results.append(result)
        if fmt != "json":
            _print(result, text)  # as each spec is done
    if fmt == "json":
        from archcalc.render.export import versioned

        ok = all(result["ok"] for result in results)
        console.print_text(json.dumps(versioned("check", {"ok": ok, "results": results}),
                                      indent=2))
    if not all(result["ok"] for result in results):
        raise click.exceptions.Exit(2)


def _check(name: str) -> tuple[dict, str]:
    """One spec's result (facts, params and MACs, or the error's parts) and the error's
    text ("" when it passed)."""
    from archcalc.analysis.analyze import analyze
    from archcalc.cli.problems import problem
    from archcalc.spec.loader import load_spec

    try:
        spec = load_spec(name)
        report = analyze(spec, check_expect=True)
    except ArchcalcError as exc:
        return {"spec": name, "ok": False, "error": problem(exc)}, str(exc)
    facts = len(spec.expect) + _count_node_expects(spec.root)
    result = {"spec": name, "ok": True, "facts": facts, "params": report.totals["params"],
              "macs": report.totals["macs"]}
    if report.unknown.get("macs"):  # opaque nodes: macs is the known part, a lower bound
        result["unknown"] = list(report.unknown["macs"])
    return result, ""


def _print(result: dict, text: str) -> None:
    from archcalc.render import units

    if not result["ok"]:
        console.error(text)
        return
    if console.is_quiet():
        return
    console.out().print(
        f"ok  {result['spec']}: {result['facts']} expect fact(s) hold; "
        f"{units.grouped(result['params'])} params, "
        f"{'at least ' if result.get('unknown') else ''}{units.grouped(result['macs'])} MACs"
        + (f" ({len(result['unknown'])} opaque node(s) unknown)" if result.get("unknown")
           else ""),
        markup=False, soft_wrap=True)  # one line per spec, whatever the path's length


def _count_node_expects(node) -> int:
    from archcalc.spec.model import children_of

    own = 1 if node.expect is not None else 0
    return own + sum(_count_node_expects(child) for child in children_of(node))
