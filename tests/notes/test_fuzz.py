"""The note fuzzer, bounded for CI (`bench/fuzz.py` runs the long mode: 100,000 notes)."""

from __future__ import annotations

from fuzz_notes import check, notes
from hypothesis import HealthCheck, example, given, settings

# Found by the long mode (bench/fuzz.py): a `#` heading inside a callout after a changelog
# heading with no table ended its section, so every write-back appended another table.
FOUND = (
    "\ufeff---\ntags: 0.5\n---\n> [!faq]+ x\ty | x\ty\n> samples:: 2\n> the author's answer\n\n"
    "## Changelog\nkept by hand\n\n> [!QUESTION]+ x\ty 답 😀 답 x\ty 😀\n\n> #\n"
)


@settings(
    max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(notes())
@example(FOUND)
def test_random_notes_keep_every_property(raw: str) -> None:
    check(raw)
