"""The APIs (resource servers) of clients.toml's `[[apis]]` tables, and which one an access token is for.

An API is declared once, beside the apps, with its audience identifier and the scopes it
understands; an app may ask for those scopes when its own `scope` lists them. A table of its own
rather than keys on each app: several apps (a script, a TV app, the club's web app) use one API, and
its audience and scopes are then written once, and a scope names exactly one API (so the scopes of a
request say which API it is for, RFC 9068 §3).

A token request that includes scopes of an API gets a JWT access token for that API
(jwt_access_tokens.py); `resource` (RFC 8707) chooses the API when the app may use several."""

import re

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidScopeError, list_to_scope, scope_to_list

from .redirect_uris import URI_CHARACTERS
from .toml_tables import check_keys, header_lines, key_line

#: Latchkey's own scopes (clients.SUPPORTED_SCOPES): an API cannot take these names.
OIDC_SCOPES = ("openid", "profile", "email", "groups", "offline_access")
#: Every key an [[apis]] table may hold, with the type it must have.
KEYS = {"audience": str, "name": str, "scopes": list, "access_token_ttl": int}
#: RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
#: RFC 8707 §2: a resource is an absolute URI (a scheme, then something), without a fragment.
ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^#]+")


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is invalid, unknown, or not one this app may use."""

    error = "invalid_target"


class Api:
    """One resource server: the `aud` of its tokens, its name, its scopes and token lifetime."""

    def __init__(self, data):
        self.audience = data["audience"]
        self.name = data.get("name", self.audience)
        self.scopes = tuple(data["scopes"])
        self.access_token_ttl = data.get("access_token_ttl")  # None: the app's access_token_ttl

    def own_scope(self, scope):
        """The scopes of `scope` that belong to this API (RFC 9068 §2.2.3: what the JWT carries)."""
        return list_to_scope([s for s in scope_to_list(scope or "") if s in self.scopes])


def _check(data, problems_at):
    """Validate one [[apis]] table; `problems_at(key, message)` records a problem."""
    if not check_keys(data, KEYS, problems_at, " in [[apis]]"):
        return False
    audience = data.get("audience")
    if not audience:
        problems_at(None, "missing audience (the API's identifier, such as https://api.example.org)")
    elif not (ABSOLUTE_URI.fullmatch(audience) and URI_CHARACTERS.fullmatch(audience)):
        problems_at("audience", f"audience must be an absolute URI without a fragment, spaces or quotes "
                                f"(RFC 8707 §2), such as https://api.example.org, not {audience!r}")
    if not data.get("scopes"):
        problems_at(None if "scopes" not in data else "scopes", "an API needs scopes = [\"…\"], the scopes it understands")
    for scope in data.get("scopes", []):
        if not isinstance(scope, str) or not SCOPE_TOKEN.fullmatch(scope):
            problems_at("scopes", f"{scope!r} is not a scope (printable ASCII without spaces, quotes or backslashes)")
        elif scope in OIDC_SCOPES:
            problems_at("scopes", f"{scope!r} is one of Latchkey's own scopes; give the API scopes of its own")
    if data.get("access_token_ttl", 1) <= 0:
        problems_at("access_token_ttl", "access_token_ttl must be greater than 0")
    return True


def parse(tables, text, path):
    """The [[apis]] tables of clients.toml: ({audience: Api}, [problems as 'file:line: …'])."""
    problems, apis, owner = [], {}, {}
    if not isinstance(tables, list):
        return {}, [f"{path}:1: write each API as an [[apis]] table"]
    headers = header_lines(text, "apis")
    for index, table in enumerate(tables):
        start = headers[index] if index < len(headers) else 1

        def problems_at(key, message, start=start):
            problems.append(f"{path}:{key_line(text, start, key) if key else start}: {message}")

        if not _check(table, problems_at) or problems:
            continue
        if table["audience"] in apis:
            problems_at("audience", f"duplicate audience {table['audience']!r}")
            continue
        for scope in table["scopes"]:
            if scope in owner:
                # RFC 9068 §3: the scopes of a request infer its API, so a scope names one API only.
                problems_at("scopes", f"the scope {scope!r} belongs to the API {owner[scope]!r} already")
            owner[scope] = table["audience"]
        apis[table["audience"]] = Api(table)
    return apis, problems


def for_client(scope, apis):
    """{scope: Api} of the API scopes an app's `scope` lists."""
    by_scope = {s: api for api in apis.values() for s in api.scopes}
    return {s: by_scope[s] for s in scope_to_list(scope or "") if s in by_scope}


def check_resource(client, resource):
    """RFC 8707 §2: `resource` must name an API whose scopes this app may ask for."""
    if resource not in {api.audience for api in client.api_scopes.values()}:
        raise InvalidTargetError(f"{resource} is not an API this app may use.")


def choose(client, scope, resource=None, default=None):
    """The API a token for `scope` is for, or None (an opaque token for Latchkey itself).

    `resource` (RFC 8707 §2) names it outright and must be one of the app's APIs, with at least one
    of its scopes asked for. Otherwise the scopes say (RFC 9068 §3); scopes of several APIs at once
    are refused with invalid_scope (RFC 9068 §3), unless `default` (the API the grant's last token
    was for) is among them."""
    asked = scope_to_list(scope or "")
    if resource is not None:
        check_resource(client, resource)
        api = next(a for a in client.api_scopes.values() if a.audience == resource)
        if not any(s in api.scopes for s in asked):
            raise InvalidScopeError(f"Ask for at least one scope of {resource} with resource={resource}.")
        return api
    named = {client.api_scopes[s].audience: client.api_scopes[s] for s in asked if s in client.api_scopes}
    if len(named) > 1:
        if default in named:
            return named[default]
        raise InvalidScopeError("These scopes belong to several APIs: ask for one API at a time, "
                                "or name it with resource (RFC 8707).")
    return next(iter(named.values()), None)


def narrow(client, api, scope):
    """`scope` without the scopes of the app's other APIs: the scope of a token for `api`."""
    return list_to_scope([s for s in scope_to_list(scope or "")
                          if s not in client.api_scopes or client.api_scopes[s] is api])
