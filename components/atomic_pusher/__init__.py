"""AtomicPusher: TFX's Pusher, but a version directory appears complete or not at all.

The package imports nothing heavy: `push_atomically` (also `tfzoo rollback`'s) needs no TFX,
and the component is imported on first use.
"""
from components.atomic_pusher.atomic import INCOMING_PREFIX, push_atomically

__all__ = ['AtomicPusher', 'INCOMING_PREFIX', 'push_atomically']


def __getattr__(name):
  if name == 'AtomicPusher':
    from components.atomic_pusher.component import AtomicPusher  # pylint: disable=g-import-not-at-top
    return AtomicPusher
  raise AttributeError(name)
