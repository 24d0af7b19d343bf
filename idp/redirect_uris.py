"""Redirect URIs: which may be registered in clients.toml, and whether a requested one matches.

One rule, read as strings: Python's `urlsplit`, Werkzeug and browsers (the WHATWG URL standard)
disagree about `\\`, `@`, tabs, case and ports, so a check that parses a URI and compares its
parts can approve one that the browser then sends to another host (RFC 9700 §4.1.3). A requested
URI matches when it is the registered string, character for character (RFC 6749 §3.1.2.3,
RFC 9700 §2.1). The one exception is RFC 8252 §7.3: for a native app (`application_type =
"native"`, OpenID Connect Registration §2), a loopback `http` URI may carry any port, and then
everything but the digits of the port must still be the registered string."""

import re
from urllib.parse import urlsplit

# RFC 8252 §7.1: a private-use scheme is a reverse domain name, so it holds at least one dot.
PRIVATE_SCHEME = re.compile(r"[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+")

# A loopback http URI, split as a browser splits it: the authority is exactly one of the three
# loopback names, with an optional port of digits, and nothing else (no userinfo, no backslash);
# `rest` is the path and query, or nothing.
LOOPBACK = re.compile(r"http://(?P<host>127\.0\.0\.1|\[::1\]|localhost)(?::(?P<port>[0-9]*))?(?P<rest>[/?].*)?", re.S)

# Printable ASCII but the characters browsers treat differently from Python, or which no URI
# holds unescaped (RFC 3986 §2): space, ", <, >, \, ^, `, {, |, }.
URI_CHARACTERS = re.compile(r"[!#-;=?-\[\]_a-z~]+")


def _port_ok(port):
    """A port as written in a canonical URI: digits, no leading zero, at most 65535."""
    return port is None or (port.isdigit() and not port.startswith("0") and int(port) <= 65535)


def loopback_parts(uri):
    """(host, port, rest) of a loopback http URI written canonically, or None for any other string."""
    match = LOOPBACK.fullmatch(uri) if isinstance(uri, str) else None
    if match is None or not _port_ok(match["port"]) or match["port"] == "":
        return None
    return match["host"], match["port"], match["rest"] or ""


def registration_problem(uri):
    """Why `uri` cannot be registered as a redirect URI, or None when it can (RFC 9700 §2.1,
    RFC 6749 §3.1.2, RFC 8252 §7)."""
    if not isinstance(uri, str) or not uri:
        return "a redirect URI must be a non-empty string"
    if "*" in uri:
        return f"{uri!r}: wildcards are not allowed; register each URI exactly"
    if "#" in uri:
        return f"{uri!r}: a fragment is not allowed (RFC 6749 §3.1.2)"
    if not URI_CHARACTERS.fullmatch(uri):
        return (f"{uri!r}: only printable ASCII without spaces, quotes, backslashes or <>^`{{|}} may appear "
                "in a redirect URI (percent-encode anything else)")
    scheme, colon, rest = uri.partition(":")
    if scheme == "https":
        authority = rest[2:].split("/")[0].split("?")[0] if rest.startswith("//") else ""
        if not authority or "@" in authority:
            return f"{uri!r}: an https URI needs a host and no user name (https://host/path)"
        try:
            urlsplit(uri).port  # noqa: B018 - raises on a bad port
        except ValueError as e:
            return f"{uri!r}: not a valid URI ({e})"
        return None
    if scheme == "http":
        if loopback_parts(uri) is not None:
            return None
        return (f"{uri!r}: http is only allowed on a loopback host, written http://127.0.0.1, http://[::1] "
                "or http://localhost with an optional port; use https")
    if PRIVATE_SCHEME.fullmatch(scheme) and colon:
        return None
    return (
        f"{uri!r}: must be https, http on a loopback host, or a private-use scheme "
        "in reverse-domain form such as com.example.app:/callback"
    )


def matches(registered, requested, native=False):
    """True when `requested` may be used in place of the registered URI `registered`."""
    if not isinstance(requested, str):
        return False
    if requested == registered:
        return True
    if not native:
        return False
    # RFC 8252 §7.3: the port of a native app's loopback redirect is chosen at run time.
    mine, theirs = loopback_parts(registered), loopback_parts(requested)
    return mine is not None and theirs is not None and (mine[0], mine[2]) == (theirs[0], theirs[2])


def matches_any(registered_uris, requested, native=False):
    """True when `requested` matches one of `registered_uris` (see `matches`)."""
    return any(matches(uri, requested, native) for uri in registered_uris)
