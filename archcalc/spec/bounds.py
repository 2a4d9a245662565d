"""The bounds every spec is held to, in one place (the README's Reliability section lists them).

A spec is hostile until read: each bound below stops one way a short file could make
archcalc hang, exhaust memory, or fail inside Python instead of with an ArchcalcError
naming the file, line and node. Every bound is far above what real networks use (the
largest bundled spec, googlenet.yaml, is 5 KB and 566 YAML values; the widest layer in
the zoo has 4,096 channels and the largest kernel is 11), and each has a spec in
``tests/bad_specs/`` that passes it.
"""
from __future__ import annotations

# --- reading the YAML (spec/yamlsource.py, spec/loader.py) ------------------------------
MAX_SPEC_BYTES = 1 << 20  # read at most this much: the path may be a huge file
MAX_YAML_DEPTH = 64  # nested mappings and lists (PyYAML composes recursively)
MAX_YAML_VALUES = 50_000  # scalars, lists and mappings: ~90x googlenet.yaml
MAX_ALIAS_VALUES = 10_000  # values that aliases may add by repeating what they name
# Digits of an integer literal. Python refuses to convert more than 4,300 digits
# (sys.int_info.default_max_str_digits) with a ValueError; no spec value needs 19.
MAX_INT_DIGITS = 18

# --- expressions (spec/expr.py) ---------------------------------------------------------
MAX_EXPRESSION = 200  # characters: expressions are short, and parsing is recursive
# Any intermediate numerator or denominator. Template arguments can multiply through
# nested templates (`a: "$a*$a"` 30 levels deep makes 3**(2**30): 500 million digits).
MAX_EXPRESSION_VALUE = 1 << 62

# --- layer parameters (spec/params.py, spec/expr.py ChannelExpr) ------------------------
MAX_CHANNELS = 1 << 20  # channels, features, groups, LRN size: 1,048,576
MAX_SPATIAL = 1 << 16  # input side, kernel, stride, pad, dilation, window: 65,536

# --- expansion (spec/expand.py) ---------------------------------------------------------
MAX_REPEAT = 10_000
MAX_NODES = 20_000  # 12x preact_resnet1001's 1,680 nodes; an explosion must fail fast
# Items and repeat copies looked at while expanding, those a `when: false` drops too
# (preact_resnet1001: 2,673).
MAX_EXPANSION_ITEMS = 100_000
MAX_TEMPLATE_DEPTH = 32
MAX_NESTING = 50  # nodes inside nodes (branches, template calls, repeats)

# --- template libraries (spec/library.py) -----------------------------------------------
# Files one spec may read through `use:` (each held to the reading bounds above); the zoo's
# specs use one each.
MAX_LIBRARY_FILES = 32
