"""The command line's arguments (cheap: no TensorFlow, no TFX), one subcommand per command."""
from __future__ import annotations

import argparse
import os

from pipelines import registry

DESCRIPTION = 'tfzoo: run a model\'s TFX pipeline and say what happened.'


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='tfzoo', description=DESCRIPTION)
  sub = parser.add_subparsers(dest='command', required=True)
  sub.add_parser('list', help='list the registered models')
  run = sub.add_parser('run', help="run a model's pipeline")
  run.add_argument('model', help='model name, e.g. classifier (see `tfzoo list`)')
  run.add_argument('--data', help="CSV file to ingest instead of the model's own (CSV models)")
  run.add_argument('--fast', action='store_true',
                   help='a slice of the data, few steps and lower gates, as pipeline <MODEL>_fast '
                        '(never pushed to MODEL\'s serving/ directory)')
  run.add_argument('--tfds-manual-dir', default=os.environ.get('TFZOO_TFDS_MANUAL_DIR'),
                   help='directory with a TFDS dataset\'s original files, for machines without '
                        'internet (default $TFZOO_TFDS_MANUAL_DIR; unset: TFDS downloads)')
  run.add_argument('--accept-drift', action='store_true',
                   help="train on data that drifted from the served model's training data "
                        '(recorded in ML Metadata); without it such data stops the run, exit 4')
  run.add_argument('--tune', action='store_true',
                   help="search the model's hyperparameters with TFX's Tuner first and train "
                        'with the best (recorded in ML Metadata); tunable: '
                        + ', '.join(registry.tunable()))
  run.add_argument('--train-steps', type=int, help='override the number of training steps')
  run.add_argument('--gate', action='append', default=[], metavar='METRIC=BOUND',
                   help="override a gate's bound, e.g. sparse_categorical_accuracy=0.9")
  run.add_argument('--home', help='work directory (default: $TFZOO_HOME or ./out)')
  run.add_argument('--beam-arg', action='append', default=[],
                   help='Beam pipeline argument, repeatable (also from $BEAM_ARGS)')
  run.add_argument('-v', '--verbose', action='store_true',
                   help='show TF/TFX/Beam logs on the terminal instead of a log file')

  home = argparse.ArgumentParser(add_help=False)
  home.add_argument('--home', help='work directory (default: $TFZOO_HOME or ./out)')
  ports = argparse.ArgumentParser(add_help=False)
  ports.add_argument('--rest-port', type=int, default=int(os.environ.get('REST_PORT', 8501)),
                     help='TF Serving REST port (default $REST_PORT or 8501)')
  ports.add_argument('--grpc-port', type=int, default=int(os.environ.get('GRPC_PORT', 8500)),
                     help='TF Serving gRPC port (default $GRPC_PORT or 8500)')
  serve = sub.add_parser('serve', parents=[home, ports],
                         help='serve every pushed model with TensorFlow Serving (binary or Docker)')
  serve.add_argument('--address', default=os.environ.get('SERVE_ADDRESS', '127.0.0.1'),
                     help="Docker: the address to publish the ports on (default $SERVE_ADDRESS "
                          "or 127.0.0.1, this machine only; 0.0.0.0: every interface). "
                          "tensorflow_model_server itself listens on every interface")
  serve.add_argument('--dry-run', action='store_true',
                     help='write the model config and print the command without running it')
  predict = sub.add_parser('predict', parents=[home, ports], help='ask a served model (or --local)')
  predict.add_argument('model')
  predict.add_argument('input', help='MNIST models: an image file; animal models: fur=1,wings=0; '
                                     'linear: x=5; autocomplete: three letters; seq2seq: an '
                                     'English word; gan: a seed (3); cgan: a digit (7 or '
                                     'digit=7,seed=3)')
  predict.add_argument('--signature', choices=['examples', 'raw', 'noise', 'seed'],
                       help='serving_default (serialized tf.Example; the default) or '
                            'serving_raw (tensors); gan/cgan: serving_default (noise; the '
                            'default) or from_seed (seed)')
  predict.add_argument('--protocol', choices=['grpc', 'rest'], default='grpc')
  predict.add_argument('--host', default=os.environ.get('SERVING_HOST', 'localhost'),
                       help='TF Serving host (default $SERVING_HOST or localhost)')
  predict.add_argument('--local', action='store_true',
                       help='no server: call the latest pushed SavedModel in this process with '
                            'the same request')
  predict.add_argument('--output', metavar='PNG',
                       help='autoencoder, gan, cgan: also write the image answered as this '
                            'PNG file')
  predict.add_argument('--show-request', action='store_true',
                       help='print the REST JSON body that is (or would be) sent')
  runs = sub.add_parser('runs', parents=[home], help='every pipeline run, from ML Metadata')
  runs.add_argument('model', nargs='?')
  lineage = sub.add_parser('lineage', parents=[home],
                           help='what produced a pushed model (latest, or a version directory)')
  lineage.add_argument('target', help='a model name (its latest push) or a pushed version path')
  why = sub.add_parser('why-not-blessed', parents=[home],
                       help="why a run's model was not pushed: metrics against thresholds")
  why.add_argument('model')
  why.add_argument('--run', help='run id (default: the latest run that pushed nothing)')
  report = sub.add_parser('report', parents=[home],
                          help='static HTML pages of every pipeline (or MODEL): runs, data, '
                               'training, evaluation, pictures, model card')
  report.add_argument('model', nargs='?', help='one pipeline (e.g. cnn or cnn_fast); default all')
  board = sub.add_parser('tensorboard', parents=[home], help="TensorBoard on a model's training logs")
  board.add_argument('model')
  board.add_argument('--all', action='store_true', help='every training run side by side')
  board.add_argument('--port', type=int, default=int(os.environ.get('TENSORBOARD_PORT', 6006)),
                     help='default $TENSORBOARD_PORT or 6006')
  board.add_argument('--dry-run', action='store_true', help='print the command only')
  kfp = sub.add_parser('compile-kubeflow', parents=[home],
                       help="compile MODEL's pipeline for Kubeflow Pipelines v2 / Vertex AI")
  kfp.add_argument('model', help='model name, e.g. cnn (see `tfzoo list`)')
  kfp.add_argument('--output', help='the pipeline spec (JSON) to write (default: '
                                    '<work dir>/kubeflow/<pipeline>_pipeline.json)')
  kfp.add_argument('--image', default='tfzoo:latest',
                   help='the image every task runs in, built from the Dockerfile '
                        '(default tfzoo:latest)')
  kfp.add_argument('--pipeline-root', help='where runs write (artifacts, TFDS data, serving/), '
                                           'e.g. gs://bucket/tfzoo')
  kfp.add_argument('--fast', action='store_true', help="MODEL's fast mode (<MODEL>_fast)")
  kfp.add_argument('--beam-arg', action='append', default=[],
                   help='Beam pipeline argument for the tasks, repeatable (also from $BEAM_ARGS)')
  _score(sub)
  _versions(sub)
  return parser


