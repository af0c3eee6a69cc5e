"""Where ML Metadata lives: one SQLite file per pipeline (the default), or a shared MySQL.

SQLite (nothing to configure): `<work dir>/metadata/<pipeline>.sqlite`. SQLite takes one writer
at a time, so two pipelines running side by side each need their own file.

MySQL (or MariaDB), for deployments that share one record of every run, from the environment:

  TFZOO_MLMD_MYSQL_HOST      server host (setting any TFZOO_MLMD_MYSQL_* variable selects MySQL)
  TFZOO_MLMD_MYSQL_PORT      default 3306
  TFZOO_MLMD_MYSQL_DATABASE  the database (ML Metadata creates its tables, and the database
                             itself if the user may)
  TFZOO_MLMD_MYSQL_USER
  TFZOO_MLMD_MYSQL_PASSWORD  default empty

One database for every pipeline, not one per pipeline: that is what a DBA provisions and
grants once; MySQL takes many writers at once (the reason SQLite needs a file per pipeline does
not apply); and ML Metadata already keeps pipelines apart by their `pipeline` context, which
TFX's cache lookups and resolvers are scoped to, and which everything here that reads the
store filters on (runs, lineage, why-not-blessed, tensorboard, stale executions). Pipelines
are discovered from those contexts rather than from files.

This module imports nothing heavy at import time: the CLI checks the settings before it loads
TensorFlow.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import socket
import sys
import time
from typing import Iterator, List, Mapping, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

ENV_PREFIX = 'TFZOO_MLMD_MYSQL_'
_KEYS = ('HOST', 'PORT', 'DATABASE', 'USER', 'PASSWORD')
_REQUIRED = ('HOST', 'DATABASE', 'USER')
DEFAULT_PORT = 3306
# ML Metadata's own MySQL connect waits 10 s and then says only "mysql_real_connect failed";
# a plain TCP connect first names the server and gives up sooner.
CONNECT_TIMEOUT_S = 5.0
# How long to wait for another process creating ML Metadata's tables in a fresh database.
SCHEMA_WAIT_S = 60.0


class MetadataConfigError(ValueError):
  """One line: the TFZOO_MLMD_MYSQL_* settings are incomplete or invalid."""


class MetadataConnectionError(RuntimeError):
  """One line: the store could not be reached or opened."""


@dataclasses.dataclass(frozen=True)
class MySqlSettings:
  host: str
  port: int
  database: str
  user: str
  password: str = dataclasses.field(default='', repr=False)

  @property
  def where(self) -> str:
    return f'MySQL {self.host}:{self.port}/{self.database}'


def mysql_settings(environ: Optional[Mapping[str, str]] = None) -> Optional[MySqlSettings]:
  """The MySQL settings from the environment, or None (SQLite) when none is set."""
  environ = os.environ if environ is None else environ
  given = {key: environ.get(ENV_PREFIX + key, '') for key in _KEYS}
  if not any(given.values()):
    return None
  missing = [ENV_PREFIX + key for key in _REQUIRED if not given[key]]
  if missing:
    set_ = ', '.join(f'{ENV_PREFIX}{key}={given[key] if key != "PASSWORD" else "…"}'
                     for key in _KEYS if given[key])
    raise MetadataConfigError(
        f'ML Metadata on MySQL needs {", ".join(missing)} (set: {set_}); '
        f'{ENV_PREFIX}PORT and {ENV_PREFIX}PASSWORD are optional, or unset every '
        f'{ENV_PREFIX}* variable to use SQLite')
  port = given['PORT'] or str(DEFAULT_PORT)
  if not port.isdigit() or not 0 < int(port) < 65536:
    raise MetadataConfigError(f'{ENV_PREFIX}PORT={port!r} is not a port number (1-65535)')
  return MySqlSettings(host=given['HOST'], port=int(port), database=given['DATABASE'],
                       user=given['USER'], password=given['PASSWORD'])


def shared() -> bool:
  """True when pipelines share a MySQL store (raises MetadataConfigError if half set)."""
  return mysql_settings() is not None


def describe(paths, pipeline: Optional[str] = None) -> str:
  """Where the store is, for messages: a SQLite path (or folder) or MySQL host:port/database."""
  settings = mysql_settings()
  if settings:
    return settings.where
  return paths.metadata_path(pipeline) if pipeline else os.path.join(paths.home, 'metadata')


def _mysql_config(settings: MySqlSettings):
  return metadata_store_pb2.ConnectionConfig(mysql=metadata_store_pb2.MySQLDatabaseConfig(
      host=settings.host, port=settings.port, database=settings.database, user=settings.user,
      password=settings.password))


def sqlite_config(path: str, read_only: bool = True):
  """The ConnectionConfig of a pipeline's SQLite file (read only, or to update it)."""
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = path
  config.sqlite.connection_mode = (
      metadata_store_pb2.SqliteMetadataSourceConfig.READONLY if read_only else
      metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
  return config


def connection_config(paths, pipeline: str, read_only: bool = True):
  """The ConnectionConfig to read (or, read_only=False, update) `pipeline`'s records: the one
  kind of store reference every reader here takes."""
  settings = mysql_settings()
  if settings:
    return _mysql_config(settings)
  return sqlite_config(paths.metadata_path(pipeline), read_only)


def pipeline_connection_config(paths, pipeline: str):
  """What the pipeline's runner records into (create_pipeline's metadata_connection_config).
  SQLite: exactly TFX's sqlite_metadata_connection_config, as before there was a choice."""
  from tfx.orchestration import metadata as tfx_metadata  # pylint: disable=g-import-not-at-top
  settings = mysql_settings()
  if settings:
    return tfx_metadata.mysql_metadata_connection_config(
        host=settings.host, port=settings.port, database=settings.database,
        username=settings.user, password=settings.password)
  return tfx_metadata.sqlite_metadata_connection_config(paths.metadata_path(pipeline))


def has_store(paths, pipeline: str) -> bool:
  """Whether there is a store to read `pipeline`'s runs from (MySQL: always, it is shared)."""
  return shared() or os.path.exists(paths.metadata_path(pipeline))


def lock_path(paths, pipeline: str) -> str:
  """The run lock's file. Always local, so with MySQL it guards runs on this machine only."""
  if shared():
    return os.path.join(paths.home, 'locks', f'{pipeline}.lock')
  return paths.metadata_path(pipeline) + '.lock'


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
  """ML Metadata's C++ side logs its connection failures straight to file descriptor 2; the
  exception says the same, so keep that off the terminal."""
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, 'w') as devnull:
      os.dup2(devnull.fileno(), 2)
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)


