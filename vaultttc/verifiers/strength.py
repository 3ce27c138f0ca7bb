"""What a verifier's pass proves, in [0, 1]: the strength every verdict carries.

A reference answer checked by math or string equality is near-proof; a regex admits more; a
test fence written for the task is strong but finite, and so is an author's `python check`
fence (it may test all of an answer or only part of it); a stub's few examples are weaker; a
grader model is a guess. Confidence is built from these numbers (engine.confidence).
"""

from __future__ import annotations

__all__ = ["STRENGTH"]

STRENGTH = {
    "reference": 0.99,
    "regex": 0.95,
    "tests": 0.9,
    "check": 0.9,
    "examples": 0.7,
    "judge": 0.5,
}
