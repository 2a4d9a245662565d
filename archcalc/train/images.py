"""``folder:DIR``: one sub-folder of image files per class, decoded safely.

Every file is opened by ``read_image``: any failure of the decoder (not an image, a
truncated file, a broken header: PIL raises OSError, SyntaxError, ValueError and
others) is one ArchcalcError naming the file; and an image larger than
MAX_IMAGE_PIXELS is refused from its header, before it is decoded, so a few-KB PNG
that claims 100,000 x 100,000 pixels cannot allocate gigabytes. PIL's own guard only
warns between 1x and 2x its limit (DecompressionBombWarning); here the warning is an
error too, and the bound holds even if a program has switched PIL's guard off.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from archcalc.errors import ArchcalcError, Location
from archcalc.files import os_error

# PIL's default Image.MAX_IMAGE_PIXELS (a 1 GiB RGBA image / 4 / 3): a decoded image
# holds at most 89.5 M pixels, 268 MB as RGB.
MAX_IMAGE_PIXELS = 89_478_485
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm")
GREY_MODES = ("1", "L", "I", "I;16", "F")
HINT = "remove the file or convert it to PNG/JPEG"


def read_image(path, mode: str | None = None):
    """The image at ``path`` converted to ``mode`` ("L" or "RGB") as a uint8 tensor
    (C, H, W); with ``mode=None`` only the header is read and its PIL mode returned."""
    from PIL import Image

    where = Location(str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise _too_large(where, width, height)
                if mode is None:
                    return image.mode
                from torchvision.transforms.v2 import functional as TF

                return TF.pil_to_tensor(image.convert(mode))
    except ArchcalcError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ArchcalcError(f"the image is too large to decode safely ({exc})", where=where,
                            hint=f"images may have at most {MAX_IMAGE_PIXELS:,} pixels; "
                                 "shrink it") from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise os_error(exc, path, "read") from None
    except MemoryError:
        raise ArchcalcError("not enough memory to decode this image", where=where,
                            hint=HINT) from None
    except Exception as exc:  # noqa: BLE001 - whatever PIL raises for a damaged file
        text = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ArchcalcError(f"cannot read this image ({text})", where=where, hint=HINT) \
            from None


def _too_large(where, width: int, height: int) -> ArchcalcError:
    return ArchcalcError(f"the image is {width:,} x {height:,} = {width * height:,} pixels, "
                         f"more than the {MAX_IMAGE_PIXELS:,} decoded safely", where=where,
                         hint="shrink it (training resizes every image anyway)")


class FolderImages(torch.utils.data.Dataset):
    """Image files read one at a time, converted to the data's channels and resized."""

    def __init__(self, files, labels, channels: int, size):
        self.files = list(files)
        self.labels = torch.tensor(labels, dtype=torch.int64)
        self.channels = channels
        self.size = tuple(size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index):
        from torchvision.transforms.v2 import functional as TF

        tensor = read_image(self.files[index], "L" if self.channels == 1 else "RGB")
        return TF.resize(tensor, list(self.size), antialias=True), self.labels[index]


def class_files(folder: Path, classes=None):
    """(class names, image files, labels) of a folder of class folders."""
    try:
        found = sorted(p.name for p in folder.iterdir() if p.is_dir()) if classes is None \
            else classes
        files, labels = [], []
        for label, name in enumerate(found):
            images = sorted(p for p in (folder / name).rglob("*")
                            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()) \
                if (folder / name).is_dir() else []
            if not images:
                raise ArchcalcError(f"class folder {name!r} holds no images",
                                    where=Location(str(folder / name)),
                                    hint=f"image files end in {', '.join(IMAGE_SUFFIXES[:4])}"
                                         ", ...")
            files += images
            labels += [label] * len(images)
    except OSError as exc:
        raise os_error(exc, exc.filename or folder, "read") from None
    return found, files, labels


def channels_of(files) -> int:
    """1 when every image is single-channel grey, else 3 (RGB). Headers are read up to
    the first colour image (every image is checked again when it is decoded)."""
    for path in files:
        if read_image(path) not in GREY_MODES:
            return 3
    return 1
