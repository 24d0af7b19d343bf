"""Latchkey's WSGI entry point: `flask run` or `gunicorn app:app` in this folder."""

import sys

from idp import StartupError, create_app

try:
    app = create_app()
except StartupError as e:
    sys.exit(f"Latchkey cannot start: {e}")
