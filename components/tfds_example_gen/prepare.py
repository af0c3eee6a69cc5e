"""Preparing a TFDS dataset on this machine for TfdsExampleGen: downloaded by TFDS, or built from
a manual directory of its original files, with a short probe before any download (offline,
TFDS retries for minutes) and a lock so two pipelines do not prepare the same folder at once.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Optional

from components.tfds_example_gen import download
from components.tfds_example_gen.errors import TfdsExampleGenError


def one_line(error: BaseException) -> str:
  """An error's text on one line, at most 300 characters."""
  text = ' '.join(str(error).split())
  return text[:300] + ('...' if len(text) > 300 else '')


def prepare_builder(dataset: str, data_dir: Optional[str], manual_dir: Optional[str]):
  """Returns a TFDS builder whose data is prepared, or raises TfdsExampleGenError."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  if manual_dir is not None:
    if not os.path.isdir(manual_dir):
      raise TfdsExampleGenError(f'TFDS manual directory does not exist: {manual_dir}')
    if not os.listdir(manual_dir):
      raise TfdsExampleGenError(f'TFDS manual directory is empty: {manual_dir}')
  probed = False
  if not manual_dir and data_dir:
    # Before the builder: for a dataset not prepared yet it asks TFDS's bucket for the
    # dataset's info, which takes minutes of retries behind an unreachable proxy.
    files = download.needs_download(dataset, data_dir)
    if files:
      download.check_reachable(dataset, files)
      probed = True
  try:
    builder = tfds.builder(dataset, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise TfdsExampleGenError(f'unknown TFDS dataset {dataset!r}') from None
  except Exception as e:  # pylint: disable=broad-except  (bad version strings and the like)
    raise TfdsExampleGenError(f'cannot load TFDS dataset {dataset!r}: {one_line(e)}') from None
  if manual_dir and not _is_prepared(builder):
    # TFDS looks for each original file by name in the manual directory and silently falls
    # back to downloading it (minutes of retries offline); name the missing ones instead.
    missing = sorted(info.filename for info in (builder.url_infos or {}).values()
                     if info.filename and not os.path.exists(os.path.join(manual_dir, info.filename)))
    if missing:
      raise TfdsExampleGenError(
          f'TFDS manual directory {manual_dir} lacks files of {dataset!r}: {", ".join(missing)}')
  if not manual_dir and not probed and not _is_prepared(builder):
    _check_reachable(builder)
  config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
  try:
    with _prepare_lock(builder.data_dir):  # two pipelines preparing the same dataset at once
      builder.download_and_prepare(download_config=config)
  except Exception as e:  # pylint: disable=broad-except
    if manual_dir:
      raise TfdsExampleGenError(
          f'TFDS could not prepare {dataset!r} from manual directory {manual_dir} (is every '
          f'original file of the dataset there?): {one_line(e)}') from None
    files = ', '.join(sorted(set(download.file_names(builder.url_infos).values())))
    raise TfdsExampleGenError(
        f'TFDS could not download {dataset!r} ({one_line(e)}); put '
        f'{files or "its original files"} in a folder and {download.COMPONENT_REMEDY}') from None
  return builder


def _check_reachable(builder) -> None:
  """Before TFDS downloads (minutes of retries when offline): one short probe of the hosts of
  the files not yet in TFDS's download folder. Nothing is written before it, so a failed probe
  leaves the data dir as it was; the error names the files a manual directory needs."""
  from tensorflow_datasets.core.download import resource  # pylint: disable=g-import-not-at-top

  url_infos = builder.url_infos or {}
  downloads = os.path.join(os.fspath(builder.data_dir_root), 'downloads')
  pending = [url for url, info in url_infos.items()
             if not resource.Resource.exists_locally(
                 os.path.join(downloads, resource.get_dl_fname(url, info.checksum)))]
  try:
    download.check_reachable(builder.name, download.file_names(url_infos), pending)
  except TfdsExampleGenError:
    if not _prepared_meanwhile(builder):
      raise


def _prepared_meanwhile(builder) -> bool:
  """Whether another pipeline holding the prepare lock (e.g. from its manual directory) has
  prepared the dataset by the time it lets go; False at once when no lock file exists."""
  if '://' in builder.data_dir or not os.path.exists(download.lock_path(builder.data_dir)):
    return False
  with _prepare_lock(builder.data_dir):
    return _is_prepared(builder)


@contextlib.contextmanager
def _prepare_lock(dataset_dir: str):
  """Holds an exclusive lock beside `dataset_dir` (local data dirs only): a second pipeline
  waits for the first to finish preparing instead of preparing into the same folder."""
  if '://' in dataset_dir:
    yield
    return
  os.makedirs(os.path.dirname(dataset_dir), exist_ok=True)
  with open(download.lock_path(dataset_dir), 'a') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


def _is_prepared(builder) -> bool:
  return os.path.exists(os.path.join(builder.data_dir, 'dataset_info.json'))
