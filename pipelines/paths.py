"""Where a pipeline's outputs live: everything under one work directory.

TFZOO_HOME (default: `out/` in the repository, git-ignored) holds, per model,
  pipelines/<model>/       TFX pipeline root (artifacts of every component, every run)
  tensorflow_datasets/     TFDS's prepared datasets (unless $TFDS_DATA_DIR says otherwise)
  metadata/<model>.sqlite  ML Metadata store
  serving/<model>/<ver>/   pushed SavedModels in TensorFlow Serving's layout
  schemas/<model>/<hash>/  content-addressed copies of the curated schema the runs imported
  logs/                    one full log per run
Paths are computed when asked for, never at import time.
"""
from __future__ import annotations

import dataclasses
import os

# The checkout: where the models' code and the data live.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(PROJECT_ROOT, 'models')
DATA_DIR = os.path.join(PROJECT_ROOT, 'data')


def default_home() -> str:
  return os.path.abspath(os.environ.get('TFZOO_HOME') or os.path.join(PROJECT_ROOT, 'out'))


@dataclasses.dataclass(frozen=True)
class Paths:
  home: str

  @classmethod
  def from_env(cls, home: str | None = None) -> 'Paths':
    return cls(os.path.abspath(home) if home else default_home())

  def pipeline_root(self, model: str) -> str:
    return os.path.join(self.home, 'pipelines', model)

  def metadata_path(self, model: str) -> str:
    # One store per pipeline: SQLite takes one writer at a time, so two pipelines running at
    # once must not share a file.
    return os.path.join(self.home, 'metadata', f'{model}.sqlite')

  def tfds_data_dir(self) -> str:
    """Where TFDS keeps prepared datasets: $TFDS_DATA_DIR if set (share it between projects),
    else inside the work directory."""
    return os.environ.get('TFDS_DATA_DIR') or os.path.join(self.home, 'tensorflow_datasets')

  def schema_snapshot_dir(self, model: str) -> str:
    return os.path.join(self.home, 'schemas', model)

  def serving_root(self) -> str:
    """What TF Serving serves: one folder per model, one numbered folder per version."""
    return os.path.join(self.home, 'serving')

  def serving_dir(self, model: str) -> str:
    return os.path.join(self.serving_root(), model)

  def logs_dir(self) -> str:
    return os.path.join(self.home, 'logs')
