"""Folding items the way hand-written specs write them: a conv followed by its
BatchNorm and activation is one ``conv`` with ``bn``/``act`` (torchvision's conv1, bn1,
relu read as ResNet's ``conv1``); an activation after a merge is the branch's ``act``;
a map reshaped to rows and then transposed is ``tokens`` (ViT's patches).

Folding changes no count and no state-dict order (a folded conv registers conv then
bn, as torchvision does), only how many rows the spec has. It happens only inside one
sequence, where nothing else reads the tensor between the two items.
"""
from __future__ import annotations

from archcalc.importer.modules import Refusal, activation_kinds


def _body(entry: dict) -> tuple[str, dict]:
    ((kind, body),) = entry.items()
    return kind, body


def _foldable_conv(body: dict) -> bool:
    return not body.get("bn") and body.get("act", "none") == "none"


def fold(items: list) -> list:
    acts = set(activation_kinds().values())
    out: list = []
    for entry in items:
        kind, body = _body(entry)
        if kind == "branch":
            body["paths"] = {name: fold(path) for name, path in body["paths"].items()}
        elif kind == "group":
            body["layers"] = fold(body["layers"])
        previous = _body(out[-1]) if out else (None, {})
        if _fold_into(previous, kind, body, acts):
            continue
        if kind == "_tokens_from_rows" and previous[0] == "_rows":
            out[-1] = {"tokens": {"name": previous[1].get("name", "tokens")}}
            continue
        out.append(entry)
    for entry in out:
        if _body(entry)[0].startswith("_"):
            raise Refusal("a reshape or permute archcalc cannot name (only a map's patches "
                          "to tokens: reshape to (N, C, H*W), then permute(0, 2, 1))")
    return out


def _fold_into(previous: tuple, kind: str, body: dict, acts: set) -> bool:
    """Fold ``kind`` into the previous item when the pair is conv+bn, conv+act or
    merge+act; True when folded."""
    last_kind, last = previous
    if last_kind == "conv" and kind == "bn" and _foldable_conv(last) and \
            last.get("order", "post") == "post":
        last["bn"] = True
        if "eps" in body:
            last["bn_eps"] = body["eps"]
        return True
    if last_kind == "conv" and kind in acts and last.get("act", "none") == "none" and \
            set(body) <= {"name"}:
        last["act"] = kind
        return True
    if last_kind == "branch" and kind in acts and "act" not in last and set(body) <= {"name"}:
        last["act"] = kind
        return True
    return False
