"""Shared fixtures and settings: the HTTP stub server that speaks the Anthropic and OpenAI wire
formats, and the hypothesis profile every property test runs under.

The profile takes machine speed out of hypothesis: no per-example deadline and no "too slow"
health check, so a loaded CI machine cannot fail a property that holds. Example counts stay as
each test sets them; `print_blob` prints the blob that replays a failure
(`@reproduce_failure`). Helper functions live in helpers.py, not here.
"""

from hypothesis import HealthCheck, settings
from stub_server import stub_fixture  # noqa: F401

settings.register_profile(
    "vaultttc",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("vaultttc")