def _score(sub) -> None:
  score = sub.add_parser(
      'score', help="score a batch with TFX's BulkInferrer on MODEL's latest pushed model")
  score.add_argument('model', help='model name, e.g. cnn or cnn_fast (see `tfzoo list`)')
  score.add_argument('input', help='MNIST models: a folder of image files (PNG, JPEG, BMP, '
                                   'GIF); CSV models: a CSV file with exactly the model\'s '
                                   'feature columns (classifier, dnn: fur,wings; linear: x; '
                                   'autocomplete: word; seq2seq: english), no label')
  score.add_argument('--home', help='work directory (default: $TFZOO_HOME or ./out)')
  score.add_argument('--beam-arg', action='append', default=[],
                     help='Beam pipeline argument, repeatable (also from $BEAM_ARGS)')
  score.add_argument('-v', '--verbose', action='store_true',
                     help='show TF/TFX/Beam logs on the terminal instead of a log file')


def _versions(sub) -> None:
  versions = sub.add_parser(
      'versions', help="every pushed version of MODEL: when, which run, its gate metrics, and "
                       "the one TF Serving serves now")
  versions.add_argument('model', help='model name, e.g. cnn or cnn_fast (see `tfzoo list`)')
  versions.add_argument('--home', help='work directory (default: $TFZOO_HOME or ./out)')
  rollback = sub.add_parser(
      'rollback', help='serve an earlier blessed version again (copied as a new, highest '
                       'version)')
  rollback.add_argument('model', help='model name, e.g. cnn or cnn_fast (see `tfzoo list`)')
  rollback.add_argument('version', nargs='?',
                        help='the version number to serve (from `tfzoo versions`), or its '
                             'folder; default: the newest blessed version older than the '
                             'served model')
  rollback.add_argument('--home', help='work directory (default: $TFZOO_HOME or ./out)')
