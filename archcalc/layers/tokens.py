"""Token sequences: the Vision Transformer's layers (Dosovitskiy et al. 2021) as torchvision's
VisionTransformer runs them (torchvision/models/vision_transformer.py).

A per-sample token sequence is the shape (L, D): L tokens of D features. ``tokens`` turns a
C x H x W map into one (the patch embedding is a ``conv`` before it); ``select_token`` takes
one token out as a flat (D,) feature vector for the head.

Receptive field: ``tokens``, ``class_token``, ``position_embedding`` and ``select_token`` do
not move it (a token is one position of the map, the class token adds a position that sees
nothing until attention, and ``select_token`` keeps one position's field, which after an
attention is the whole input). ``attention`` mixes every position into every other.

Memory (measured with saved_tensors_hooks and the live-tensor dispatch mode of
archcalc/verify/memory_ref.py, PyTorch 2.x on the CPU; tests/test_kinds_tokens.py):
``attention`` is ``nn.MultiheadAttention`` called as torchvision does,
``attn(x, x, x, need_weights=False)``. In training it runs
``F.multi_head_attention_forward``, whose attention is ``scaled_dot_product_attention``:
on the CPU the flash kernel (``_scaled_dot_product_flash_attention_for_cpu``), which keeps
q, k, v, the output and a log-sum-exp per head and query, never the L x L weights. At
inference (no autograd, eval) with an even number of heads PyTorch takes the fast path,
one fused ``_native_multi_head_attention``; with an odd number it takes the composite path.
"""
from __future__ import annotations

from archcalc.errors import SpecError
from archcalc.layers import parts
from archcalc.layers.arith import equal, product, require
from archcalc.layers.conv import spatial
from archcalc.layers.registry import Backward, LayerKind, Param, View, register
from archcalc.layers.saved import internal


def sequence(kind: str, ins):
    """The one input as (L, D) tokens, or a ShapeError naming what was found."""
    shape = ins[0]
    require(len(shape) == 2, f"{kind} needs an L x D token sequence, got {list(shape)}",
            "turn a C x H x W map into tokens with `tokens` first")
    return shape


def _strategies():
    # hypothesis is a test dependency: imported only when a test draws an example
    from hypothesis import strategies as st

    return st


def _to_tokens(draw, shape, channels=None):
    """Spec items ending in an (H*W, D) sequence: `tokens`, after a 1x1 conv at times (the
    tokens then need a gradient) or always when ``channels`` asks for D."""
    st = _strategies()
    items: list = []
    if channels is not None or draw(st.booleans()):
        out = channels or draw(st.integers(1, 6))
        items.append({"conv": {"out": out, "kernel": 1}})
        shape = (out,) + tuple(shape[1:])
    return items + ["tokens"], (shape[1] * shape[2], shape[0])


def _examples(build):
    """A kind's ``examples``: a function of the input (C, H, W) returning a hypothesis
    strategy of (spec items, output shape); ``build(draw, shape)`` draws one."""
    def strategy(shape):
        st = _strategies()
        return st.composite(lambda draw: build(draw, shape))()
    return strategy


@register
class Tokens(View):
    """C x H x W map -> (H*W, C) tokens: torchvision's ``x.reshape(n, C, H*W).permute(0, 2,
    1)`` (``VisionTransformer._process_input``), a view.

    Params, MACs, FLOPs, activations: 0. Saved: nothing (a view needs only the shape).
    """

    name = "tokens"
    summary = "C x H x W map to H*W tokens of C features (a view)"

    def output_shape(self, p, ins):
        channels, height, width = spatial(self.name, ins)
        return (height * width, channels)

    def build(self, p, ins, out):
        from archcalc.nn.tokens import TokensModule

        return TokensModule()

    examples = staticmethod(_examples(_to_tokens))


def _class_token_examples(draw, shape):
    items, (length, dim) = _to_tokens(draw, shape)
    return items + ["class_token"], (length + 1, dim)


@register
class ClassTokenKind(LayerKind):
    """Prepends a learnable (1, 1, D) token: (L, D) -> (L + 1, D) (torchvision's
    ``class_token``, concatenated before the encoder).

    Params: D. MACs, FLOPs: 0 (a concatenation). Activations: (L + 1) * D (``torch.cat``
    makes a new tensor). Saved: nothing (cat and expand need only sizes).
    Backward: the input's gradient is a slice (0); the token's, when it trains, the sum
    of its gradient over the batch: D additions per image.
    """

    name = "class_token"
    summary = "prepend a learnable class token: L x D -> (L+1) x D"

    def output_shape(self, p, ins):
        length, dim = sequence(self.name, ins)
        return (length + 1, dim)

    def param_count(self, p, ins, out):
        return ins[0][1]

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, ins[0][1] if weight_grad else 0)

    def saved(self, p, ins, out):
        return ()

    def parts(self, p, ins, out):
        return [parts.Part("cat", outputs=product(out))]

    def build(self, p, ins, out):
        from archcalc.nn.tokens import ClassToken

        return ClassToken(ins[0][1])

    examples = staticmethod(_examples(_class_token_examples))


