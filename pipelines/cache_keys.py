"""What the pipeline's cache keys are made of, beyond what TFX hashes itself.

TFX keys a component on its inputs and parameters; for a `module_file` it hashes the module's
own folder, not the helpers the module imports; for ImportSchemaGen the schema file's path, not
its content. These close both gaps.
"""
from __future__ import annotations

import glob
import hashlib
import os
from typing import Sequence

from pipelines import registry
from pipelines.paths import MODELS_DIR, PROJECT_ROOT, Paths

SHARED_CODE_DIR = os.path.join(MODELS_DIR, 'common')
# TF Serving's loader, which the Trainers' pictures and the evaluate_fns call the export through.
LOADER_FILES = tuple(os.path.join(PROJECT_ROOT, 'components', 'infra_validator', name)
                     for name in ('session_loader.py', 'capi.py'))


def _python_files_hash(paths: Sequence[str]) -> str:
  """Hash of every .py file (name and content) in `paths`: folders, or single files."""
  h = hashlib.sha256()
  for path in paths:
    files = sorted(glob.glob(os.path.join(path, '*.py'))) if os.path.isdir(path) else [path]
    for name in files:
      h.update(os.path.basename(name).encode())
      with open(name, 'rb') as f:
        h.update(hashlib.sha256(f.read()).digest())
  return h.hexdigest()[:16]


def module_fingerprint(spec: registry.ModelSpec) -> str:
  """Hash of the model's folder and the code every model module uses beyond it (models/common
  and the serving loader).

  TFX hashes the module file's own folder into its cache key, not the helpers it imports: this
  goes into Transform's and Trainer's custom_config (`code`), so a change there re-runs them.
  It keys the QualityEvaluator (which calls the module's evaluate_fn, and which TFX would key
  on the module file's path only) and a killed Trainer's resume state (models/common/resume.py).
  """
  return _python_files_hash([SHARED_CODE_DIR, *LOADER_FILES, spec.module_dir])


def schema_snapshot(spec: registry.ModelSpec, paths: Paths) -> str:
  """A copy of the curated schema at a path named by its content.

  ImportSchemaGen's cache key is the schema file's *path*: an edited schema at the same path
  would be served from cache and the run validated against the old contract. A path that
  changes with the content makes an edit re-import (and re-validate) the schema.
  """
  with open(spec.source.schema_path, 'rb') as f:
    content = f.read()
  directory = os.path.join(paths.schema_snapshot_dir(spec.name),
                           hashlib.sha256(content).hexdigest()[:16])
  path = os.path.join(directory, 'schema.pbtxt')
  if not os.path.exists(path):
    os.makedirs(directory, exist_ok=True)
    partial = f'{path}.{os.getpid()}.partial'
    with open(partial, 'wb') as f:
      f.write(content)
    os.replace(partial, path)
  return path
