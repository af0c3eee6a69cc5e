"""AtomicPusher: TFX's Pusher, but a version directory appears complete or not at all."""
from components.atomic_pusher.component import AtomicPusher
from components.atomic_pusher.executor import INCOMING_PREFIX, push_atomically

__all__ = ['AtomicPusher', 'INCOMING_PREFIX', 'push_atomically']
