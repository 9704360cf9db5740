"""Delivery: the only place with network I/O. Given a snapshot of where and what it
may send (``Target``), it never calls back into the plugin.

``outbox`` queues, ``worker`` sends, ``client`` speaks HTTP, ``protocol`` is the wire
format and the server rule, ``files`` writes (and reads) spool, journal and status.
"""

from .protocol import Target
from .worker import Delivery, Options

__all__ = ["Delivery", "Options", "Target"]
