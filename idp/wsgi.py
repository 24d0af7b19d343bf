"""Latchkey's WSGI app for a production server, from any working folder: `latchkey serve` runs it
under granian; `gunicorn idp.wsgi:app` works too. Settings: IDP_* variables and
<IDP_INSTANCE_PATH>/config.toml (README, Running it for real)."""

import sys

from . import StartupError, create_app

try:
    app = create_app()
except StartupError as e:
    sys.exit(f"Latchkey cannot start: {e}")
