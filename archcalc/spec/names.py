"""Node names the built module can register: what `check` must refuse so that `build` works.

Every node becomes a submodule named by its local name (``model.layer1``), and a branch's
paths become attributes of its Branch module. PyTorch refuses a child whose name is an
attribute of ``nn.Module`` (``forward``, ``training``, ``to``, ``state_dict``...), and a
path named like one of Branch's own attributes (``act``, ``merge``) would replace it. The
list is written out so that the analysis path never imports torch;
tests/test_inplace.py checks it against the attributes of the torch in use.
"""
from __future__ import annotations

from archcalc.errors import SpecError
from archcalc.spec.model import Branch, Sequence

# Public attributes of nn.Module and nn.Sequential (torch 2.x): no child may take them.
RESERVED = frozenset((
    "T_destination", "add_module", "append", "apply", "bfloat16", "buffers",
    "call_super_init", "children", "compile", "cpu", "cuda", "double", "dump_patches",
    "eval", "extend", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "insert", "ipu", "load_state_dict",
    "modules", "mtia", "named_buffers", "named_children", "named_modules",
    "named_parameters", "parameters", "pop", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty",
    "train", "training", "type", "xpu", "zero_grad",
))
# A branch's paths are attributes of its ParallelPaths module (archcalc/nn) next to
# these; build_module sets these two on the root model.
BRANCH_ATTRIBUTES = frozenset(("act", "merge", "path_names"))
ROOT_ATTRIBUTES = frozenset(("spec_name", "input_shape"))


def module_name_problem(name: str, taken=frozenset()) -> str | None:
    """Why ``name`` cannot name a submodule (``taken``: its parent's own attributes),
    or None."""
    if name.startswith("_"):
        return "names starting with `_` are PyTorch's own module attributes"
    if name in RESERVED:
        return f"`{name}` is an attribute of PyTorch's nn.Module"
    if name in taken:
        return f"`{name}` is an attribute of the module that holds it"
    return None


def check_module_names(root) -> None:
    """A SpecError at the first node or branch path whose name a built module cannot
    register (file, line and node path)."""
    stack = [(child, ROOT_ATTRIBUTES) for child in reversed(root.children)]
    while stack:
        node, taken = stack.pop()
        local = node.path.rsplit(".", 1)[-1]
        problem = module_name_problem(local, taken)
        if problem:
            raise SpecError(f"the name {local!r} cannot name a module: {problem}",
                            where=node.where, node=node.path,
                            hint=f"rename it (for example `{local.strip('_')}_layer`)")
        if isinstance(node, Sequence):
            stack.extend((child, frozenset()) for child in reversed(node.children))
        elif isinstance(node, Branch):
            stack.extend((path, BRANCH_ATTRIBUTES) for _, path in reversed(node.paths))
