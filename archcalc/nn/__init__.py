"""The few ``torch.nn.Module`` classes a built spec needs beyond torch.nn's own.

A leaf package: it imports torch and nothing from archcalc, so layer kinds' ``build()``
import it (inside the function) without reaching the builder in archcalc.torchgraph.
"""
from archcalc.nn.channels import ChannelShuffleModule, ChannelSliceModule
from archcalc.nn.containers import NamedChain, ParallelPaths
from archcalc.nn.layout import LayerScaleModule
from archcalc.nn.pad_shortcut import PadShortcutModule

__all__ = ["ChannelShuffleModule", "ChannelSliceModule", "LayerScaleModule", "NamedChain",
           "PadShortcutModule", "ParallelPaths"]
