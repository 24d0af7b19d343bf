"""Fixtures of the interop suite (they live in world.py, so test modules can import its helpers)."""

from world import chromium, new_page, page, world  # noqa: F401