def _position_examples(draw, shape):
    st = _strategies()
    items, (length, dim) = _to_tokens(draw, shape)
    if draw(st.booleans()):
        items, length = items + ["class_token"], length + 1
    args = {"length": length} if draw(st.booleans()) else {}
    return items + [{"position_embedding": args}], (length, dim)


@register
class PositionEmbeddingKind(LayerKind):
    """Adds a learnable (1, L, D) position embedding (torchvision's
    ``encoder.pos_embedding``).

    ``length`` (optional) pins L: the analysis then refuses any input whose token count
    differs, as torchvision's weights do (their embedding fixes L: 197 for ViT-B/16 at
    224 x 224). Left out, L follows the input, which is how a spec stays valid for every
    input size (the symbolic analysis; torchvision interpolates the embedding only when it
    loads weights for another size).
    Params: L * D. MACs: 0. FLOPs: L * D (the additions). Activations: L * D (a new
    tensor). Saved: nothing (an addition's gradient needs no tensor).
    Backward: the input's gradient is the output's (0); the embedding's, when it trains,
    the sum of its gradient over the batch: L * D additions per image.
    """

    name = "position_embedding"
    summary = "add a learnable L x D position embedding"
    params = (Param("length", "int", 0,
                    help="the token count L the embedding holds (0: the input's)"),)

    def output_shape(self, p, ins):
        length, _ = sequence(self.name, ins)
        if p.length:
            require(equal(length, p.length),
                    f"position_embedding holds {p.length} tokens, the input has {length}",
                    "the position embedding fixes the token count, and with it the input "
                    "size; drop `length` to let it follow the input")
        return ins[0]

    def param_count(self, p, ins, out):
        return ins[0][0] * ins[0][1]

    def flops(self, p, ins, out):
        return ins[0][0] * ins[0][1]

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, ins[0][0] * ins[0][1] if weight_grad else 0)

    def saved(self, p, ins, out):
        return ()

    def parts(self, p, ins, out):
        # x + pos_embedding (archcalc.nn.tokens.PositionEmbedding), a parameter not named weight
        return parts.elementwise("add", ins, out)

    def build(self, p, ins, out):
        from archcalc.nn.tokens import PositionEmbedding

        return PositionEmbedding(ins[0][0], ins[0][1])

    examples = staticmethod(_examples(_position_examples))


def _attention_examples(draw, shape):
    st = _strategies()
    heads = draw(st.integers(1, 4))
    dim = heads * draw(st.integers(1, 3))
    items, (length, dim) = _to_tokens(draw, shape, channels=dim)
    if draw(st.booleans()):
        items, length = items + ["class_token"], length + 1
    return items + [{"attention": {"heads": heads}}], (length, dim)


