"""The classic zoo (LeNet-5, AlexNet, VGG, GoogLeNet) against independent oracles.

The oracles are the tables of the lecture "Case Study on ConvNets and Train Neural
Networks" (RPI, Lecture 18: its AlexNet layer list, VGG16 memory/params table, VGG Table 2
totals and GoogLeNet Table 1) and hand arithmetic written out here from the layer sizes,
never figures read back from archcalc.
Lecture shapes are H x W x C; archcalc's are (C, H, W).
"""
from __future__ import annotations

from functools import cache

import pytest

from archcalc import analyze, load_spec


@cache
def report(name):
    return analyze(load_spec(name))


def row(name, path):
    matches = [r for r in report(name).rows if r.path == path]
    assert len(matches) == 1, f"{name} has {len(matches)} rows named {path!r}"
    return matches[0]


def chw(hwc):
    """A lecture shape [H x W x C] (or [1 x 1 x F] for FC outputs) as archcalc's shape."""
    height, width, channels = hwc
    return (channels,) if (height, width) == (1, 1) and channels in (4096, 1000) \
        else (channels, height, width)


def table_rows(name):
    """The rows a paper table shows: no flatten (a view with no table row)."""
    return [r for r in report(name).rows if r.kind != "flatten"]


# --- VGG16: the lecture's table, row by row ----------------------------------------------

# (row, lecture shape HxWxC, memory as the lecture multiplies it, weights as it multiplies
# them ("not counting biases"), biases = output channels)
VGG16_LECTURE = [
    ("INPUT", (224, 224, 3), 224 * 224 * 3, 0, 0),
    ("CONV3-64", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 3) * 64, 64),
    ("CONV3-64", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 64) * 64, 64),
    ("POOL2", (112, 112, 64), 112 * 112 * 64, 0, 0),
    ("CONV3-128", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 64) * 128, 128),
    ("CONV3-128", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 128) * 128, 128),
    ("POOL2", (56, 56, 128), 56 * 56 * 128, 0, 0),
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 128) * 256, 256),
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256, 256),
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256, 256),
    ("POOL2", (28, 28, 256), 28 * 28 * 256, 0, 0),
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 256) * 512, 512),
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512, 512),
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512, 512),
    ("POOL2", (14, 14, 512), 14 * 14 * 512, 0, 0),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512, 512),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512, 512),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512, 512),
    ("POOL2", (7, 7, 512), 7 * 7 * 512, 0, 0),
    ("FC", (1, 1, 4096), 4096, 7 * 7 * 512 * 4096, 4096),
    ("FC", (1, 1, 4096), 4096, 4096 * 4096, 4096),
    ("FC", (1, 1, 1000), 1000, 4096 * 1000, 1000),
]
# The lecture's printed figures for a few rows, to be sure the table above is its table.
assert VGG16_LECTURE[1][3] == 1_728 and VGG16_LECTURE[11][3] == 1_179_648
assert VGG16_LECTURE[19][3] == 102_760_448 and VGG16_LECTURE[20][3] == 16_777_216


def test_vgg16_has_one_row_per_lecture_row():
    assert len(table_rows("vgg16")) == len(VGG16_LECTURE)
    kinds = [r.kind for r in table_rows("vgg16")]
    lecture = [label.split("-")[0].replace("POOL2", "maxpool").replace("CONV3", "conv")
               .replace("FC", "fc").replace("INPUT", "input") for label, *_ in VGG16_LECTURE]
    assert kinds == lecture


@pytest.mark.parametrize("index", range(len(VGG16_LECTURE)),
                         ids=[f"{i}-{r[0]}" for i, r in enumerate(VGG16_LECTURE)])
def test_vgg16_row_equals_lecture(index):
    label, shape, memory, weights, biases = VGG16_LECTURE[index]
    got = table_rows("vgg16")[index]
    assert got.output_shape == chw(shape), label
    assert got.activations == memory, label
    assert got.params == weights + biases, label


def test_vgg16_totals():
    totals = report("vgg16").totals
    assert totals["params"] == 138_357_544
    assert totals["params"] == sum(w + b for *_, w, b in VGG16_LECTURE)
    # the lecture's "TOTAL params: 138M" holds (with or without biases)
    assert round(totals["params"] / 1e6) == 138
    assert round(sum(w for *_, w, _ in VGG16_LECTURE) / 1e6) == 138


def test_vgg16_memory_total_is_not_the_lectures_24m():
    # The lecture's rows add up to about 15.2M elements; its TOTAL line prints 24M (~93MB).
    row_sum = sum(memory for _, _, memory, _, _ in VGG16_LECTURE)
    assert row_sum == 15_237_608
    totals = report("vgg16").totals
    assert totals["activations"] == row_sum
    assert totals["activation_bytes"] == row_sum * 4  # fp32: 60.95 MB, not 93 MB
    assert round(row_sum / 1e6, 1) == 15.2
    assert abs(row_sum - 24_000_000) > 8_000_000


