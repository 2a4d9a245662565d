"""Foreign failures at the training runner's boundary become one ArchcalcError: bad CIFAR
batches (a corpus of damages), damaged images, checkpoints that do not fit the spec,
and any corruption of a checkpoint's bytes (a property over drawn damages)."""
from __future__ import annotations

import errno
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib", reason="a training run writes curves.png")

from archcalc.errors import ArchcalcError  # noqa: E402
from archcalc.train import TrainConfig, train  # noqa: E402
from archcalc.train.checkpoint import load_checkpoint  # noqa: E402
from archcalc.train.data import load_data  # noqa: E402

QUICK = ("--no-checks", "--lr", "0.05")


def batch(**changes):
    data = np.random.default_rng(0).integers(0, 256, (4, 3072), dtype=np.uint8)
    value = {b"batch_label": b"x", b"labels": [0, 1, 2, 9], b"data": data}
    value.update({key.encode(): item for key, item in changes.items()})
    return value


# (name, what data_batch_1 holds, words the message must contain)
CIFAR_DAMAGES = [
    ("label above the classes", batch(labels=[0, 1, 2, 10]), "label 10 of image 3 is outside"),
    ("negative label", batch(labels=[0, -1, 2, 3]), "label -1 of image 1 is outside"),
    ("fractional label", batch(labels=[0, 1.5, 2, 3]), "list of whole numbers"),
    ("boolean label", batch(labels=[0, True, 2, 3]), "list of whole numbers"),
    ("labels as text", batch(labels=b"0123"), "list of whole numbers"),
    ("fewer labels", batch(labels=[0, 1, 2]), "4 images but 3 labels"),
    ("float images", batch(data=np.zeros((4, 3072), np.float32)), "N x 3072 uint8 array"),
    ("short rows", batch(data=np.zeros((4, 3071), np.uint8)),
     "N x 3072 uint8 array, got [4, 3071] uint8"),
    ("flat images", batch(data=np.zeros(3072, np.uint8)), "N x 3072 uint8 array"),
    ("no images", batch(data=np.zeros((0, 3072), np.uint8), labels=[]), "N x 3072 uint8"),
    ("object array", batch(data=np.array([object()] * 4)), "not a CIFAR-10 python batch"),
    ("not a dict", [1, 2, 3], "no dict with b'data' and b'labels'"),
    ("no labels", {b"data": np.zeros((1, 3072), np.uint8)}, "no dict with b'data'"),
]


def write_cifar(folder, first):
    folder.mkdir()
    for index, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        with open(folder / name, "wb") as file:
            pickle.dump(first if index == 0 else batch(), file)


@pytest.mark.parametrize("name, content, words", CIFAR_DAMAGES, ids=[d[0] for d in CIFAR_DAMAGES])
def test_damaged_cifar_batch_is_one_error_naming_the_file(tmp_path, name, content, words):
    write_cifar(tmp_path / "cifar", content)
    with pytest.raises(ArchcalcError) as caught:
        load_data(f"cifar10:{tmp_path / 'cifar'}", (32, 32), 3, 10)
    assert str(caught.value).startswith(f"error: {tmp_path / 'cifar' / 'data_batch_1'}: ")
    assert words in str(caught.value)


def test_bad_cifar_labels_through_the_cli(run_cli, tmp_path):
    write_cifar(tmp_path / "cifar", batch(labels=[0, 1, 2, 10]))
    result = run_cli("build", "lenet5", "--train", "--data", f"cifar10:{tmp_path / 'cifar'}",
                     "--out", tmp_path / "run", *QUICK)
    assert result.exit_code == 2 and "label 10 of image 3 is outside" in result.output
    assert "Traceback" not in result.output


def image_folder(root):
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for index in range(5):
            Image.new("L", (8, 8), 30 * index).save(root / label / f"{index}.png")
    return root


def truncated_png(path):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8))
    image.save(path)
    path.write_bytes(path.read_bytes()[:200])


def wrong_suffix(path):
    path.write_bytes(b"GIF89a" + b"\x00" * 20)


@pytest.mark.parametrize("damage, words, workers", [
    (truncated_png, "cannot read this image (image file is truncated)", "0"),
    (truncated_png, "cannot read this image (image file is truncated)", "1"),  # in a worker
    (wrong_suffix, "cannot read this image", "0")])
def test_damaged_image_is_one_error_naming_it(run_cli, tmp_path, damage, words, workers):
    root = image_folder(tmp_path / "images")
    damage(root / "a" / "9.png")
    result = run_cli("build", "lenet5", "--train", "--data", f"folder:{root}", "--max-steps",
                     "1", "--workers", workers, "--out", tmp_path / "run", *QUICK)
    assert result.exit_code == 2, result.output
    assert f"error: {root / 'a' / '9.png'}: {words}" in result.output
    assert "Traceback" not in result.output


