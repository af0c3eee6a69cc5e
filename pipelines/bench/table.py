"""The bench's result as a table on the terminal and as JSON."""
from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional


progress_open = False  # a progress line awaits its ending


def progress(text: str) -> None:
  global progress_open
  print(f'tfzoo bench: {text} ...', end='', flush=True)
  progress_open = True


def progress_done(text: str) -> None:
  global progress_open
  print(f' {text}', flush=True)
  progress_open = False


def _f(value: Optional[float], digits: int = 1) -> str:
  return 'n/a' if value is None else f'{value:.{digits}f}'


def _g(value: Optional[float]) -> str:
  return 'n/a' if value is None else f'{value:.4g}'


def format_table(result: Mapping[str, Any]) -> str:
  """The human-readable report of a bench result (the JSON's content)."""
  machine = result['machine']
  v = machine.get('versions', {})
  lines = [
      f'tfzoo bench, {machine["date"]}: {machine["cpu_count"]} CPUs, '
      f'{machine.get("memory_gib", "?")} GiB, Python {machine["python"]}, '
      f'TensorFlow {v.get("tensorflow")}, Keras {v.get("keras")}, TFX {v.get("tfx")}; '
      f'load average at start {" ".join(str(x) for x in machine["load_average_at_start"])}'
      + (f', at end {" ".join(str(x) for x in machine["load_average_at_end"])}'
         if machine.get('load_average_at_end') else ''),
      f'command: {result["command"]}',
  ]
  prep = result.get('tfds_preparation')
  if prep:
    how = ('already prepared' if prep['already_prepared'] else
           f'prepared once in {prep["seconds"]:.1f} s')
    lines.append(f'TFDS {prep["dataset"]}: {how}, before timing (no run below includes it)')
  models = result.get('models', {})
  if models:
    lines += ['', 'wall seconds of a subprocess each (interpreter start and imports included); '
              'peak RSS of its process tree',
              f'{"model":<12}{"pipeline":>10}{"cached":>9}{"plain":>8}{"pipeline/":>11}  '
              f'{"metric":<28}{"pipeline":>10}{"plain":>10}   {"peak RSS MB":>20}',
              f'{"":<12}{"1st run":>10}{"re-run":>9}{"Keras":>8}{"plain":>11}  {"":<28}'
              f'{"":>10}{"":>10}   {"1st / cached / plain":>20}']
    for name, m in models.items():
      first, cached, plain = m['first_run'], m['cached_rerun'], m['plain']
      rss = (f'{first["peak_rss_mb"]:.0f} / {cached["peak_rss_mb"]:.0f} / '
             f'{plain["peak_rss_mb"]:.0f}')
      lines.append(
          f'{name:<12}{first["seconds"]:>10.1f}{cached["seconds"]:>9.1f}{plain["seconds"]:>8.1f}'
          f'{m["ratio_first_run_to_plain"]:>10.1f}x  {first["metric"]["key"]:<28}'
          f'{_g(first["metric"]["value"]):>10}{_g(plain["metric"]["value"]):>10}   {rss:>20}')
    raced = {name: m['time_to_accuracy'] for name, m in models.items()
             if m.get('time_to_accuracy')}
    if raced:
      lines += ['', 'time to accuracy on the test images: the whole pipeline (fresh run, ingest '
                'to push) against the hand-written reference (pipelines/bench/reference.py), '
                'seconds from process start',
                f'{"model":<8}{"gate":>6}{"reference to gate":>20}{"reference at":>14}'
                f'{"pipeline":>10}{"pipeline":>10}{"ratio":>8}  target',
                f'{"":<8}{"":>6}{"s (epoch)":>20}{"its epochs":>14}{"s":>10}'
                f'{"accuracy":>10}{"":>8}']
      for name, r in raced.items():
        to_gate = (f'{r["reference_seconds_to_gate"]:.1f} ({r["reference_epochs_to_gate"]})'
                   if r['reference_seconds_to_gate'] is not None else
                   f'not in {len(models[name]["reference"]["epochs"])} epochs')
        at = (f'{_g(r["reference_accuracy_at_pipeline_epochs"])} ({r["pipeline_epochs"]})')
        ratio = 'n/a' if r['ratio'] is None else f'{r["ratio"]:.2f}x'
        lines.append(f'{name:<8}{r["gate"]:>6}{to_gate:>20}{at:>14}{r["pipeline_seconds"]:>10.1f}'
                     f'{_g(r["pipeline_accuracy"]):>10}{ratio:>8}  '
                     f'{"met" if r["target_met"] else "NOT met"}: {r["target"]}')
      for name, r in raced.items():
        if r.get('reference_epoch_seconds'):
          low, high = r['reference_epoch_seconds']
          lines.append(f'  {name}: the reference\'s epochs after the first took {low:.1f}-'
                       f'{high:.1f} s (a fixed script: the spread is this machine\'s noise)')
    lines += ['', 'plain Keras, in-process split (s): import / load data / build / train / '
              'evaluate']
    for name, m in models.items():
      p = m['plain']
      lines.append(f'  {name:<12}{p["import_seconds"]:6.1f} /{p["load_seconds"]:6.1f} /'
                   f'{p["build_seconds"]:6.1f} /{p["train_seconds"]:7.1f} /'
                   f'{p["eval_seconds"]:6.1f}   ({p["train_steps"]} steps of {p["batch_size"]})')
    lines += ['', 'per component (ML Metadata): seconds and state, first run | cached re-run']
    for name, m in models.items():
      first, cached = m['first_run'], m['cached_rerun']
      rerun = {c['node']: c for c in cached['components']}
      lines.append(f'  {name}' + ('' if m['fully_cached'] else
                                  '  (re-run NOT fully cached)'))
      for c in first['components']:
        again = rerun.get(c['node'])
        lines.append(f'    {c["node"]:<24}{c["seconds"]:8.1f} {c["state"]:<9}|'
                     + (f'{again["seconds"]:8.1f} {again["state"]}' if again else '      -'))
      lines.append(f'    {"sum":<24}{first["components_seconds"]:8.1f} {"":<9}|'
                   f'{cached["components_seconds"]:8.1f}')
  latency = result.get('latency')
  if latency:
    lines.append('')
    if latency.get('skipped'):
      lines.append(f'served-model latency: skipped ({latency["skipped"]})')
    else:
      lines += [f'served-model latency: {latency["model"]} ({latency["model_dir"]}), '
                f'{latency["signature"]} in process, {latency["inputs"]}, '
                f'{latency["warmup_calls"]} warm-up calls',
                f'  {"batch":>6}{"calls":>7}{"p50 ms":>9}{"p99 ms":>9}{"images/s":>10}']
      for b in latency['batches']:
        lines.append(f'  {b["batch"]:>6}{b["calls"]:>7}{b["p50_ms"]:>9.2f}{b["p99_ms"]:>9.2f}'
                     f'{b["images_per_s"]:>10.0f}')
  if result.get('error'):
    lines += ['', f'STOPPED: {result["error"]}']
  return '\n'.join(lines)


def write_json(result: Mapping[str, Any], path: str) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  partial = f'{path}.partial'
  with open(partial, 'w', encoding='utf-8') as f:
    json.dump(result, f, indent=1)
    f.write('\n')
  os.replace(partial, path)
