"""The image files of a folder, read as the client reads a digit (pipelines/client.py).

Only PIL and NumPy: the command line checks a folder with this module before it loads TFX, so a
bad folder is refused in seconds; ImageExampleGen's executor converts the files with the same
functions, so what was checked is what gets scored.
"""
from __future__ import annotations

import io
import os
from typing import List

from pipelines import client

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


def digit_png(path: str) -> bytes:
  """PNG bytes of the file's digit: 28x28 grayscale, light on dark (client.read_digit)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    pixels = client.read_digit(path)
  except client.ClientError as e:
    raise ImageFolderError(str(e)) from None
  except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for truncated or broken files
    raise ImageFolderError(f'{path}: cannot be read as an image ({e})') from None
  buffer = io.BytesIO()
  Image.fromarray(pixels, mode='L').save(buffer, format='PNG')
  return buffer.getvalue()


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