# --- VGG: Table 1 configurations and Table 2 totals --------------------------------------

# Table 2 prints A,A-LRN | B | C | D | E = 133 | 133 | 134 | 138 | 144 (million).
VGG_PAPER = [
    ("vgg11", "A", 11, 133),
    ("vgg11_lrn", "A-LRN", 11, 133),
    ("vgg13", "B", 13, 133),
    ("vgg16_c", "C", 16, 134),
    ("vgg16", "D", 16, 138),
    ("vgg19", "E", 19, 144),
]


@pytest.mark.parametrize("name,config,weight_layers,millions", VGG_PAPER,
                         ids=[c for _, c, _, _ in VGG_PAPER])
def test_vgg_configuration_matches_paper(name, config, weight_layers, millions):
    rep = report(name)
    assert round(rep.totals["params"] / 1e6) == millions
    assert sum(r.kind in ("conv", "fc") for r in rep.rows) == weight_layers
    assert rep.output == (1000,)
    assert row(name, "pool5").output_shape == (512, 7, 7)
    # every configuration shares the classifier: 7*7*512 -> 4096 -> 4096 -> 1000
    fc_params = (7 * 7 * 512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert sum(r.params for r in rep.rows if r.kind == "fc") == fc_params


def conv_params(cin, cout, k):
    return k * k * cin * cout + cout


def test_vgg_exact_totals_by_hand():
    # conv3-64 ... as (in, out) pairs per configuration, plus the shared classifier
    fc = (7 * 7 * 512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    a = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512),
         (512, 512)]
    b = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512),
         (512, 512), (512, 512), (512, 512)]
    total_a = sum(conv_params(i, o, 3) for i, o in a) + fc
    total_b = sum(conv_params(i, o, 3) for i, o in b) + fc
    total_c = total_b + conv_params(256, 256, 1) + 2 * conv_params(512, 512, 1)
    total_d = total_b + conv_params(256, 256, 3) + 2 * conv_params(512, 512, 3)
    total_e = total_d + conv_params(256, 256, 3) + 2 * conv_params(512, 512, 3)
    assert report("vgg11").totals["params"] == total_a == 132_863_336
    assert report("vgg11_lrn").totals["params"] == total_a
    assert report("vgg13").totals["params"] == total_b == 133_047_848
    assert report("vgg16_c").totals["params"] == total_c == 133_638_952
    assert report("vgg16").totals["params"] == total_d == 138_357_544
    assert report("vgg19").totals["params"] == total_e == 143_667_240


def test_vgg_c_has_conv1_layers_in_the_last_three_stages():
    for stage, channels, size in ((3, 256, 56), (4, 512, 28), (5, 512, 14)):
        last = row("vgg16_c", f"conv{stage}.2")
        assert last.params == 1 * 1 * channels * channels + channels
        assert last.macs == size * size * channels * channels
        assert last.output_shape == (channels, size, size)


def test_vgg_a_lrn_normalises_after_the_first_conv():
    paths = [r.path for r in table_rows("vgg11_lrn")]
    assert paths[:4] == ["input", "conv1.0", "norm1", "pool1"]
    assert row("vgg11_lrn", "norm1").params == 0
    assert row("vgg11_lrn", "norm1").output_shape == (64, 224, 224)


BN_VARIANTS = [("vgg11_bn", "vgg11"), ("vgg13_bn", "vgg13"), ("vgg16_bn", "vgg16"),
               ("vgg19_bn", "vgg19")]


@pytest.mark.parametrize("bn_name,plain", BN_VARIANTS)
def test_vgg_bn_adds_two_params_and_two_buffers_per_conv_channel(bn_name, plain):
    channels = [r.output_shape[0] for r in report(plain).rows if r.kind == "conv"]
    bn, base = report(bn_name).totals, report(plain).totals
    assert bn["params"] == base["params"] + sum(2 * c for c in channels)
    # running_mean + running_var per channel, one num_batches_tracked per BN
    assert bn["buffers"] == sum(2 * c + 1 for c in channels)
    assert bn["macs"] == base["macs"]
    assert load_spec(bn_name).torchvision == bn_name


