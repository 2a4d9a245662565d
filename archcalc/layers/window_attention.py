"""Swin's shifted window attention (Liu et al. 2021, "Swin Transformer", section 3.2), as
torchvision's ``ShiftedWindowAttention`` computes it on an (H, W, C) channels-last map.

Its memory is the one rule in the zoo that is not linear in the batch, for two reasons
measured with archcalc/verify/memory_ref.py (tests/test_kinds_windows.py):
- the relative position bias, gathered from its table on every call, and the shift mask,
  built on every call, are tensors of the batch, not of each image;
- ``q @ k^T`` and ``attn @ v`` reshape k and v to three axes, a copy unless the
  (batch x windows) axis or the heads axis has size 1: with one window (Swin-T's last stage
  at 224) a batch of one keeps views where larger batches keep copies.
So besides ``saved`` it has ``saved_at_batch_one`` and writes its inference timeline as
``inference_moments``, read by analysis/memory.py.
"""
from __future__ import annotations

from archcalc.errors import SpecError
from archcalc.layers import parts
from archcalc.layers.arith import ceildiv, product, require, select
from archcalc.layers.layout import TO_CHANNELS_LAST
from archcalc.layers.registry import Backward, LayerKind, Param, register
from archcalc.layers.saved import Saved, internal
from archcalc.layers.windows import channels_last_map

INDEX_BYTES = 8  # relative_position_index is an int64 buffer
BOOL_BYTES = 1  # the shift mask's comparisons (mask != 0, mask == 0)


