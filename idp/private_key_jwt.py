"""private_key_jwt (RFC 7523 §2.2, §3; OpenID Connect Core §9): an app proves who it is with a JWT it
signs with its own private key, instead of a secret. Latchkey keeps only the public keys, written
into clients.toml (`jwks`) or fetched from the app (`jwks_uri`).

Authlib's JWTBearerClientAssertion does the protocol (it reads the assertion, finds the app by its
`sub`, checks the signature, `iss` = `sub`, `aud`, `exp` and the jti); this module adds what it
leaves to the provider: the algorithms (RS256, ES256 only: never `none`, never HS256 with a public
key as its secret), a short lifetime, the jti store in SQLite, and the keys."""

import json
import logging
import threading
import time

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import outbound_http, settings
from .db import get_db
from .redirect_uris import registration_problem

log = logging.getLogger(__name__)

METHOD = "private_key_jwt"
#: The signing algorithms accepted (discovery lists them): RSA and P-256 ECDSA, public-key only.
ALGORITHMS = ["RS256", "ES256"]
#: An assertion may live at most this long (s) from now: short, so a copied one is soon worthless.
MAX_LIFETIME = 300
#: Clock skew allowed on exp, nbf and iat (s).
LEEWAY = 60
#: The longest jti stored (characters): a random id, never a document.
MAX_JTI = 200
#: jwks_uri: how long a fetched key set is used (s), how soon an unknown kid may fetch it again (s),
#: the longest wait for the app (s), the largest key set read (bytes), and how many are kept.
CACHE_TTL, REFETCH_AFTER, FETCH_TIMEOUT, MAX_BYTES, CACHE_MAX = 300, 30, 3, 65536, 64
#: The longest a jwks_uri's whole answer may take (s), and how long a failed one is not asked again (s).
FETCH_DEADLINE, RETRY_FAILED_AFTER = 5, 60
#: A JWK member that only a private (or symmetric) key has.
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def public_key_set(data):
    """A JWKS (dict) as a joserfc KeySet of public RSA (2048 bits or more) or P-256 keys for
    signing; ValueError saying what is wrong otherwise."""
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise ValueError('a JWKS is {"keys": [{…}, …]} with at least one key')
    for key in keys:
        if PRIVATE_MEMBERS & set(key):
            raise ValueError("the JWKS holds a private or symmetric key: give the public keys only")
        if key.get("kty") not in ("RSA", "EC") or (key.get("kty") == "EC" and key.get("crv") != "P-256"):
            raise ValueError("keys must be RSA or EC P-256 (for RS256 or ES256)")
        expected = "RS256" if key["kty"] == "RSA" else "ES256"
        if key.get("use", "sig") != "sig" or key.get("alg", expected) != expected:
            raise ValueError("keys must be for signing (use \"sig\"): RSA keys with RS256, EC keys with ES256")
    if len(keys) > 1 and not all(isinstance(k.get("kid"), str) for k in keys):
        raise ValueError("with several keys, give each a kid (the assertion's header names the one it used)")
    try:
        key_set = KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError) as e:
        raise ValueError(f"a key cannot be read: {e}") from None
    if any(k.key_type == "RSA" and k.raw_value.key_size < 2048 for k in key_set.keys):
        raise ValueError("RSA keys must have at least 2048 bits")
    return key_set


def jwks_uri_problem(uri):
    """Why `uri` cannot be an app's jwks_uri, or None: https, or http on a loopback host, by the
    rule of redirect URIs (redirect_uris.py)."""
    if (problem := registration_problem(uri)) or not uri.startswith(("https://", "http://")):
        return f"jwks_uri must be https (http only on 127.0.0.1, [::1] or localhost): {problem or uri!r}"
    return None


def registration_problems(data):
    """(key, message) for each mistake in an app's private_key_jwt keys in clients.toml."""
    method = data.get("token_endpoint_auth_method")
    has_keys = [k for k in ("jwks", "jwks_uri") if k in data]
    if method != METHOD:
        return [(k, f"{k} is only for token_endpoint_auth_method = \"{METHOD}\"") for k in has_keys]
    problems = []
    if len(has_keys) != 1:
        problems.append(("token_endpoint_auth_method", (f"{METHOD} needs the app's public keys: jwks = {{ keys = [...] }} "
                                                        "or jwks_uri = \"https://…\" (one of them)")))
    for key in ("client_secret", "client_secret_hash"):
        if key in data:
            problems.append((key, f"an app that uses {METHOD} has no secret; remove {key}"))
    if isinstance(data.get("jwks"), dict):
        try:
            public_key_set(data["jwks"])
        except ValueError as e:
            problems.append(("jwks", f"jwks: {e}"))
    if isinstance(data.get("jwks_uri"), str) and (problem := jwks_uri_problem(data["jwks_uri"])):
        problems.append(("jwks_uri", problem))
    return problems


_cache = {}  # jwks_uri -> (fetched at, KeySet)
_failed = {}  # jwks_uri -> when its last fetch failed
_cache_lock = threading.Lock()