def test_vgg16_bn_buffers_by_hand():
    convs = [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    assert report("vgg16_bn").totals["buffers"] == 2 * sum(convs) + len(convs) == 8_461


# --- AlexNet: the lecture's "Full (simplified) AlexNet" ----------------------------------

ALEXNET_LECTURE = [
    ("input", (227, 227, 3)),
    ("conv1", (55, 55, 96)),
    ("pool1", (27, 27, 96)),
    ("norm1", (27, 27, 96)),
    ("conv2", (27, 27, 256)),
    ("pool2", (13, 13, 256)),
    ("norm2", (13, 13, 256)),
    ("conv3", (13, 13, 384)),
    ("conv4", (13, 13, 384)),
    ("conv5", (13, 13, 256)),
    ("pool3", (6, 6, 256)),
    ("fc6", (1, 1, 4096)),
    ("fc7", (1, 1, 4096)),
    ("fc8", (1, 1, 1000)),
]


def test_alexnet_layer_list_equals_lecture():
    got = [(r.path, r.output_shape) for r in table_rows("alexnet")]
    assert got == [(path, chw(shape)) for path, shape in ALEXNET_LECTURE]


def test_alexnet_conv1():
    # (227 - 11) / 4 + 1 = 55; parameters (11*11*3)*96 = 34,848 weights (the lecture's 35K)
    assert (227 - 11) // 4 + 1 == 55
    conv1 = row("alexnet", "conv1")
    assert conv1.output_shape == (96, 55, 55)
    weights = (11 * 11 * 3) * 96
    assert weights == 34_848 and round(weights / 1000) == 35
    assert conv1.params == weights + 96
    assert conv1.macs == 55 * 55 * 96 * (11 * 11 * 3)


def test_alexnet_pool1_has_no_params():
    pool1 = row("alexnet", "pool1")
    assert pool1.output_shape == (96, 27, 27)
    assert pool1.params == 0


def test_alexnet_totals_by_hand():
    convs = (conv_params(3, 96, 11) + conv_params(96, 256, 5) + conv_params(256, 384, 3)
             + conv_params(384, 384, 3) + conv_params(384, 256, 3))
    fcs = (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert report("alexnet").totals["params"] == convs + fcs == 62_378_344


def test_alexnet_lrn_is_the_papers():
    spec = load_spec("alexnet")
    norms = [node for node in spec.root.children if node.path in ("norm1", "norm2")]
    assert len(norms) == 2
    for node in norms:
        assert (node.params["size"], node.params["k"], node.params["alpha"],
                node.params["beta"]) == (5, 2.0, 1e-4, 0.75)


def test_alexnet_torchvision_layout():
    assert load_spec("alexnet_torchvision").torchvision == "alexnet"
    paths = [r.path for r in table_rows("alexnet_torchvision")]
    # torchvision's classifier: Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear
    assert paths[-5:] == ["drop6", "fc6", "drop7", "fc7", "fc8"]
    assert [r.output_shape[0] for r in report("alexnet_torchvision").rows
            if r.kind == "conv"] == [64, 192, 384, 256, 256]
    assert report("alexnet_torchvision").totals["params"] == 61_100_840


# --- GoogLeNet: the paper's Table 1 (the lecture's table) --------------------------------

# (type, output size H x W x C); the folded rows of the spec, flatten left out, in order.
GOOGLENET_LECTURE = [
    ("input", (224, 224, 3)),
    ("conv1", (112, 112, 64)),
    ("pool1", (56, 56, 64)),
    ("conv2", (56, 56, 192)),
    ("pool2", (28, 28, 192)),
    ("inception3a", (28, 28, 256)),
    ("inception3b", (28, 28, 480)),
    ("pool3", (14, 14, 480)),
    ("inception4a", (14, 14, 512)),
    ("inception4b", (14, 14, 512)),
    ("inception4c", (14, 14, 512)),
    ("inception4d", (14, 14, 528)),
    ("inception4e", (14, 14, 832)),
    ("pool4", (7, 7, 832)),
    ("inception5a", (7, 7, 832)),
    ("inception5b", (7, 7, 1024)),
    ("avgpool", (1, 1, 1024)),
    ("dropout", (1, 1, 1024)),
    ("linear", (1, 1, 1000)),
]

# The table's columns: input channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj,
# output side.
INCEPTION_COLUMNS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32, 28),
    "inception3b": (256, 128, 128, 192, 32, 96, 64, 28),
    "inception4a": (480, 192, 96, 208, 16, 48, 64, 14),
    "inception4b": (512, 160, 112, 224, 24, 64, 64, 14),
    "inception4c": (512, 128, 128, 256, 24, 64, 64, 14),
    "inception4d": (512, 112, 144, 288, 32, 64, 64, 14),
    "inception4e": (528, 256, 160, 320, 32, 128, 128, 14),
    "inception5a": (832, 256, 160, 320, 32, 128, 128, 7),
    "inception5b": (832, 384, 192, 384, 48, 128, 128, 7),
}


def googlenet_table_rows():
    return [r for r in report("googlenet").folded(1).rows if r.kind != "flatten"]


def test_googlenet_every_row_output_size_equals_lecture():
    got = [(r.path, r.output_shape) for r in googlenet_table_rows()]
    want = []
    for path, (height, width, channels) in GOOGLENET_LECTURE:
        want.append((path, (channels,) if path == "linear" else (channels, height, width)))
    assert got == want