@register
class WindowAttention(LayerKind):
    """torchvision's ``ShiftedWindowAttention(C, [w, w], [s, s], heads)`` on (H, W, C).

    nW = ceil(H/w) * ceil(W/w) windows of L = w*w tokens after torchvision's zero padding.
    torchvision drops the shift of an axis whose padded size the window covers
    (``if window_size >= pad_H: shift = 0``): with one window along both axes, no roll and
    no mask.
    Params: 4*C*C + 4*C (qkv and proj, with biases) + (2w-1)^2 * heads (the relative
    position bias table). Buffers: L*L (relative_position_index, int64).
    MACs per window: 3*L*C*C (qkv) + L*L*C (Q K^T over the heads) + L*L*C (the weighted
    sum of V) + L*C*C (proj), as multi-head ``attention`` counts them.
    FLOPs: 2 per MAC; per window 4*L*C for the qkv and proj biases and L*C for the scale
    of q; per score (heads*L*L a window) the bias add, softmax's exp, sum and divide (4),
    and the mask add when the windows shift (5).
    Saved for backward (measured): the windowed input (qkv's input), q scaled, the copies
    of k and v the batched matmuls make, the softmax output and proj's input: 5 map-sized
    tensors and the scores; with one head k and v stay views of qkv, which is kept whole
    (6 map-sized tensors); at batch 1 with one window and several heads also that storage.
    """

    name = "window_attention"
    summary = "Swin's (shifted) window attention with relative position bias (torchvision's)"
    params = (Param("heads", "positive", help="attention heads; C must be divisible"),
              Param("window", "positive", 7, help="window side w, 2 or more (7)"),
              Param("shift", "int", 0, help="cyclic shift (0 or w // 2)"))

    def output_shape(self, p, ins):
        _, _, channels = channels_last_map(self.name, ins)
        require(channels % p.heads == 0,
                f"window_attention: {channels} channels are not divisible by heads={p.heads}",
                "each head takes C / heads channels")
        if p.window < 2:
            # every reshape of a one-token window is a view, which changes which tensors
            # the call makes; attention of a token to itself alone is proj(v) anyway
            raise SpecError(f"window_attention window={p.window}: a window must hold at least "
                            "2 x 2 tokens", hint="Swin's windows are 7 x 7")
        if not 0 <= p.shift < p.window:
            raise SpecError(f"window_attention shift={p.shift} is outside 0..{p.window - 1}",
                            hint="Swin shifts every other block by window // 2")
        return ins[0]

    def _grid(self, p, ins):
        """Windows along H and along W after torchvision's padding."""
        height, width, _ = ins[0]
        return ceildiv(height, p.window), ceildiv(width, p.window)

    def _masked(self, p, ins):
        """1 where torchvision rolls the map and adds the shift mask, else 0."""
        rows, cols = self._grid(p, ins)
        if p.shift == 0:
            return 0
        return select(rows * cols > 1, 1, 0)  # one window: both axes unshifted

    def param_count(self, p, ins, out):
        channels = ins[0][2]
        return 4 * channels * channels + 4 * channels + (2 * p.window - 1) ** 2 * p.heads

    def buffer_count(self, p, ins, out):
        return p.window ** 4

    def buffer_bytes(self, p, ins, out, itemsize):
        return p.window ** 4 * INDEX_BYTES

    def macs(self, p, ins, out):
        rows, cols = self._grid(p, ins)
        length, channels = p.window * p.window, ins[0][2]
        return rows * cols * (4 * length * channels * channels + 2 * length * length * channels)

    def flops(self, p, ins, out):
        rows, cols = self._grid(p, ins)
        length, channels = p.window * p.window, ins[0][2]
        per_score = 4 + self._masked(p, ins)
        per_window = 5 * length * channels + per_score * p.heads * length * length
        return 2 * self.macs(p, ins, out) + rows * cols * per_window

    def activations(self, p, ins, out):
        height, width, channels = out
        return height * width * channels

    def backward(self, p, ins, out, input_grad, weight_grad):
        """Per window, as ``attention``'s rule: the weights' 4*L*C*C MACs when it trains;
        qkv's input gradient 3*L*C*C when the input needs one; whenever a gradient enters,
        both operands of Q K^T and of the weighted sum (4*L*L*C) and proj's input (L*C*C).
        Elementwise where a gradient enters: 4 per score (the softmax's gradient) and L*C
        (q's scale); when it trains, the biases' 4*L*C and the position bias's heads*L*L
        (summed over the windows). Padding, roll and partition pass copies (0)."""
        rows, cols = self._grid(p, ins)
        length, channels, entered = p.window * p.window, ins[0][2], input_grad or weight_grad
        inner = length * channels * channels + 4 * length * length * channels
        scores = p.heads * length * length
        return Backward(
            rows * cols * ((3 * length * channels * channels if input_grad else 0)
                           + (inner if entered else 0)),
            rows * cols * 4 * length * channels * channels if weight_grad else 0,
            rows * cols * ((4 * scores + length * channels if entered else 0)
                           + (4 * length * channels + scores if weight_grad else 0)))

    def saved(self, p, ins, out):
        rows, cols = self._grid(p, ins)
        windowed = rows * cols * p.window * p.window * ins[0][2]
        scores = rows * cols * p.heads * p.window ** 4
        copies = 3 if p.heads > 1 else 4  # q scaled and k, v copies; or q and all of qkv
        return (internal(windowed), internal(copies * windowed), internal(scores),
                internal(windowed))

    def saved_at_batch_one(self, p, ins, out):
        rows, cols = self._grid(p, ins)
        if p.heads == 1 or rows * cols > 1:
            return ()
        return (internal(p.window * p.window * ins[0][2]),)  # qkv whole, not k, v copies

    def inference_moments(self, p, ins, out, batch_one: bool = False):
        return _AttentionTimeline(p, ins, batch_one).moments

    def rf_step(self, p, ins, out):
        # each unit sees its window; the shift in the next block joins neighbouring
        # windows, so, as se and attention do, count the whole map
        return tuple((2 * size - 1, 1, size - 1) for size in ins[0][:2])

    def parts(self, p, ins, out):
        # forward calls shifted_window_attention with its qkv and proj weights (F.linear;
        # the child Linear modules never run), q.matmul(k^T), softmax, attn.matmul(v), on
        # nW windows of L = w*w tokens of C channels
        rows, cols = self._grid(p, ins)
        return [parts.Part("ShiftedWindowAttention", inputs=product(ins[0]),
                           outputs=product(out), macs=self.macs(p, ins, out),
                           positions=rows * cols, heads=p.heads, length=p.window * p.window,
                           dim=ins[0][2])]

    def build(self, p, ins, out):
        from torchvision.models.swin_transformer import ShiftedWindowAttention

        return ShiftedWindowAttention(ins[0][2], [p.window, p.window], [p.shift, p.shift],
                                      p.heads)


