"""Fixtures for every test; they live in helpers.py so that test modules in subfolders can import
the helpers by a unique module name."""

from helpers import alice, app, client, clients_file, flow, live_server, runner, settings  # noqa: F401
