"""Data the tests write themselves (CIFAR-10 python batches, a folder of images), and
fine-tuning from saved weights: a new head, a converted stem, frozen or slower backbone."""
from __future__ import annotations

import json
import pickle

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib", reason="a training run writes curves.png")

from archcalc.train.checkpoint import load_checkpoint  # noqa: E402
from archcalc.train.data import load_data  # noqa: E402

QUICK = ("--no-checks", "--lr", "0.05")


def write_cifar(folder, per_batch=8):
    folder.mkdir()
    generator = np.random.default_rng(0)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = generator.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in generator.integers(0, 10, per_batch)]
        with open(folder / name, "wb") as file:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * per_batch}, file)
        written[name] = (data, labels)
    return written


def test_cifar10_batches_are_read_in_order(tmp_path):
    written = write_cifar(tmp_path / "cifar")
    data = load_data(f"cifar10:{tmp_path / 'cifar'}", (32, 32), 3, 10)
    assert data.train.images.shape == (40, 3, 32, 32) and len(data.val) == 8
    assert data.channels == 3 and data.flip and data.classes[0] == "airplane"
    first, labels = written["data_batch_1"]
    # each row is 1024 red, then 1024 green, then 1024 blue values, row-major
    assert torch.equal(data.train.images[0], torch.tensor(first[0]).reshape(3, 32, 32))
    assert data.train.labels[:8].tolist() == labels
    assert data.val.labels.tolist() == written["test_batch"][1]


def test_train_on_cifar10_adapts_lenet_to_three_channels(run_cli, tmp_path):
    write_cifar(tmp_path / "cifar")
    out = tmp_path / "run"
    result = run_cli("build", "lenet5", "--train", "--data", f"cifar10:{tmp_path / 'cifar'}",
                     "--epochs", "1", "--out", out, *QUICK)
    assert result.exit_code == 0, result.output
    assert "adapted to input 3x32x32" in result.output
    state = load_checkpoint(out / "last.pt")
    assert state["model"]["c1.conv.weight"].shape[1] == 3
    assert state["preprocess"]["mean"].shape == (3, 1, 1)  # per-channel, from training data


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("damage", ["code", "missing"])
def test_bad_cifar_folder_is_bad_input(run_cli, tmp_path, damage):
    write_cifar(tmp_path / "cifar")
    if damage == "code":
        (tmp_path / "cifar" / "data_batch_3").write_bytes(pickle.dumps({b"data": Exploit()}))
    else:
        (tmp_path / "cifar" / "test_batch").unlink()
    result = run_cli("build", "lenet5", "--train", "--data", f"cifar10:{tmp_path / 'cifar'}",
                     "--out", tmp_path / "run", *QUICK)
    assert result.exit_code == 2
    assert "pwned" not in result.output
    expected = "not a CIFAR-10 python batch" if damage == "code" else "missing CIFAR-10 batch"
    assert expected in result.output and "Traceback" not in result.output


def write_folder(root, mode="L", per_class=10):
    generator = np.random.default_rng(1)
    for label, brightness in (("dark", 40), ("light", 210)):
        (root / label).mkdir(parents=True)
        for index in range(per_class):
            pixels = generator.normal(brightness, 20, (12, 12)).clip(0, 255).astype(np.uint8)
            image = Image.fromarray(pixels, "L").convert(mode)
            image.save(root / label / f"{index}.png")


def test_folder_images_are_resized_and_split(tmp_path):
    write_folder(tmp_path / "images")
    data = load_data(f"folder:{tmp_path / 'images'}", (32, 32), 1, 10)
    assert data.classes == ["dark", "light"] and data.channels == 1
    assert (len(data.train), len(data.val)) == (16, 4)  # 20% held out, stratified
    image, label = data.val[0]
    assert image.shape == (1, 32, 32) and image.dtype == torch.uint8
    assert sorted(data.val.labels.tolist()) == [0, 0, 1, 1]
    rgb = tmp_path / "rgb"
    write_folder(rgb, mode="RGB")
    assert load_data(f"folder:{rgb}", (32, 32), 1, 10).channels == 3


def test_train_on_a_folder_learns_the_two_classes(run_cli, tmp_path):
    write_folder(tmp_path / "images")
    out = tmp_path / "run"
    result = run_cli("build", "lenet5", "--train", "--data", f"folder:{tmp_path / 'images'}",
                     "--epochs", "4", "--batch-size", "8", "--out", out, *QUICK)
    assert result.exit_code == 0, result.output
    assert "2 classes (output)" in result.output
    final = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]
    assert final["val_acc"] == 1.0  # dark against light: trivially separable


def test_unreadable_image_names_the_file(run_cli, tmp_path):
    write_folder(tmp_path / "images")
    bad = tmp_path / "images" / "dark" / "broken.png"
    bad.write_bytes(b"not a png")
    result = run_cli("build", "lenet5", "--train", "--data", f"folder:{tmp_path / 'images'}",
                     "--out", tmp_path / "run", *QUICK)
    assert result.exit_code == 2 and "broken.png" in result.output


@pytest.mark.parametrize("mode", ["head", "all"])
def test_finetune_from_saved_weights(run_cli, tmp_path, mode):
    weights = tmp_path / "lenet.pt"
    assert run_cli("build", "lenet5", "--save", weights).exit_code == 0
    write_cifar(tmp_path / "cifar")
    out = tmp_path / "run"
    result = run_cli("build", "lenet5", "--train", "--weights", weights, "--finetune", mode,
                     "--num-classes", "12", "--data", f"cifar10:{tmp_path / 'cifar'}",
                     "--max-steps", "3", "--batch-size", "8", "--out", out, *QUICK)
    assert result.exit_code == 0, result.output
    assert "stem c1" in result.output and "1 -> 3 input channels" in result.output
    assert "new classifier output: 10 -> 12 classes" in result.output
    source = torch.load(weights, weights_only=True)
    state = load_checkpoint(out / "last.pt")
    trained = state["model"]
    backbone = [key for key in trained if not key.startswith("output.")
                and not key.startswith("c1.")]
    unchanged = all(torch.equal(trained[key], source[key]) for key in backbone)
    groups = {group["name"]: group["lr"] for group in state["optimizer"]["param_groups"]}
    if mode == "head":
        assert unchanged and groups == {"head": 0.05}
    else:
        assert not unchanged and groups == {"backbone": pytest.approx(0.005), "head": 0.05}


def test_torchvision_weights_finetune_resnet18(run_cli, tmp_path):
    torchvision = pytest.importorskip("torchvision")
    weights = tmp_path / "resnet18_tv.pt"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    out = tmp_path / "run"
    result = run_cli("build", "resnet18", "--train", "--weights", weights, "--input",
                     "1x32x32", "--max-steps", "1", "--batch-size", "16", "--out", out, *QUICK)
    assert result.exit_code == 0, result.output
    assert "stem conv1.conv.weight: 3 -> 1 input channels" in result.output
    assert "new classifier fc: 1000 -> 10 classes" in result.output


def test_grey_stem_equals_rgb_stem_on_grey_images():
    from archcalc.train.adapt import adapt_input_conv

    weight = torch.randn(8, 3, 5, 5)
    grey = torch.rand(2, 1, 16, 16)
    rgb = grey.expand(2, 3, 16, 16)
    expected = torch.nn.functional.conv2d(rgb, weight)
    got = torch.nn.functional.conv2d(grey, adapt_input_conv(weight, 1))
    assert torch.allclose(got, expected, atol=1e-5)