class _AttentionTimeline:
    """The tensors torchvision's ``shifted_window_attention`` holds (beyond its input)
    after each allocation of an inference call, statement by statement (numbers only:
    the memory plan is numeric). Map-sized tensors scale with the batch; the gathered
    bias and the mask do not. A reshape copies exactly when PyTorch cannot view it."""

    def __init__(self, p, ins, batch_one: bool):
        height, width, channels = ins[0]
        rows, cols = ceildiv(height, p.window), ceildiv(width, p.window)
        windows, length = rows * cols, p.window * p.window
        self.live: dict[str, Saved] = {}
        self.moments: list[tuple] = []
        shifted = p.shift > 0 and windows > 1
        padded_map = windows * length * channels  # the padded map = the windowed tokens
        scores = windows * p.heads * length * length
        bias = p.heads * length * length
        self._batch("table[index]", bias)
        if p.heads > 1 and length > 1:  # permute(2, 0, 1).contiguous(): a copy
            self._batch("bias", bias)
            self._free("table[index]")
        self._sample("x", padded_map)  # F.pad copies, even with nothing to pad
        if shifted:
            self._replace("x", padded_map)  # torch.roll
        if cols > 1 and p.window > 1:  # the window partition's permute cannot be viewed
            self._replace("x", padded_map)
        self._sample("qkv", 3 * padded_map)
        self._sample("q", padded_map)
        batched_copies = p.heads > 1 and not (batch_one and windows == 1)
        self._matmul("k", padded_map if batched_copies else 0, "attn", scores)
        self._replace("attn", scores)  # + relative_position_bias
        if shifted:
            self._shift_mask(rows, cols, p.window, windows, length)
            self._replace("attn", scores)  # + attn_mask
        self._replace("attn", scores)  # softmax
        self._matmul("v", padded_map if batched_copies else 0, "attn @ v", padded_map)
        if p.heads > 1 and length > 1 and channels > p.heads:  # transpose(1, 2).reshape
            self._sample("heads joined", padded_map)
            self._free("attn @ v")
            self._rename("heads joined", "attn @ v")
        self._free("x")
        self._rename("attn @ v", "x")
        self._replace("x", padded_map)  # proj
        if cols > 1 and p.window > 1:  # the reverse partition
            self._replace("x", padded_map)
        if shifted:
            self._replace("x", padded_map)  # the reverse roll
        # x[:, :H, :W].contiguous() copies a padded map, except a batch of one whose
        # crop is contiguous: padded below only, or one row
        cropped = rows * p.window != height or cols * p.window != width
        if cropped and not (batch_one and (cols * p.window == width or height == 1)):
            self._sample("out", height * width * channels)

    def _add(self, name: str, record: Saved) -> None:
        self.live[name] = record
        self.moments.append(tuple(self.live.values()))

    def _sample(self, name: str, elements, itemsize=None) -> None:
        self._add(name, internal(elements, itemsize))

    def _batch(self, name: str, elements, itemsize=None) -> None:
        self._add(name, Saved("internal", elements, itemsize, per_sample=False))

    def _free(self, name: str) -> None:
        del self.live[name]

    def _rename(self, old: str, new: str) -> None:
        self.live[new] = self.live.pop(old)

    def _replace(self, name: str, elements) -> None:
        """``name = f(name)``: the result is made while the old value is alive."""
        old = self.live[name]
        self._add(name + "'", Saved("internal", elements, old.itemsize, old.per_sample))
        self._free(name)
        self._rename(name + "'", name)

    def _matmul(self, operand: str, copy, result: str, elements) -> None:
        """torch.matmul on 4-D tensors: the operand reshaped to 3-D (``copy`` elements,
        alive during the bmm), the bmm's output, then the copy goes."""
        if copy:
            self._sample(operand + " copy", copy)
        self._sample(result, elements)
        if copy:
            self._free(operand + " copy")

    def _shift_mask(self, rows, cols, window, windows, length) -> None:
        self._batch("mask", rows * window * cols * window)  # x.new_zeros((pad_H, pad_W))
        if cols > 1 and window > 1:  # permute(0, 2, 1, 3).reshape(nW, L): a copy
            self._replace("mask", windows * length)
        self._replace("mask", windows * length * length)  # unsqueeze(1) - unsqueeze(2)
        self._batch("mask != 0", windows * length * length, BOOL_BYTES)
        self._batch("filled", windows * length * length)
        self._free("mask != 0")
        self._batch("mask == 0", windows * length * length, BOOL_BYTES)
        self._batch("filled twice", windows * length * length)
        self._free("mask == 0")
        self._free("filled")
        self._free("mask")
        self._rename("filled twice", "mask")


def _window_attention_examples(shape):
    """``archcalc.testing`` strategy: heads, then channels a multiple of them, a window
    of 2-4 (so small maps pad, and several windows shift) and any shift below it."""
    from hypothesis import strategies as st

    @st.composite
    def items(draw):
        _, height, width = shape
        heads = draw(st.integers(1, 3))
        channels = heads * draw(st.integers(1, 3))
        window = draw(st.integers(2, 4))
        shift = draw(st.integers(0, window - 1))
        return ([{"conv": {"out": channels, "kernel": 1}},
                 {"permute": {"order": TO_CHANNELS_LAST}},
                 {"window_attention": {"heads": heads, "window": window, "shift": shift}}],
                (height, width, channels))

    return items()


WindowAttention.examples = staticmethod(_window_attention_examples)
