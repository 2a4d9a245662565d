"""Max and average pooling (windowed, global) and adaptive average pooling."""
from __future__ import annotations

from typing import ClassVar

from archcalc.layers import parts
from archcalc.layers.arith import ceildiv, product, require
from archcalc.layers.conv import kernel_extent, spatial
from archcalc.layers.registry import Backward, LayerKind, Param, register
from archcalc.layers.saved import CUDA_INDEX, INDEX_BYTES, INPUT, internal


def pool_out_size(size, kernel, stride, pad, dilation, ceil):
    """PyTorch's pooling_output_shape, including its ceil-mode correction.

    Floor mode: ``(size + 2*pad - extent) // stride + 1``. Ceil mode rounds up
    instead, so the last window may hang over the end, but PyTorch then drops a
    window that would start inside the right padding:
    ``if (out - 1) * stride >= size + pad: out -= 1``. Counting window starts
    ``t*stride`` directly, both limits are floors: ``t*stride <= span + stride - 1``
    (ceil) and ``t*stride <= size + pad - 1`` (start inside the input or the left
    padding); the second is the tighter one exactly when ``pad + stride > extent``,
    a fact of the parameters alone, so the rule needs no case split on the size
    (a chain of such pools stays a nest of floors, not of Piecewise expressions).
    The two limits differ by less than one stride (pad <= extent / 2), which is
    why PyTorch's single decrement is enough and the closed form equals it.
    """
    extent = kernel_extent(kernel, dilation)
    span = size - extent + 2 * pad
    if not ceil:
        return span // stride + 1
    if pad + stride <= extent:
        return ceildiv(span, stride) + 1
    return (size + pad - 1) // stride + 1


def pool_accepts(size, kernel, stride, pad, dilation, ceil):
    """The condition PyTorch's pool2d_shape_check puts on the size: one output or more.

    Floor mode needs the window to fit (``size + 2*pad >= extent``); ceil mode lets the
    one window hang over the end by up to ``stride - 1``. The ceil-mode correction
    never removes the first window (it starts at 0 < size + pad), so this linear
    condition is exactly ``pool_out_size(...) >= 1``.
    """
    slack = stride - 1 if ceil else 0
    return size + 2 * pad + slack >= kernel_extent(kernel, dilation)


class _WindowPool(LayerKind):
    params: ClassVar[tuple[Param, ...]] = (
        Param("kernel", "pair", None, minimum=1),
        Param("stride", "pair", None, minimum=1, help="defaults to the kernel"),
        Param("pad", "pair", 0),
        Param("ceil", "bool", False, help="PyTorch ceil_mode (Caffe rounds up)"),
        Param("global", "bool", False, help="pool each channel to 1x1"),
    )
    has_dilation = False

    def _windows(self, p, ins):
        """(kernel, stride, pad, dilation) per axis, after defaults."""
        _, height, width = ins[0]
        if p["global"]:
            return [(height, 1, 0, 1), (width, 1, 0, 1)]
        dilation = p.dilation if self.has_dilation else (1, 1)
        stride = p.stride or p.kernel
        return [(p.kernel[a], stride[a], p.pad[a], dilation[a]) for a in (0, 1)]

    def output_shape(self, p, ins):
        channels, height, width = spatial(self.name, ins)
        if p["global"]:
            return (channels, 1, 1)
        require(p.kernel is not None, f"{self.name} needs `kernel` (or `global: true`)")
        sizes = []
        for axis, (size, (kernel, stride, pad, dilation)) in enumerate(
                zip((height, width), self._windows(p, ins))):
            # PyTorch's pool2d_shape_check: pad <= kernel // 2 (the kernel, not its
            # extent; pooling_output_shape's own pad <= extent // 2 then always holds)
            require(2 * pad <= kernel,
                    f"padding {pad} is more than half the kernel {kernel}",
                    "PyTorch rejects pooling padding larger than half the kernel")
            overhang = f" and the ceil-mode overhang {stride - 1}" if p.ceil and stride > 1 \
                else ""
            require(pool_accepts(size, kernel, stride, pad, dilation, p.ceil),
                    f"input {'height' if axis == 0 else 'width'} {size} plus padding "
                    f"2*{pad}{overhang} is smaller than the pooling window "
                    f"{kernel_extent(kernel, dilation)}",
                    "the spatial size collapses here: use a larger input")
            sizes.append(pool_out_size(size, kernel, stride, pad, dilation, p.ceil))
        return (channels, sizes[0], sizes[1])

    def rf_step(self, p, ins, out):
        return tuple((kernel_extent(k, d), s, pad) for k, s, pad, d in self._windows(p, ins))


