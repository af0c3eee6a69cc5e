"""What every command shares: exit statuses, the one error type, Beam arguments, and running
TFX components with their logs in a file and their progress on the console."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import sys
import time
import warnings
from typing import Callable, Dict, Iterator, List, Optional, TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_BLESSED, EXIT_BAD_DATA = 0, 1, 2, 3, 4


class CliError(Exception):
  """A failure the user can act on: one line (printed as `tfzoo: <message>`) and the exit
  status it ends the command with. Raised by the commands, caught once in main."""

  def __init__(self, message: str, status: int = EXIT_FAILED):
    super().__init__(message)
    self.status = status


def say(message: str) -> None:
  print(f'tfzoo: {message}', file=sys.stderr)


def beam_args(args) -> List[str]:
  """$BEAM_ARGS, split as a shell splits it, then each --beam-arg."""
  text = os.environ.get('BEAM_ARGS', '')
  try:
    from_env = shlex.split(text)
  except ValueError as e:
    raise CliError(f'BEAM_ARGS={text!r}: {str(e).lower()} (quote it as in a shell, e.g. '
                   "BEAM_ARGS='--runner=FlinkRunner --flink_master=host:8081')",
                   EXIT_USAGE) from None
  return from_env + list(args.beam_arg)


def last_line(error: BaseException) -> str:
  text = str(error).strip()
  return text.splitlines()[-1] if text else ''


def quiet_imports() -> List[str]:
  """Commands that import TF keep its start-up chatter off the terminal; real errors show.
  Returns the environment variables it set (a caller starting subprocesses may drop them)."""
  set_here = [] if 'TF_CPP_MIN_LOG_LEVEL' in os.environ else ['TF_CPP_MIN_LOG_LEVEL']
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  warnings.filterwarnings('ignore', category=FutureWarning)
  warnings.filterwarnings('ignore', category=DeprecationWarning)
  logging.getLogger('tensorflow').setLevel(logging.ERROR)
  return set_here


class Progress(logging.Handler):
  """Echoes TFX's 'Component X is running/finished' log lines to the console, with times."""
  _PATTERN = re.compile(r'Component (\S+) is (running|finished)\.')

  def __init__(self, console: TextIO):
    super().__init__(level=logging.INFO)
    self._console = console
    self._started: Dict[str, float] = {}

  def emit(self, record: logging.LogRecord) -> None:
    match = self._PATTERN.search(record.getMessage())
    if not match:
      return
    node, what = match.groups()
    if what == 'running':
      self._started[node] = time.time()
      print(f'  {node} ...', file=self._console, end='', flush=True)
    else:
      took = time.time() - self._started.get(node, time.time())
      print(f' {took:.1f} s', file=self._console, flush=True)


@contextlib.contextmanager
def console_and_log(log_path: str, verbose: bool) -> Iterator[TextIO]:
  """Sends everything TF, TFX, Beam, pip and setuptools print (from Python or C++) to
  `log_path` and yields a handle on the real stdout for the progress and the summary.
  With verbose=True everything stays on the terminal instead."""
  if verbose:
    yield sys.stdout
    return
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  sys.stdout.flush()
  sys.stderr.flush()
  saved_out, saved_err = os.dup(1), os.dup(2)
  console = os.fdopen(os.dup(saved_out), 'w', buffering=1)
  with open(log_path, 'ab') as log:
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
      yield console
    finally:
      sys.stdout.flush()
      sys.stderr.flush()
      os.dup2(saved_out, 1)
      os.dup2(saved_err, 2)
      os.close(saved_out)
      os.close(saved_err)
      console.close()


def run_logged(log_path: str, verbose: bool, what: str,
               work: Callable[[], None]) -> Optional[BaseException]:
  """Runs `work` (TFX components; heavy imports belong inside it, so their chatter goes to
  the log too) with TF/TFX/Beam's output in log_path and each component's progress on the
  console. Returns what it raised (logged with its traceback), or None."""
  with console_and_log(log_path, verbose) as console:
    from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
    absl_logging.set_verbosity(absl_logging.INFO)
    progress = Progress(console)
    logging.getLogger('absl').addHandler(progress)
    try:
      work()
    except Exception as e:  # pylint: disable=broad-except
      logging.getLogger('absl').exception('%s failed', what)
      return e
    finally:
      logging.getLogger('absl').removeHandler(progress)
      absl_logging.set_verbosity(absl_logging.WARNING)
  return None


