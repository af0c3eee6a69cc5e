"""Digits from image files, read one way for `make predict` (pipelines/serving/client.py) and for a
folder `make score` scores (ImageExampleGen).

Only PIL and NumPy: the command line checks a folder with this module before it loads TFX, so a
bad folder is refused in seconds; ImageExampleGen's executor converts the files with the same
functions, so what was checked is what gets scored.
"""
from __future__ import annotations

import io
import os
from typing import List

import numpy as np

SIDE = 28  # MNIST's
IMAGE_KEY = 'image'  # what the served models' serving_default parses
FILENAME_KEY = 'filename'  # read back from the prediction logs to name each prediction

# What PIL reads and users save digits as; other files in the folder are left alone.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif')


class ImageFolderError(ValueError):
  """One line naming the folder or the file and what is wrong with it."""


def is_image_file(path: str) -> bool:
  return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS and os.path.isfile(path)


def image_files(folder: str) -> List[str]:
  """The image files directly in `folder`, by name: the order their predictions are listed."""
  return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                if is_image_file(os.path.join(folder, name)))


def read_digit(path: str) -> np.ndarray:
  """An image file -> uint8 [28, 28], light digit on dark as MNIST: any size (resized), any
  format PIL reads, and dark ink on light paper inverted."""
  from PIL import Image, UnidentifiedImageError  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(path):
    raise ImageFolderError(f'{path}: image file not found')
  try:
    image = Image.open(path).convert('L')
    if image.size != (SIDE, SIDE):
      image = image.resize((SIDE, SIDE), Image.LANCZOS)
  except UnidentifiedImageError:
    raise ImageFolderError(f'{path}: not an image file (PNG, JPEG, …)') from None
  except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for truncated or broken files
    raise ImageFolderError(f'{path}: cannot be read as an image ({e})') from None
  pixels = np.asarray(image, dtype=np.uint8)
  if pixels.mean() > 127:  # dark ink on white paper
    pixels = 255 - pixels
  return pixels


def png(pixels: np.ndarray) -> bytes:
  """uint8 [H, W] grayscale -> PNG bytes (what the models' `image` feature holds)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(pixels, mode='L').save(buffer, format='PNG')
  return buffer.getvalue()


def digit_png(path: str) -> bytes:
  """PNG bytes of the file's digit (read_digit)."""
  return png(read_digit(path))


def check_folder(folder: str) -> List[str]:
  """The folder's image files, each read once; ImageFolderError for a missing or empty folder
  or for the first file that is not a readable image."""
  if not os.path.exists(folder):
    raise ImageFolderError(f'{folder}: folder not found')
  if not os.path.isdir(folder):
    raise ImageFolderError(f'{folder}: not a folder (give a folder of image files)')
  files = image_files(folder)
  if not files:
    raise ImageFolderError(f'{folder}: no image files ({", ".join(IMAGE_EXTENSIONS)}) in it')
  for path in files:
    digit_png(path)
  return files
