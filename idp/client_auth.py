"""How an app proves who it is at the token, revocation and introspection endpoints (RFC 6749
§2.3): the Basic header read once, with one parser, and the client_secret_basic method built on it.
The secret check itself is Client.check_client_secret (clients.py)."""

import base64
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import InvalidClientError


def basic_credentials(credentials):
    """(client_id, secret) from the credentials of an `Authorization: Basic` header, or None when
    they are not base64 of UTF-8 'id:secret' with a non-empty id (RFC 7617 §2). RFC 6749 §2.3.1:
    both halves are form-urlencoded first, so they are decoded after the split."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if colon and client_id else None


def authenticate_client_secret_basic(query_client, request):
    """client_secret_basic, in place of Authlib's: its header parser raises (a 500) on any
    Authorization header with a space and one word, such as `Bearer ` or `Basic `. Latchkey reads
    the header here and in Server.authenticate_client only, with `basic_credentials`."""
    scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
    parsed = basic_credentials(credentials) if scheme.lower() == "basic" else None
    if parsed is None or not parsed[1]:
        return None
    client = query_client(parsed[0])
    if client is None:
        raise InvalidClientError(status_code=401, description="The client does not exist on this server.")
    return client if client.check_client_secret(parsed[1]) else None