def _probe(host: str, port: int) -> Optional[str]:
  """None if a MySQL server greets us at host:port, else what went wrong. A MySQL server
  speaks first: a greeting packet (protocol version 10), or an error packet (0xff) saying why
  it will not talk to this client."""
  try:
    with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as sock:
      sock.settimeout(CONNECT_TIMEOUT_S)
      packet = b''
      while len(packet) < 5:
        chunk = sock.recv(512)
        if not chunk:
          break
        packet += chunk
  except socket.timeout:
    return f'no answer within {CONNECT_TIMEOUT_S:g} s'
  except OSError as e:
    return e.strerror or str(e)
  if len(packet) < 5:
    return 'the connection was closed without a MySQL greeting'
  if packet[4] == 0xff:  # error packet: code (2 bytes), then the message
    return 'the server refused: ' + packet[7:].decode('utf-8', 'replace').strip()
  if packet[4] != 10:
    return 'whatever answers there is not a MySQL server'
  return None


def open_store(config):
  """A MetadataStore for `config`; a SQLite file that is not a store (corrupted, truncated) or
  is locked, and MySQL problems, become one-line MetadataConnectionErrors."""
  if not config.HasField('mysql'):
    try:
      with _quiet_stderr():
        return metadata_store.MetadataStore(config)
    except Exception as e:  # pylint: disable=broad-except
      raise MetadataConnectionError(sqlite_problem(config.sqlite.filename_uri, e)) from None
  mysql = config.mysql
  where = f'{mysql.host}:{mysql.port}'
  problem = _probe(mysql.host, mysql.port)
  if problem:
    raise MetadataConnectionError(
        f'cannot reach the ML Metadata MySQL server at {where} ({problem}); check '
        f'{ENV_PREFIX}HOST and {ENV_PREFIX}PORT')
  deadline = time.time() + SCHEMA_WAIT_S
  while True:
    try:
      with _quiet_stderr():
        return metadata_store.MetadataStore(config)
    except Exception as e:  # pylint: disable=broad-except
      detail = ' '.join(str(e).split()) or type(e).__name__
      # A fresh database: another process (a pipeline started at the same time) is creating
      # ML Metadata's tables right now, and ML Metadata says to retry ("This may be due to
      # concurrent connection to the empty database. Please retry ...").
      if 'concurrent connection to the empty database' in detail and time.time() < deadline:
        time.sleep(1)
        continue
      raise MetadataConnectionError(
          f'cannot open ML Metadata database {mysql.database!r} on {where} as user '
          f'{mysql.user!r} ({detail}); check {ENV_PREFIX}USER, {ENV_PREFIX}PASSWORD and that the '
          'database exists or the user may create it') from None


def sqlite_problem(path: str, error: BaseException) -> str:
  """One line for a SQLite store ML Metadata could not use: the file and SQLite's reason."""
  detail = ' '.join(str(error).split()) or type(error).__name__
  detail = detail.replace('Error when executing query: ', '', 1).split(' query: ')[0]
  return (f'cannot use the ML Metadata store {path} ({detail}); nothing was changed. Move it '
          'aside to start a new one, or wait for the process holding it')


def pipelines(paths) -> List[str]:
  """Every pipeline with a store: SQLite files under the work directory, or the pipeline
  contexts of the shared MySQL database."""
  settings = mysql_settings()
  if settings is None:
    return [os.path.basename(p)[:-len('.sqlite')]
            for p in sorted(glob.glob(os.path.join(paths.home, 'metadata', '*.sqlite')))]
  store = open_store(_mysql_config(settings))
  return sorted(c.name for c in store.get_contexts_by_type('pipeline'))