@register
class MaxPool(_WindowPool):
    """Max pooling (``nn.MaxPool2d``; global: ``nn.AdaptiveMaxPool2d(1)``).

    FLOPs: window size - 1 comparisons per output element.
    Backward (the input's gradient): 1 per output element, its gradient added at the
    kept index.
    """

    name = "maxpool"
    summary = "max pooling (window, stride, padding, PyTorch ceil mode, global)"
    params = _WindowPool.params + (Param("dilation", "pair", 1, minimum=1),)
    has_dilation = True

    def flops(self, p, ins, out):
        kh, kw = (w[0] for w in self._windows(p, ins))
        return product(out) * (kh * kw - 1)

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, product(out) if input_grad else 0)

    def saved(self, p, ins, out):
        # max_pool2d_with_indices (and adaptive_max_pool2d): the input and int64 indices
        return (INPUT, internal(product(out), INDEX_BYTES))

    def inference_temporaries(self, p, ins, out):
        return (internal(product(out), CUDA_INDEX),)

    def parts(self, p, ins, out):
        return parts.elementwise("AdaptiveMaxPool2d" if p["global"] else "MaxPool2d", ins, out)

    def build(self, p, ins, out):
        from torch import nn

        if p["global"]:
            return nn.AdaptiveMaxPool2d(1)
        return nn.MaxPool2d(tuple(p.kernel), tuple(p.stride or p.kernel), tuple(p.pad),
                            tuple(p.dilation), ceil_mode=p.ceil)


@register
class AvgPool(_WindowPool):
    """Average pooling (``nn.AvgPool2d``; global: ``nn.AdaptiveAvgPool2d(1)``).

    FLOPs: window size additions (including the divide) per output element.
    Backward (the input's gradient): as the forward, each output's gradient divided and
    added into its window.
    """

    name = "avgpool"
    summary = "average pooling (window, stride, padding, PyTorch ceil mode, global)"
    params = _WindowPool.params + (Param("count_include_pad", "bool", True),)

    def flops(self, p, ins, out):
        kh, kw = (w[0] for w in self._windows(p, ins))
        return product(out) * kh * kw

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, self.flops(p, ins, out) if input_grad else 0)

    def saved(self, p, ins, out):
        # PyTorch computes a pool to 1x1 as a mean over H and W, whose backward keeps
        # no tensor; avg_pool2d keeps its input
        return () if p["global"] else (INPUT,)

    def parts(self, p, ins, out):
        if p["global"]:
            return [parts.adaptive_avg(ins[0], (1, 1))]
        channels, height, width = ins[0]
        stride = p.stride or p.kernel
        sums = [parts.pool_window_sum(size, out[axis + 1], p.kernel[axis], stride[axis],
                                      p.pad[axis], p.count_include_pad)
                for axis, size in enumerate((height, width))]
        return [parts.Part("AvgPool2d", inputs=product(ins[0]), outputs=product(out),
                           windows=channels * sums[0] * sums[1])]

    def build(self, p, ins, out):
        from torch import nn

        if p["global"]:
            return nn.AdaptiveAvgPool2d(1)
        return nn.AvgPool2d(tuple(p.kernel), tuple(p.stride or p.kernel), tuple(p.pad),
                            ceil_mode=p.ceil, count_include_pad=p.count_include_pad)


def adaptive_windows(size, out_size):
    """PyTorch's adaptive windows: [floor(i*n/m), ceil((i+1)*n/m)) for i < m."""
    return [((i * size) // out_size, ceildiv((i + 1) * size, out_size)) for i in range(out_size)]


@register
class AdaptiveAvgPool(LayerKind):
    """Adaptive average pooling to a fixed size (``nn.AdaptiveAvgPool2d``).

    FLOPs: the exact sum of PyTorch's window sizes (windows may overlap).
    Backward (the input's gradient): as the forward, each output's gradient divided and
    added into its window.
    Receptive field: taken as a window of ceil(n/m) at stride floor(n/m),
    exact when m divides n.
    """

    name = "adaptive_avgpool"
    summary = "adaptive average pooling to a fixed output size"
    params = (Param("size", "pair", minimum=1),)

    def output_shape(self, p, ins):
        channels, _, _ = spatial(self.name, ins)
        return (channels, p.size[0], p.size[1])

    def flops(self, p, ins, out):
        _, height, width = ins[0]
        rows = sum(end - start for start, end in adaptive_windows(height, p.size[0]))
        cols = sum(end - start for start, end in adaptive_windows(width, p.size[1]))
        return out[0] * rows * cols

    def rf_step(self, p, ins, out):
        sizes = ins[0][1:]
        return tuple((ceildiv(sizes[a], p.size[a]), sizes[a] // p.size[a], 0) for a in (0, 1))

    def backward(self, p, ins, out, input_grad, weight_grad):
        return Backward(0, 0, self.flops(p, ins, out) if input_grad else 0)

    def saved(self, p, ins, out):
        # to 1x1 PyTorch takes a mean, which keeps nothing; otherwise the input
        return () if tuple(p.size) == (1, 1) else (INPUT,)

    def parts(self, p, ins, out):
        return [parts.adaptive_avg(ins[0], out[1:])]

    def build(self, p, ins, out):
        from torch import nn

        return nn.AdaptiveAvgPool2d(tuple(p.size))
