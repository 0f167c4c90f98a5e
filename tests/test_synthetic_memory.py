"""Generation streams: peak memory does not grow with the number of people.

Holding the events of 400 people (~14k messages) in memory would cost tens of MB,
several times the fixed buffers; a streaming writer stays flat. The 1M-people run lives
in bench/generate.py, not here.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

from sources.synthetic import generate_world

END = datetime(2026, 11, 1, tzinfo=UTC)


def _peak_bytes(out, people: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        manifest = generate_world(out, people, seed=4, end=END)
        return tracemalloc.get_traced_memory()[1], sum(manifest.counts["messages_written"].values())
    finally:
        tracemalloc.stop()


def test_peak_memory_at_ten_times_the_people_stays_under_twice(tmp_path):
    generate_world(tmp_path / "warm", 20, seed=4, end=END)  # imports and caches outside the measurement
    small_peak, small_messages = _peak_bytes(tmp_path / "small", 40)
    large_peak, large_messages = _peak_bytes(tmp_path / "large", 400)
    assert large_messages > 8 * small_messages
    assert large_peak <= 2 * small_peak, (small_peak, large_peak)
