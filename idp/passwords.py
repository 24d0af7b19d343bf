"""argon2id hashing for user passwords and client secrets."""

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


def verify_secret(stored_hash, secret):
    """Check a client secret against its argon2 hash (the hash carries its own cost)."""
    return verify(_default, stored_hash, secret)


def new_client_secret():
    """A new random client secret (256 bits) and its argon2id hash for clients.toml."""
    secret = secrets.token_urlsafe(32)
    return secret, _default.hash(secret)