def test_image_bound_holds_with_pils_guard_switched_off(tmp_path, monkeypatch):
    from archcalc.train.images import MAX_IMAGE_PIXELS, read_image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    path = tmp_path / "wide.png"
    Image.new("L", (MAX_IMAGE_PIXELS // 1000 + 1, 1000)).save(path)
    with pytest.raises(ArchcalcError, match="more than the 89,478,485 decoded safely"):
        read_image(path, "L")
    Image.new("L", (MAX_IMAGE_PIXELS // 1000, 1000)).save(path)  # just within: decoded
    assert read_image(path) == "L"


def test_unreadable_folder_and_batch_are_one_error(tmp_path, monkeypatch):
    from pathlib import Path

    root = image_folder(tmp_path / "images")

    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(ArchcalcError, match="permission denied: cannot read"):
        load_data(f"folder:{root}", (32, 32), 1, 10)
    monkeypatch.undo()
    write_cifar(tmp_path / "cifar", batch())
    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ArchcalcError, match="data_batch_1: permission denied"):
        load_data(f"cifar10:{tmp_path / 'cifar'}", (32, 32), 3, 10)


LENET_VARIANT = """\
archcalc: 1
name: lenet_small
input: [1, 32, 32]
layers:
  - conv: {out: C1, kernel: 5, act: tanh, name: c1}
  - avgpool: {kernel: 2, stride: 2}
  - conv: {out: 16, kernel: 5, act: tanh, name: c3}
  - avgpool: {kernel: 2, stride: 2}
  - flatten
  - fc: {out: 10, name: output}
"""


def test_resumed_checkpoint_that_does_not_fit_the_spec(run_cli, tmp_path):
    spec = tmp_path / "lenet_small.yaml"
    spec.write_text(LENET_VARIANT.replace("C1", "6"))
    out = tmp_path / "run"
    assert train(TrainConfig(spec=str(spec), max_steps=1, checks=False, lr=0.05,
                             out=str(out))).status == "trained"
    spec.write_text(LENET_VARIANT.replace("C1", "8"))  # the spec changed since
    result = run_cli("build", spec, "--train", "--resume", out)
    assert result.exit_code == 2, result.output
    assert f"error: {out / 'last.pt'}: the checkpoint's 'c1.conv.weight' has shape " \
           "[6, 1, 5, 5], but the spec builds [8, 1, 5, 5]" in result.output
    # the optimizer's state of another run: same tensors, no momentum buffers
    spec.write_text(LENET_VARIANT.replace("C1", "6"))
    state = load_checkpoint(out / "last.pt")
    state["optimizer"]["param_groups"] = state["optimizer"]["param_groups"] * 2
    torch.save(state, out / "last.pt")
    result = run_cli("build", spec, "--train", "--resume", out)
    assert result.exit_code == 2, result.output
    assert "the checkpoint does not fit this run" in result.output
    # preprocessing for another number of channels
    state = load_checkpoint(out / "last.pt")
    state["preprocess"]["mean"] = torch.zeros(3, 1, 1)
    torch.save(state, out / "last.pt")
    result = run_cli("build", spec, "--train", "--resume", out)
    assert result.exit_code == 2, result.output
    assert f"error: {out / 'last.pt'}: the checkpoint's preprocessing is not valid for data " \
           "with 1 channels" in result.output


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    train(TrainConfig(spec="lenet5", max_steps=1, checks=False, lr=0.05, out=str(out)))
    return (out / "last.pt").read_bytes()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_to_a_checkpoint_is_one_error(checkpoint_bytes, tmp_path, data):
    """Truncations, overwritten byte runs and flipped bytes anywhere in the file: the
    checkpoint loads (a damage inside tensor data changes only values) or the error is
    an ArchcalcError naming the file, never another exception."""
    raw = bytearray(checkpoint_bytes)
    kind = data.draw(st.sampled_from(["truncate", "overwrite", "flip"]))
    start = data.draw(st.integers(0, len(raw) - 1))
    if kind == "truncate":
        del raw[start:]
    elif kind == "overwrite":
        stop = data.draw(st.integers(start + 1, min(len(raw), start + 64)))
        raw[start:stop] = data.draw(st.binary(min_size=stop - start, max_size=stop - start))
    else:
        raw[start] ^= data.draw(st.integers(1, 255))
    path = tmp_path / "last.pt"
    path.write_bytes(bytes(raw))
    try:
        load_checkpoint(path)
    except ArchcalcError as error:
        assert str(error).startswith(f"error: {path}: ")


def test_disk_full_while_saving_weights_leaves_the_old_file(run_cli, tmp_path, monkeypatch):
    target = tmp_path / "lenet.pt"
    assert run_cli("build", "lenet5", "--save", target).exit_code == 0
    before = target.read_bytes()
    real_save = torch.save

    def half_then_full(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)
        file.truncate(100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", half_then_full)
    result = run_cli("build", "lenet5", "--save", target, "--overwrite")
    assert result.exit_code == 2
    assert f"error: {target}: disk full: cannot write this file" in result.output
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.pt"]


def python2_pickle(value) -> bytes:
    """``value`` pickled as Python 2's cPickle wrote the CIFAR-10 batches: protocol 2,
    byte strings as BINSTRING (read back as bytes with encoding='bytes')."""
    import io
    import struct

    class Python2Pickler(pickle._Pickler):
        dispatch = dict(pickle._Pickler.dispatch)

        def save_bytes(self, obj):
            if len(obj) < 256:
                self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
            else:
                self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
            self.memoize(obj)

        dispatch[bytes] = save_bytes

    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(value)
    return buffer.getvalue()


def test_the_distributed_python2_format_is_read(tmp_path):
    folder = tmp_path / "cifar"
    folder.mkdir()
    content = batch()
    blob = python2_pickle(content)
    assert b"_codecs" not in blob and b"numpy" in blob  # as the real files
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(blob)
    data = load_data(f"cifar10:{folder}", (32, 32), 3, 10)
    assert torch.equal(data.val.images.reshape(4, 3072), torch.from_numpy(content[b"data"]))
    assert data.val.labels.tolist() == [0, 1, 2, 9] and len(data.train) == 20
