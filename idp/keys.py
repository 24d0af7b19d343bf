"""The instance's secrets: the RS256 signing key (kid "1") and the session secret, made on first start."""

import logging
import os
import secrets
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

log = logging.getLogger(__name__)

KID = "1"
SIGNING_KEY_FILE = "signing_key.pem"
SESSION_SECRET_FILE = "session_secret"
DATA_KEY_FILE = "data_key"


def _create_private(path, data):
    """Create `path` holding `data`, mode 0600 (never readable by others, even for a moment).

    Written to a temporary name, then linked into place: the server's workers start together on a
    first start, and none of them may read a half-written file. Raises FileExistsError when
    another worker's file got there first."""
    folder = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".new-")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(temporary, path)  # atomic, and fails if `path` exists
    finally:
        os.unlink(temporary)


def _load_or_create(path, make, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        data = make()
        try:
            _create_private(path, data)
            log.info("created %s: %s", what, path)
        except FileExistsError:  # another worker made it first: use theirs
            with open(path, "rb") as f:
                return f.read()
        return data


def _new_rsa_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_signing_key(instance_path):
    """The RSA-2048 signing key as a joserfc key with kid "1"."""
    pem = _load_or_create(
        os.path.join(instance_path, SIGNING_KEY_FILE), _new_rsa_pem, "RSA-2048 signing key"
    )
    return RSAKey.import_key(pem, {"kid": KID, "use": "sig", "alg": "RS256"})


def load_session_secret(instance_path):
    """The secret that signs browser session cookies and CSRF tokens."""
    return _load_or_create(
        os.path.join(instance_path, SESSION_SECRET_FILE),
        lambda: secrets.token_hex(32).encode("ascii"),
        "session secret",
    ).decode("ascii").strip()


def load_data_key(instance_path):
    """A 256-bit key that encrypts the secrets Latchkey must be able to read back (the seeds of
    authenticator apps), so the database alone does not give them away."""
    return _load_or_create(os.path.join(instance_path, DATA_KEY_FILE), lambda: secrets.token_bytes(32),
                           "data encryption key")


def public_jwks(key):
    """The JWKS document: the public half of the signing key only."""
    return {"keys": [key.as_dict(private=False)]}
