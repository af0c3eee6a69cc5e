"""Measuring a subprocess: its wall time and the peak memory of its process tree."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from typing import Mapping, Optional, Sequence

from pipelines.bench.common import MB, POLL_SECONDS


@dataclasses.dataclass
class Measured:
  returncode: int
  seconds: float
  peak_rss_bytes: int  # max over the samples of the summed RSS of the process tree
  max_process_rss_bytes: int  # the kernel's high-water mark of the largest single process
  samples: int

  @property
  def peak_rss_mb(self) -> float:
    """The figure reported as peak RSS: the tree's sampled peak, or the kernel's exact peak of
    one process where a spike between two samples was higher."""
    return max(self.peak_rss_bytes, self.max_process_rss_bytes) / MB


def tree_rss(pid: int, include_root: bool = True) -> int:
  """Summed resident memory of `pid`'s descendants (and of `pid` itself if include_root) now;
  0 once they have exited."""
  import psutil  # pylint: disable=g-import-not-at-top
  try:
    root = psutil.Process(pid)
    processes = ([root] if include_root else []) + root.children(recursive=True)
  except psutil.Error:
    return 0
  total = 0
  for process in processes:
    try:
      total += process.memory_info().rss
    except psutil.Error:  # exited (or a zombie) since it was listed
      pass
  return total


# Runs argv[2:], then writes its children's ru_maxrss (KiB) to argv[1] and exits with the
# child's status. Started with -S -E and importing only os/resource, it stays ~10 MB.
_WRAPPER = """import os, resource, sys
pid = os.fork()
if pid == 0:
  try:
    os.execvp(sys.argv[2], sys.argv[2:])
  finally:
    os._exit(127)
while True:
  try:
    status = os.waitpid(pid, 0)[1]
    break
  except InterruptedError:
    pass
with open(sys.argv[1], 'w') as f:
  f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_measured(argv: Sequence[str], env: Optional[Mapping[str, str]] = None,
                 cwd: Optional[str] = None, log_path: Optional[str] = None,
                 poll_seconds: float = POLL_SECONDS) -> Measured:
  """Runs argv to completion; returns its exit status, wall seconds and peak memory.

  Peak memory, two ways, both kept:
  - the process *tree* (a pipeline may start Beam workers, TFX its wheel build) is sampled
    every `poll_seconds` from /proc (psutil), its RSS summed: the memory the run held at
    once. Sampling can miss a spike shorter than the period;
  - the kernel's exact high-water mark (ru_maxrss) of the largest single process in the
    tree, which misses nothing but does not add up processes alive together. It is read by a
    tiny wrapper process that starts argv and reports getrusage(RUSAGE_CHILDREN) when argv
    ends: RUSAGE_CHILDREN in this process would be a max over every child it ever had (a
    later, smaller run would report an earlier one's peak), and even wait4's per-child
    figure would not do, since Linux starts a child's ru_maxrss at the RSS of the process
    that forked it: this one, holding TensorFlow after the first ML Metadata read. The
    wrapper is ~10 MB, so that floor is 10 MB.
  The reported peak is the larger of the two (Measured.peak_rss_mb); the wrapper itself is
  not counted. RSS counts pages shared between processes once per process.
  """
  import tempfile  # pylint: disable=g-import-not-at-top
  with tempfile.NamedTemporaryFile('r', prefix='tfzoo-bench-maxrss-', suffix='.txt') as maxrss:
    started = time.perf_counter()
    if log_path:
      os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    log = open(log_path, 'wb') if log_path else subprocess.DEVNULL  # pylint: disable=consider-using-with
    try:
      wrapper = subprocess.Popen(
          [sys.executable, '-S', '-E', '-c', _WRAPPER, maxrss.name] + list(argv),
          env=dict(env) if env is not None else None, cwd=cwd, stdout=log,
          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
      if log_path:
        log.close()
    peak, samples = 0, 0
    done = threading.Event()

    def sample() -> None:
      nonlocal peak, samples
      while not done.is_set():
        peak = max(peak, tree_rss(wrapper.pid, include_root=False))
        samples += 1
        done.wait(poll_seconds)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
      returncode = wrapper.wait()
    finally:
      seconds = time.perf_counter() - started
      done.set()
      sampler.join()
    text = maxrss.read().strip()
  return Measured(returncode=returncode, seconds=seconds, peak_rss_bytes=peak,
                  max_process_rss_bytes=int(text) * 1024 if text else 0,  # Linux: KiB
                  samples=samples)
