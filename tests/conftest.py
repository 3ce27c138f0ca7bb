"""Shared fixtures: the HTTP stub server that speaks the Anthropic and OpenAI wire formats."""

from stub_server import stub_fixture  # noqa: F401
