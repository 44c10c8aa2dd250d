"""UUIDv7 prediction ids and routing-key hashes."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from modelward.predlog import hash_routing_key, new_prediction_id


def test_ids_are_uuid7_and_carry_the_time() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(new_prediction_id())
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after + 1


def test_ids_increase_within_a_process_even_in_one_millisecond() -> None:
    ids = [new_prediction_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_are_unique_across_threads() -> None:
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda _: [new_prediction_id() for _ in range(2_000)], range(8)))
    ids = [i for batch in batches for i in batch]
    assert len(set(ids)) == len(ids) == 16_000


def test_routing_keys_are_hashed_stably() -> None:
    assert hash_routing_key("user-42") == hash_routing_key("user-42")
    assert hash_routing_key("user-42") != hash_routing_key("user-43")
    assert len(hash_routing_key("user-42")) == 64
