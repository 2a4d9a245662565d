"""Hostile files at the training runner's boundary: tiny files that claim huge sizes.

Each file below is a few KB and declares gigabytes (a zip entry, a tensor storage, a
numpy array, a pickle string, a PNG's pixels). All are run through the CLI in one
subprocess (tests/helpers/bounded_cli.py) under an address-space limit of 3 GiB above
its baseline: each must end in exit status 2 with archcalc's own message naming the
file and no traceback, and the peak resident memory may grow by at most 256 MiB.
"""
from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
pytest.importorskip("PIL")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib", reason="a training run writes curves.png")
pytest.importorskip("torchvision", reason="helpers/bounded_cli.py imports what build does")

HELPER = Path(__file__).parent / "helpers" / "bounded_cli.py"
MAX_GROWTH = 256 << 20
HUGE = 1 << 32  # 4 GiB


def zip_with(path: Path, change) -> None:
    """A torch.save file of {'w': zeros(4)} rewritten entry by entry through ``change``."""
    import zipfile

    plain = path.with_suffix(".plain")
    torch.save({"w": torch.zeros(4)}, plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data, info = change(info, source.read(info.filename))
            target.writestr(info, data)
    plain.unlink()


def weights_zip_bomb(path: Path) -> None:
    """The tensor's entry deflated, its declared size patched to ~4 GiB."""
    import zipfile

    def deflate(info, data):
        if info.filename.endswith("data/0"):
            info.compress_type = zipfile.ZIP_DEFLATED
        return data, info

    zip_with(path, deflate)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        entry = next(i for i in archive.infolist() if i.filename.endswith("data/0"))
    struct.pack_into("<I", raw, entry.header_offset + 22, HUGE - 16)  # local header
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        length = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46:central + 46 + length].endswith(b"data/0"):
            struct.pack_into("<I", raw, central + 24, HUGE - 16)
        central = raw.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(raw))


def weights_storage_claim(path: Path) -> None:
    """The pickle says the storage has 2**30 floats; its entry holds 16 bytes."""
    def claim(info, data):
        if info.filename.endswith("data.pkl"):
            data = data.replace(b"cpuq\x06K\x04t", b"cpuq\x06J" + struct.pack("<i", 1 << 30)
                                + b"t")
            assert b"J\x00\x00\x00\x40" in data
        return data, info

    zip_with(path, claim)


def weights_legacy_claim(path: Path) -> None:
    """PyTorch's pre-1.6 format, whose storage header claims 2**31 floats."""
    torch.save({"w": torch.zeros(4)}, path, _use_new_zipfile_serialization=False)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<q", raw, raw.rfind(struct.pack("<q", 4)), 1 << 31)
    path.write_bytes(bytes(raw))


def cifar_reconstruct_claim(path: Path) -> None:
    """numpy's _reconstruct asked for a 4 GiB array (numpy itself always asks for 0)."""
    blob = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]},
                        protocol=3)
    assert blob.count(b"K\x00\x85") == 1
    path.write_bytes(blob.replace(b"K\x00\x85", b"\x8a\x05" + HUGE.to_bytes(5, "little")
                                  + b"\x85"))


def cifar_ndarray_call(path: Path) -> None:
    """numpy.ndarray((2**32,)) called directly."""
    path.write_bytes(b"\x80\x03cnumpy\nndarray\n\x8a\x05" + HUGE.to_bytes(5, "little")
                     + b"\x85R.")


def cifar_bytes_claim(path: Path) -> None:
    """A BINBYTES8 string declared 4 GiB long, 9 bytes present."""
    path.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", HUGE) + b"123456789.")


def png(path: Path, width: int, height: int) -> None:
    """A grey PNG whose header says width x height; one row of pixels follows."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
                     chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b""))


def image_folder(root: Path, bomb_size) -> Path:
    from PIL import Image

    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for index in range(5):
            Image.new("L", (8, 8), 40 * index).save(root / label / f"{index}.png")
    bomb = root / "a" / "0bomb.png"  # sorts first: the first header read
    png(bomb, *bomb_size)
    return bomb


def cases(tmp: Path):
    """(command line, the file it must name, words the message must hold)."""
    found = []
    for make, words in ((weights_zip_bomb, "declares 4,294,967,"),
                        (weights_storage_claim, "does not match expected size"),
                        (weights_legacy_claim, "legacy (pre-1.6) format")):
        path = tmp / f"{make.__name__}.pt"
        make(path)
        found.append((["build", "lenet5", "--weights", str(path)], path, words))
    run = tmp / "run"
    run.mkdir()
    weights_zip_bomb(run / "last.pt")
    found.append((["build", "lenet5", "--train", "--resume", str(run)], run / "last.pt",
                  "declares 4,294,967,"))
    for make, words in ((cifar_reconstruct_claim, "an array of 4,294,967,296 bytes"),
                        (cifar_ndarray_call, "numpy.ndarray may not be called"),
                        (cifar_bytes_claim, "not a CIFAR-10 python batch")):
        folder = tmp / make.__name__
        folder.mkdir()
        make(folder / "data_batch_1")
        found.append((["build", "lenet5", "--train", "--no-checks", "--data",
                       f"cifar10:{folder}", "--out", str(tmp / "out")],
                      folder / "data_batch_1", words))
    for name, size, words in (("bomb_error", (100_000, 100_000), "too large to decode"),
                              ("bomb_warning", (12_000, 11_000), "too large to decode")):
        bomb = image_folder(tmp / name, size)
        found.append((["build", "lenet5", "--train", "--no-checks", "--data",
                       f"folder:{tmp / name}", "--out", str(tmp / "out")], bomb, words))
    return found


def test_tiny_files_that_claim_gigabytes_are_refused_within_bounded_memory(tmp_path):
    found = cases(tmp_path)
    completed = subprocess.run(
        [sys.executable, str(HELPER), json.dumps([argv for argv, _, _ in found])],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "300"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    for (_, path, words), result in zip(found, results):
        label = path.name
        assert result["exception"] is None, (label, result["exception"])
        assert result["exit_code"] == 2, (label, result["output"])
        assert f"error: {path}: " in result["output"], (label, result["output"])
        assert words in result["output"], (label, result["output"])
        assert "Traceback" not in result["output"], label
        assert result["growth"] < MAX_GROWTH, (label, result["growth"])
    print({path.name: result["growth"] >> 20 for (_, path, _), result in zip(found, results)})
    assert not (tmp_path / "out").exists()  # refused before a run folder was made
    for path in (tmp_path / "run").iterdir():
        assert path.name == "last.pt"  # nothing written next to the refused checkpoint
