"""Providers: where samples come from. Each SDK is imported in its own module only."""
