"""The note fuzzer, bounded for CI (`bench/fuzz.py` runs the long mode: 100,000 notes)."""

from __future__ import annotations

from fuzz_notes import check, notes
from hypothesis import HealthCheck, given, settings


@settings(
    max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(notes())
def test_random_notes_keep_every_property(raw: str) -> None:
    check(raw)
