"""CIFAR-10's python-format batches, read without running code and within bounds.

The batches (data_batch_1..5, test_batch, as distributed at cs.toronto.edu) are
pickles of a dict: b'data', an N x 3072 uint8 array (1024 red, 1024 green, 1024 blue
values per image, row-major), and b'labels', N class numbers 0..9.

The unpickler allows only what such a file contains (dicts, lists, bytes, numpy
arrays and dtypes), so a crafted file cannot run code; and no array it builds may
hold more bytes than the file itself (a real array's bytes are in the file), so a
few-KB file cannot allocate gigabytes. What it returns is then checked: the shape
and dtype of the images, labels that are whole numbers in 0..9, one per image.
"""
from __future__ import annotations

import io
import math
import pickle
import pickletools
from pathlib import Path

import torch

from archcalc.errors import ArchcalcError, Location
from archcalc.files import os_error

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]
IMAGE_VALUES = 3 * 32 * 32
HINT = ("expected a pickled dict with b'data' (N x 3072 uint8) and b'labels' (N whole "
        "numbers 0..9), as in cifar-10-python.tar.gz")


class _ArrayClass:
    """Stands for numpy.ndarray in the pickle: only ``_reconstruct`` may use it (calling
    numpy.ndarray(shape) directly would allocate any size the file names)."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError("numpy.ndarray may not be called in a CIFAR batch")


_ARRAY_CLASS = _ArrayClass()


class ArraysOnly(pickle.Unpickler):
    ALLOWED = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray",
                                                          "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy", "ndarray"), ("numpy", "dtype")})

    def __init__(self, file, max_array_bytes: int):
        super().__init__(file, encoding="bytes")
        self.max_array_bytes = max_array_bytes

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")
        if name == "ndarray":
            return _ARRAY_CLASS
        if name == "_reconstruct":
            return self._reconstruct
        if name == "dtype":
            return _plain_dtype
        return _multiarray().scalar

    def _reconstruct(self, subtype, shape, dtype):
        import numpy

        if subtype is not _ARRAY_CLASS:
            raise pickle.UnpicklingError("_reconstruct may only build a numpy.ndarray")
        sizes = shape if isinstance(shape, tuple) else (shape,)
        if not all(isinstance(size, int) and size >= 0 for size in sizes):
            raise pickle.UnpicklingError(f"bad array shape {shape!r}")
        size = math.prod(sizes) * _plain_dtype(dtype).itemsize
        if size > self.max_array_bytes:
            raise pickle.UnpicklingError(
                f"an array of {size:,} bytes in a file of {self.max_array_bytes:,} bytes")
        return _multiarray()._reconstruct(numpy.ndarray, shape, dtype)


def _multiarray():
    import numpy

    core = getattr(numpy, "_core", None) or numpy.core  # numpy 2 renamed numpy.core
    return core.multiarray


def _plain_dtype(*args):
    import numpy

    try:
        dtype = numpy.dtype(*args)
    except (TypeError, ValueError) as exc:
        raise pickle.UnpicklingError(f"bad dtype ({exc})") from None
    if dtype.hasobject:  # an object array's elements would be arbitrary pickled values
        raise pickle.UnpicklingError("arrays of Python objects are not allowed")
    return dtype


def read_batch(path: Path):
    """uint8 images (N, 3, 32, 32) and int64 labels from one batch file."""
    where = Location(str(path))
    if not path.is_file():
        raise ArchcalcError("missing CIFAR-10 batch file", where=where,
                            hint="cifar10:DIR needs data_batch_1..5 and test_batch from "
                                 "cifar-10-python.tar.gz, unpacked")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise os_error(exc, path, "read") from None
    try:
        # a parse, not a run: every length the opcodes declare must lie inside the file
        # (the C unpickler allocates a declared length before reading it)
        for _ in pickletools.genops(io.BytesIO(content)):
            pass
        batch = ArraysOnly(io.BytesIO(content), len(content)).load()
    except Exception as exc:  # noqa: BLE001 - whatever a damaged or crafted pickle raises
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ArchcalcError(f"not a CIFAR-10 python batch ({text})", where=where,
                            hint=HINT) from None
    return _checked(batch, where)


def _checked(batch, where: Location):
    import numpy

    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ArchcalcError("not a CIFAR-10 python batch (no dict with b'data' and "
                            "b'labels')", where=where, hint=HINT)
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, numpy.ndarray) or data.dtype != numpy.uint8 or data.ndim != 2 \
            or data.shape[1] != IMAGE_VALUES or data.shape[0] < 1:
        described = f"{list(data.shape)} {data.dtype}" if isinstance(data, numpy.ndarray) \
            else type(data).__name__
        raise ArchcalcError(f"b'data' must be an N x {IMAGE_VALUES} uint8 array, got "
                            f"{described}", where=where, hint=HINT)
    if isinstance(labels, numpy.ndarray) and labels.ndim == 1:
        labels = labels.tolist()
    if not isinstance(labels, list) or not all(type(label) is int for label in labels):
        raise ArchcalcError("b'labels' must be a list of whole numbers", where=where, hint=HINT)
    if len(labels) != len(data):
        raise ArchcalcError(f"{len(data)} images but {len(labels)} labels", where=where,
                            hint=HINT)
    for index, label in enumerate(labels):
        if not 0 <= label < len(CLASSES):
            raise ArchcalcError(f"label {label} of image {index} is outside the "
                                f"{len(CLASSES)} classes 0..{len(CLASSES) - 1}",
                                where=where, hint=HINT)
    images = torch.from_numpy(numpy.ascontiguousarray(data)).reshape(-1, 3, 32, 32)
    return images, torch.tensor(labels, dtype=torch.int64)