def _fetch(uri):
    """The key set at exactly `uri` (outbound_http: no redirect, no proxy, FETCH_TIMEOUT per step and
    FETCH_DEADLINE for the whole answer, at most MAX_BYTES)."""
    try:
        status, body = outbound_http.request("GET", uri, headers={"Accept": "application/json"},
                                             timeout=FETCH_TIMEOUT, deadline=FETCH_DEADLINE, max_bytes=MAX_BYTES)
    except outbound_http.OutboundError as e:
        raise ValueError(str(e)) from None
    if status != 200:
        raise ValueError(f"HTTP {status}" + (": redirect not followed" if 300 <= status < 400 else ""))
    return public_key_set(json.loads(body))


def _fetched_keys(uri, kid):
    """The key set of a jwks_uri, from the cache while it is fresh; fetched again when it is old,
    or when it lacks `kid` (the app rotated its keys) and was fetched more than REFETCH_AFTER ago."""
    now = time.monotonic()
    with _cache_lock:
        fetched_at, keys = _cache.get(uri, (None, None))
        failed_at = _failed.get(uri)
    if failed_at is not None and now - failed_at < RETRY_FAILED_AFTER:
        # The last fetch failed: no new one for a while, so assertions naming this app (which anyone can
        # send, signed or not) cannot make every request wait on its key server.
        raise InvalidClientError(status_code=401, description="The app's jwks_uri could not be read.")
    known = keys is not None and (kid is None or any(k.kid == kid for k in keys.keys))
    if keys is not None and now - fetched_at < (CACHE_TTL if known else min(CACHE_TTL, REFETCH_AFTER)):
        return keys
    try:
        keys = _fetch(uri)
    except ValueError as e:  # unreachable, 3xx/4xx/5xx, too slow or large, not a JWKS
        with _cache_lock:
            _failed[uri] = now
            while len(_failed) > CACHE_MAX:
                del _failed[min(_failed, key=_failed.get)]
        log.warning("cannot read the jwks_uri %s: %s", uri, e)
        raise InvalidClientError(status_code=401, description="The app's jwks_uri could not be read.") from None
    with _cache_lock:
        _failed.pop(uri, None)
        _cache[uri] = (now, keys)
        while len(_cache) > CACHE_MAX:  # a bound, however many apps come and go
            del _cache[min(_cache, key=lambda u: _cache[u][0])]
    return keys


def client_keys(client, kid=None):
    """The public keys of a private_key_jwt app: inline (read once per clients.toml load) or from its jwks_uri."""
    if client.jwks_uri:
        return _fetched_keys(client.jwks_uri, kid)
    if getattr(client, "_public_keys", None) is None:
        client._public_keys = public_key_set(client.jwks)
    return client._public_keys


class PrivateKeyJwt(JWTBearerClientAssertion):
    """RFC 7523 §2.2 client authentication, registered as `private_key_jwt`."""

    CLIENT_AUTH_METHOD = METHOD

    def __init__(self):
        super().__init__(validate_jti=True, leeway=LEEWAY)

    def __call__(self, query_client, request):
        try:
            client = super().__call__(query_client, request)
        except InvalidClientError as error:
            error.status_code = 401  # a failed client authentication is 401 (README, Errors)
            raise
        # RFC 7523 §3: the app is the assertion's `sub`; a client_id sent beside it must be the same.
        if client is not None and request.form.get("client_id", client.client_id) != client.client_id:
            raise InvalidClientError(status_code=401, description="client_id differs from the assertion's sub.")
        return client

    def get_audiences(self):
        # RFC 7523 §3 (3), OIDC Core §9: the token endpoint's URL, or the issuer, names this server.
        issuer = settings.current()["ISSUER"]
        return [f"{issuer}/token", issuer]

    def resolve_client_public_key(self, client):
        # joserfc calls this with the assertion, so a jwks_uri is fetched again for a kid it lacks.
        return lambda assertion: client_keys(client, assertion.headers().get("kid"))

    def process_assertion_claims(self, assertion, resolve_key):
        """Authlib's check, with the algorithms fixed: Authlib lets joserfc accept any algorithm
        it recommends, and a malformed key set raises ValueError there (which would be a 500)."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ALGORITHMS)
        except (JoseError, ValueError, TypeError) as e:
            raise InvalidClientError(status_code=401, description="The client assertion's signature is not valid "
                                                                  "(RS256 or ES256, by a key of the app).") from e
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims):
        exp, jti = claims.get("exp"), claims.get("jti")
        if not isinstance(claims.get("aud"), str):
            # One audience, this server's (the audience-injection advice of RFC 7523bis): an assertion
            # also addressed to another server could have been made for that one and replayed here.
            raise InvalidClientError(status_code=401, description="The client assertion's aud must be one string: "
                                                                  "the token endpoint or the issuer.")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp > time.time() + MAX_LIFETIME:
            raise InvalidClientError(status_code=401, description=f"The client assertion must expire within "
                                                                  f"{MAX_LIFETIME} seconds.")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI:
            raise InvalidClientError(status_code=401, description="The client assertion needs a jti (a random id).")
        super().verify_claims(claims)

    def validate_jti(self, claims, jti):
        """RFC 7523 §3 (7): a jti works once. Stored until the assertion could no longer be accepted;
        the primary key makes the insert the check, atomic across workers."""
        cur = get_db().execute("INSERT OR IGNORE INTO client_assertion_jtis (client_id, jti, expires_at)"
                               " VALUES (?, ?, ?)", (claims["sub"], jti, int(claims["exp"]) + LEEWAY))
        return cur.rowcount == 1