@register
class Attention(LayerKind):
    """Multi-head self-attention, ``nn.MultiheadAttention(D, heads, dropout,
    batch_first=True)`` called as ``attn(x, x, x, need_weights=False)`` (torchvision's
    EncoderBlock.self_attention), L x D in and out.

    Params: 4*D*D + 4*D (in_proj 3D x D with its bias, out_proj D x D with its bias).
    MACs (bias excluded): 3*L*D*D for the q, k, v projections, L*L*D for Q K^T (every head:
    L*L*(D/heads)), L*L*D for the weighted sum of the values, L*D*D for the out projection:
    4*L*D*D + 2*L*L*D.
    FLOPs: 2 per MAC, 4*L*D for the biases (3*L*D in, L*D out) and 4 per attention score
    (heads*L*L scores: the 1/sqrt(D/heads) scaling, the exponential, the sum, the divide of
    the softmax; its running max is not counted).
    Activations: L*D (the output of out_proj, a new tensor).
    Saved for backward (the CPU's flash attention, measured): in_proj's input, a copy of
    the input (L*D: at batch >= 2 the batch-first input is transposed, and ``linear`` copies
    a non-contiguous 3-D input; at batch 1 the transpose is contiguous and autograd keeps the
    input itself: the same bytes, unless another node keeps that input too, when the plan,
    linear in the batch, counts L*D more than autograd at batch 1 only);
    the q, k, v projections (3*L*D, one storage); the log-sum-exp (heads*L); the attention
    output (L*D, which out_proj keeps as its input: the same storage).
    Inference temporaries (the dispatch mode): with an even number of heads the fused fast
    path shows only its output: none; with an odd number the composite path peaks at
    in_proj's product and its biased copy (6*L*D) beside the input: 5*L*D beyond an output.
    Receptive field: every output sees every position: a window of 2L-1 with stride 1 and
    padding L-1 on each axis of the map the tokens came from (L >= H and L >= W), which
    holds the whole map for every unit (layers/excitation.py does the same for SE).
    Backward: the weights' gradients, when it trains, the projections' MACs once (4*L*D*D);
    the input's gradient, when the input needs one, in_proj's 3*L*D*D; whenever a gradient
    enters the node (its input needs one or it trains), both operands' gradients of Q K^T
    and of the weighted sum (4*L*L*D) and out_proj's input gradient (L*D*D). Elementwise,
    where a gradient enters: 5 per attention score (the softmax's gradient y * (g -
    sum(g * y)): a multiply, an addition into the sum, a subtract, a multiply; and the
    scaling); the biases' gradients 4*L*D when it trains.
    ``dropout`` (on the attention weights) must be 0, as in torchvision's ViT: its memory
    (the math backend's L x L weights and masks) is not modelled yet.
    """

    name = "attention"
    summary = "multi-head self-attention (nn.MultiheadAttention, torchvision's ViT)"
    params = (Param("heads", "positive", help="attention heads; D must be divisible"),
              Param("dropout", "float", 0.0, help="dropout on the attention weights (0)"))

    def output_shape(self, p, ins):
        _, dim = sequence(self.name, ins)
        require(dim % p.heads == 0,
                f"attention: {dim} features are not divisible by heads={p.heads}",
                "nn.MultiheadAttention splits D evenly between its heads")
        if p.dropout != 0:
            raise SpecError(f"attention dropout={p.dropout!r} is not supported yet",
                            hint="torchvision's ViT uses attention_dropout 0.0; put a "
                                 "`dropout` layer after the attention instead")
        return ins[0]

    def param_count(self, p, ins, out):
        dim = ins[0][1]
        return 4 * dim * dim + 4 * dim

    def macs(self, p, ins, out):
        length, dim = ins[0]
        return 4 * length * dim * dim + 2 * length * length * dim

    def flops(self, p, ins, out):
        length, dim = ins[0]
        return (2 * self.macs(p, ins, out) + 4 * length * dim
                + 4 * p.heads * length * length)

    def backward(self, p, ins, out, input_grad, weight_grad):
        length, dim = ins[0]
        entered = input_grad or weight_grad
        inner = length * dim * dim + 4 * length * length * dim if entered else 0
        return Backward((3 * length * dim * dim if input_grad else 0) + inner,
                        4 * length * dim * dim if weight_grad else 0,
                        (5 * p.heads * length * length if entered else 0)
                        + (4 * length * dim if weight_grad else 0))

    def saved(self, p, ins, out):
        length, dim = ins[0]
        return (internal(length * dim), internal(3 * length * dim),
                internal(p.heads * length), internal(length * dim))

    def inference_temporaries(self, p, ins, out):
        length, dim = ins[0]
        return () if p.heads % 2 == 0 else (internal(5 * length * dim),)

    def rf_step(self, p, ins, out):
        length = ins[0][0]
        return ((2 * length - 1, 1, length - 1),) * 2

    def parts(self, p, ins, out):
        length, dim = ins[0]
        return [parts.Part("MultiheadAttention", inputs=length * dim, outputs=length * dim,
                           macs=self.macs(p, ins, out), weights=4 * dim * dim,
                           biases=4 * dim, positions=length, heads=p.heads, length=length,
                           dim=dim)]

    def build(self, p, ins, out):
        from archcalc.nn.tokens import SelfAttention

        return SelfAttention(ins[0][1], p.heads, dropout=p.dropout, batch_first=True)

    examples = staticmethod(_examples(_attention_examples))


def _select_examples(draw, shape):
    st = _strategies()
    items, (length, dim) = _to_tokens(draw, shape)
    index = draw(st.integers(0, length - 1))
    return items + [{"select_token": {"index": index}}], (dim,)


@register
class SelectToken(View):
    """One token of the sequence as a flat (D,) vector: ``x[:, index]`` (torchvision's
    ``x[:, 0]``, the class token, before the head). A view.

    Params, MACs, FLOPs, activations: 0. Saved: nothing.
    """

    name = "select_token"
    summary = "one token of an L x D sequence as D features (a view)"
    params = (Param("index", "int", 0, help="the token's position (0: the class token)"),)

    def output_shape(self, p, ins):
        length, dim = sequence(self.name, ins)
        require(p.index < length,
                f"select_token index {p.index} is beyond the {length} tokens",
                "the first token is index 0")
        return (dim,)

    def build(self, p, ins, out):
        from archcalc.nn.tokens import SelectToken as SelectTokenModule

        return SelectTokenModule(p.index)

    examples = staticmethod(_examples(_select_examples))
