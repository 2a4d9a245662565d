"""Rewriting the zoo onto the shared template library (specs/library/) changed no model.

tests/data/zoo_rows.json was written from the zoo as it stood before the rewrite, each
spec written out in full: for every bundled model, every analysis row (path, kind, output
shape, params, buffers, MACs, FLOPs, activations) and a SHA-256 of the expanded graph as
`archcalc expand` writes it (input, every node with its parameters, expect: and paper:).
A model added later is not in the snapshot and is not checked here; one removed fails.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import archcalc
from archcalc.spec import catalog
from archcalc.spec.writer import to_document

SNAPSHOT = json.loads((Path(__file__).parent / "data" / "zoo_rows.json").read_text())


def graph_digest(spec) -> str:
    document = to_document(spec)
    graph = json.dumps({key: document.get(key) for key in ("input", "layers", "expect", "paper")},
                       sort_keys=True)
    return hashlib.sha256(graph.encode()).hexdigest()


def test_every_snapshot_model_is_still_bundled():
    assert set(SNAPSHOT) <= set(catalog.bundled())


@pytest.mark.parametrize("name", sorted(SNAPSHOT))
def test_model_expands_to_the_same_graph_as_before(name):
    spec = archcalc.load_spec(name)
    rows = [[row.path, row.kind, list(row.output_shape), row.params, row.buffers, row.macs,
             row.flops, row.activations] for row in archcalc.analyze(spec).rows]
    before = SNAPSHOT[name]["rows"]
    for index, (now, then) in enumerate(zip(rows, before)):
        assert now == then, f"{name} row {index}"
    assert len(rows) == len(before)
    assert graph_digest(spec) == SNAPSHOT[name]["graph_sha256"]
