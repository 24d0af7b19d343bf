"""The audit log: one JSON object per line on the `idp.audit` logger, for sign-ins, failures, token
issue, rotation, reuse detection and revocation. It names people, apps and grants; it never holds
a password, secret, code or token."""

import json
import logging

log = logging.getLogger("idp.audit")

#: Field names that would smell of a secret; passing one is a programming error.
FORBIDDEN = {"password", "secret", "client_secret", "code", "access_token", "refresh_token", "id_token", "token"}


def event(name, **fields):
    """Record one audit event."""
    leaked = FORBIDDEN & set(fields)
    if leaked:
        raise ValueError(f"audit fields must not carry secrets: {sorted(leaked)}")
    log.info(json.dumps({"event": name, **fields}, sort_keys=True, default=str))
