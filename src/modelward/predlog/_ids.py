"""Time-ordered prediction ids (UUIDv7, RFC 9562) and routing-key hashing.

Python 3.11 has no ``uuid.uuid7``, so it is written here: 48 bits of Unix milliseconds, the
version, 12 bits of a per-millisecond counter (RFC 9562, method 1, so ids made by one process
are strictly increasing), the variant and 62 random bits.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

__all__ = ["hash_routing_key", "new_prediction_id"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF


def new_prediction_id() -> str:
    """A new UUIDv7 as a 36-character string; later calls in a process sort after earlier ones.

    >>> a, b = new_prediction_id(), new_prediction_id()
    >>> len(a), a[14], a < b
    (36, '7', True)
    """
    global _last_ms, _counter
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits: 62 random + 11 counter seed
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _counter = ms, rand >> 69  # random start below 2048: room to count up
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:  # >4096 ids in one millisecond: borrow the next one
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand & (1 << 62) - 1
    return str(uuid.UUID(int=value))


def hash_routing_key(key: str) -> str:
    """The stored form of a routing key: SHA-256 hex, so raw user ids never reach the log.

    >>> hash_routing_key("user-42")[:12]
    '6d894aa3ee80'
    """
    return hashlib.sha256(key.encode()).hexdigest()