def test_googlenet_inception_3a_by_hand():
    # 1x1: 192*64; 3x3 reduce: 192*96; 3x3: 3*3*96*128; 5x5 reduce: 192*16;
    # 5x5: 5*5*16*32; pool proj: 192*32
    weights = 192 * 64 + 192 * 96 + 3 * 3 * 96 * 128 + 192 * 16 + 5 * 5 * 16 * 32 + 192 * 32
    biases = 64 + 96 + 128 + 16 + 32 + 32
    assert weights == 163_328 and biases == 368
    macs = weights * 28 * 28
    assert macs == 128_049_152
    # the lecture prints 159K (159.5 units of 1024, truncated) and 128M
    assert weights // 1024 == 159 and round(macs / 1e6) == 128
    block = {r.path: r for r in googlenet_table_rows()}["inception3a"]
    assert block.params == weights + biases
    assert block.macs == macs


@pytest.mark.parametrize("name", list(INCEPTION_COLUMNS))
def test_googlenet_inception_counts_follow_the_table_columns(name):
    cin, n1, r3, n3, r5, n5, proj, side = INCEPTION_COLUMNS[name]
    weights = cin * n1 + cin * r3 + 9 * r3 * n3 + cin * r5 + 25 * r5 * n5 + cin * proj
    biases = n1 + r3 + n3 + r5 + n5 + proj
    block = {r.path: r for r in googlenet_table_rows()}[name]
    assert block.output_shape == (n1 + n3 + n5 + proj, side, side)
    assert block.params == weights + biases
    assert block.macs == weights * side * side


def test_googlenet_depth_two_conv_row():
    # "convolution 3x3/1, 56x56x192, depth 2, #3x3 reduce 64, #3x3 192: 112K params, 360M ops"
    weights = 64 * 64 + 3 * 3 * 64 * 192
    block = {r.path: r for r in googlenet_table_rows()}["conv2"]
    assert block.params == weights + 64 + 192
    assert block.macs == weights * 56 * 56
    assert round(weights / 1024) == 112 and round(block.macs / 1e6) == 360


def test_googlenet_pools_round_up():
    # 112 -> 56 needs ceil mode: floor((112 - 3) / 2) + 1 = 55
    assert (112 - 3) // 2 + 1 == 55
    assert row("googlenet", "pool1").output_shape == (64, 56, 56)


def test_googlenet_torchvision():
    assert load_spec("googlenet_torchvision").torchvision == "googlenet"
    assert report("googlenet_torchvision").totals["params"] == 6_624_904
    # torchvision's "5x5" branch is a 3x3 conv (bias-free BasicConv2d: conv + BN)
    five = row("googlenet_torchvision", "inception3a.branch3.conv")
    assert five.params == 3 * 3 * 16 * 32 + 2 * 32
    assert row("googlenet_torchvision", "maxpool4").output_shape == (832, 7, 7)


# --- LeNet-5 ------------------------------------------------------------------------------

def test_lenet5_by_hand():
    c1 = 5 * 5 * 1 * 6 + 6
    c3 = 5 * 5 * 6 * 16 + 16  # full connectivity, not the paper's partial table
    c5 = 5 * 5 * 16 * 120 + 120
    f6 = 120 * 84 + 84
    out = 84 * 10 + 10
    assert (c1, c3, c5, f6, out) == (156, 2_416, 48_120, 10_164, 850)
    assert report("lenet5").totals["params"] == c1 + c3 + c5 + f6 + out == 61_706
    shapes = [(r.path, r.output_shape) for r in table_rows("lenet5")]
    assert shapes == [("input", (1, 32, 32)), ("c1", (6, 28, 28)), ("s2", (6, 14, 14)),
                      ("c3", (16, 10, 10)), ("s4", (16, 5, 5)), ("c5", (120, 1, 1)),
                      ("f6", (84,)), ("output", (10,))]
    assert report("lenet5").totals["macs"] == (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150
                                               + 120 * 400 + 120 * 84 + 84 * 10)


# --- every classic spec: well-formed ------------------------------------------------------

CLASSIC = ["lenet5", "alexnet", "alexnet_torchvision", "vgg11", "vgg11_lrn", "vgg13", "vgg16",
           "vgg16_c", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "googlenet",
           "googlenet_torchvision"]


@pytest.mark.parametrize("name", CLASSIC)
def test_classic_spec_states_its_source_and_verified_totals(name):
    spec = load_spec(name)
    assert spec.name == name and spec.title and spec.source
    for key in ("output", "params", "macs"):
        assert key in spec.expect, f"{name} has no file-level expect.{key}"
    # analyze checks every expect: fact; buffers must be stated whenever there are any
    totals = report(name).totals
    assert spec.expect.get("buffers", 0) == totals["buffers"]
