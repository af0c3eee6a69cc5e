"""How a run was produced, recorded on its pipeline_run context in ML Metadata: the git commit
and whether the checkout had uncommitted changes, the hash of requirements.lock, the versions
of the libraries that trained and evaluated it, Python's, and the model module's seed."""
from __future__ import annotations

import ast
import hashlib
import json
import os
import platform
import subprocess
from importlib import metadata as package_metadata
from typing import Dict, Optional

from ml_metadata.proto import metadata_store_pb2

from pipelines.paths import PROJECT_ROOT

PROPERTY = 'tfzoo_manifest'  # a custom property of the pipeline_run context: JSON
PACKAGES = ('tensorflow', 'keras', 'tfx', 'tensorflow-model-analysis',
            'tensorflow-data-validation', 'tensorflow-transform', 'tensorflow-datasets',
            'apache-beam', 'ml-metadata')
LOCK_FILE = os.path.join(PROJECT_ROOT, 'requirements.lock')


def _git(*args: str) -> Optional[str]:
  try:
    done = subprocess.run(['git', '-C', PROJECT_ROOT, *args], capture_output=True, text=True,
                          timeout=10, check=True)
  except (OSError, subprocess.SubprocessError):
    return None
  return done.stdout


def module_seed(module_file: str) -> Optional[int]:
  """The module's top-level `SEED = <int>` (every model module seeds its training with it)."""
  try:
    with open(module_file, encoding='utf-8') as f:
      tree = ast.parse(f.read())
  except (OSError, SyntaxError):
    return None
  for node in tree.body:
    if (isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == 'SEED' for t in node.targets)
        and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int)):
      return node.value.value
  return None


def build(module_file: str) -> Dict[str, object]:
  commit = (_git('rev-parse', 'HEAD') or '').strip() or None
  status = _git('status', '--porcelain')
  versions = {}
  for package in PACKAGES:
    try:
      versions[package] = package_metadata.version(package)
    except package_metadata.PackageNotFoundError:
      versions[package] = None
  versions['python'] = platform.python_version()
  lock_hash = None
  if os.path.exists(LOCK_FILE):
    with open(LOCK_FILE, 'rb') as f:
      lock_hash = hashlib.sha256(f.read()).hexdigest()
  return {'git_commit': commit, 'git_dirty': bool(status.strip()) if status is not None else None,
          'requirements_lock_sha256': lock_hash, 'versions': versions,
          'seed': module_seed(module_file)}


def record(store, run: metadata_store_pb2.Context, manifest: Dict[str, object]) -> None:
  run.custom_properties[PROPERTY].string_value = json.dumps(manifest, sort_keys=True)
  store.put_contexts([run])


def read(run: metadata_store_pb2.Context) -> Optional[Dict[str, object]]:
  value = run.custom_properties.get(PROPERTY)
  if value is None:
    return None
  try:
    return json.loads(value.string_value)
  except ValueError:
    return None


def describe(manifest: Optional[Dict[str, object]]) -> str:
  """One line: 'commit 1a2b3c4 (uncommitted changes), lock 9f8e7d6, TF 2.16.2, TFX 1.16.0, ...'."""
  if not manifest:
    return 'no manifest recorded'
  commit = manifest.get('git_commit')
  words = [f'commit {commit[:12]}' if commit else 'not a git checkout']
  if manifest.get('git_dirty'):
    words[0] += ' (uncommitted changes)'
  if manifest.get('requirements_lock_sha256'):
    words.append(f'requirements.lock {manifest["requirements_lock_sha256"][:12]}')
  versions = manifest.get('versions') or {}
  short = {'tensorflow': 'TF', 'keras': 'Keras', 'tfx': 'TFX',
           'tensorflow-model-analysis': 'TFMA', 'python': 'Python'}
  words += [f'{name} {versions[package]}' for package, name in short.items()
            if versions.get(package)]
  if manifest.get('seed') is not None:
    words.append(f'seed {manifest["seed"]}')
  return ', '.join(words)
