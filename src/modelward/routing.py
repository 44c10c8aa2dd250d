"""Arm assignment: which arm of a split a request goes to, by a stable hash of its routing key.

A pure function, below both the server and the maintenance loop, so the live server and an
offline replay (a backtest, a rollout decision recomputed later) assign every key to the same
arm. The same key always lands in the same arm — across requests, restarts, processes and
replicas — because the assignment depends only on the key, a salt (one per rollout, so two
rollouts do not put the same users in their canaries) and the split; never on time, process
or order of arrival. Requests with no routing key are split at random, in the same shares.

>>> split = [("champion", 0.95), ("canary", 0.05)]
>>> assign_arm("user-42", split, salt="credit:rollout-7")
'champion'
>>> assign_arm("user-42", split, salt="credit:rollout-7") == assign_arm("user-42", split, salt="credit:rollout-7")
True
>>> round(bucket("user-42", "credit:rollout-7"), 6)
0.408752
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Protocol

__all__ = ["UniformSource", "assign_arm", "bucket"]


class UniformSource(Protocol):
    """Anything with ``random() -> float`` in [0, 1): the ``random`` module, ``random.Random``,
    a NumPy ``Generator``."""

    def random(self) -> float: ...


_SCALE = float(2**64)


def bucket(routing_key: str, salt: str) -> float:
    """The key's position in [0, 1): the first 64 bits of SHA-256 over ``salt`` and the key."""
    digest = hashlib.sha256(f"{salt}\x00{routing_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign_arm(
    routing_key: str | None,
    split: Sequence[tuple[str, float]],
    *,
    salt: str,
    rng: UniformSource | None = None,
) -> str:
    """The arm of ``split`` (``(arm, share)`` pairs, shares summing to 1) that ``routing_key`` goes to.

    Arms own consecutive slices of [0, 1) in the order given, so growing a canary from 5 % to
    25 % keeps every user already in it there. Without a key, a uniform draw from ``rng`` (the
    module's generator by default) decides.
    """
    if not split:
        raise ValueError("split needs at least one (arm, share) pair")
    total = sum(share for _, share in split)
    if any(share < 0 for _, share in split) or abs(total - 1.0) > 1e-9:
        raise ValueError(f"arm shares must be >= 0 and sum to 1, got {list(split)}")
    point = float((rng or random).random()) if routing_key is None else bucket(routing_key, salt)
    edge = 0.0
    for arm, share in split:
        edge += share
        if point < edge:
            return arm
    return split[-1][0]  # rounding: the last slice ends at 1
