"""argon2id hashing for user passwords and client secrets."""

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_default = PasswordHasher(type=Type.ID)


def hasher(settings):
    """A PasswordHasher with the cost the settings name (ARGON2_*)."""
    return PasswordHasher(
        time_cost=settings["ARGON2_TIME_COST"],
        memory_cost=settings["ARGON2_MEMORY_KIB"],
        parallelism=settings["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def verify(ph, stored_hash, password):
    """True when `password` matches `stored_hash`; never raises for a wrong or odd input."""
    try:
        return ph.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


#: The stored form of a secret made by `flask client secret`: "$sha256$" and 64 hex digits.
FAST_PREFIX = "$sha256$"


def verify_secret(stored_hash, secret):
    """Check a client secret against its stored form, which says how it was hashed:
    - "$sha256$<hex>": a random 256-bit secret from `flask client secret`. Nobody can guess it
      from a dictionary, so a fast hash is as strong as a slow one; compared in constant time.
    - "$argon2…": any other secret (the form `flask client secret` wrote before), argon2 as for
      passwords; the hash carries its own cost."""
    if stored_hash.startswith(FAST_PREFIX):
        digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
        return hmac.compare_digest(digest, stored_hash[len(FAST_PREFIX):])
    return verify(_default, stored_hash, secret)


def is_slow_hash(stored_hash):
    """True when checking a secret against `stored_hash` costs an argon2 run."""
    return not stored_hash.startswith(FAST_PREFIX)


def new_client_secret():
    """A new random client secret (256 bits) and its stored form for clients.toml."""
    secret = secrets.token_urlsafe(32)
    return secret, FAST_PREFIX + hashlib.sha256(secret.encode("utf-8")).hexdigest()
