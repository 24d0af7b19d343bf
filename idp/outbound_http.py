"""Latchkey's own requests to addresses in clients.toml (back-channel logout notices, an app's
jwks_uri): exactly the registered address, or nothing. No redirect is followed (a 3xx could lead
anywhere), no proxy is read from the environment, certificates are checked, and every request has a
deadline for the whole exchange as well as a timeout for each step: a server that answers a byte at
a time, or never, holds a worker no longer than `deadline` seconds."""

import http.client
import socket
import ssl
import threading
from urllib.parse import urlsplit


class OutboundError(Exception):
    """The request could not be made or got no complete answer; the message says why."""


def request(method, uri, body=None, headers=None, timeout=5, deadline=10, max_bytes=65536):
    """(status, body) of one request to the http(s) `uri`; OutboundError when it failed or the
    answer was larger than `max_bytes`."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:  # clients.py admits nothing else
        raise OutboundError("not an http(s) URI")
    try:
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        watchdog = threading.Timer(deadline, _cut, (conn,))
        watchdog.start()
        try:
            conn.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body,
                         headers or {})
            response = conn.getresponse()
            answer = response.read(max_bytes + 1)
        finally:
            watchdog.cancel()
            conn.close()
    except (OSError, http.client.HTTPException, ValueError) as e:  # refused, timed out, cut, TLS, broken
        raise OutboundError(f"{type(e).__name__}: {e}"[:200]) from None
    if len(answer) > max_bytes:
        raise OutboundError(f"the answer is larger than {max_bytes} bytes")
    return response.status, answer


def _cut(conn):
    """The deadline passed: end the exchange wherever it is (the blocked read then fails)."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
