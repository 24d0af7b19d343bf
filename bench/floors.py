"""What an operation cannot cost less than, measured in this process with Latchkey's own settings:
one argon2 verify (a sign-in's password check), one RS256 signature (every ID token), and one SQLite
commit as Latchkey's connections make it (WAL, synchronous FULL: the sign-in's and refresh's write)."""

import os
import tempfile
import time

from flows import PASSWORD


def cpu_ms(action, repeat):
    """CPU milliseconds (user + system, this process) of one `action()`, averaged over `repeat`."""
    action()  # first-use work is not the floor
    started = time.process_time()
    for _ in range(repeat):
        action()
    return (time.process_time() - started) * 1000 / repeat


def argon2_verify_ms(repeat=20):
    """One argon2 verify with Latchkey's default parameters."""
    from idp import passwords
    from idp.settings import DEFAULTS

    hasher = passwords.hasher(DEFAULTS)
    stored = hasher.hash(PASSWORD)
    return cpu_ms(lambda: hasher.verify(stored, PASSWORD), repeat)


def rs256_sign_ms(repeat=200):
    """One RS256 signature with an RSA-2048 key (what signing an ID token costs at the least)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 600  # about an ID token's header and claims
    return cpu_ms(lambda: key.sign(message, padding.PKCS1v15(), hashes.SHA256()), repeat)


def sqlite_commit_ms(repeat=500):
    """One small INSERT and its commit on a WAL database, as idp.db.connect opens it."""
    from idp.db import connect

    folder = tempfile.mkdtemp(prefix="latchkey-floor-")
    path = os.path.join(folder, "floor.sqlite3")
    db = connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, value TEXT UNIQUE)")
    counter = iter(range(10 ** 9))

    def commit():
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (value) VALUES (?)", (f"{next(counter):064x}",))
        db.execute("COMMIT")

    try:
        return cpu_ms(commit, repeat)
    finally:
        db.close()
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


def measure_all():
    return {"argon2_verify_ms": argon2_verify_ms(), "rs256_sign_ms": rs256_sign_ms(),
            "sqlite_commit_ms": sqlite_commit_ms()}


if __name__ == "__main__":
    for name, value in measure_all().items():
        print(f"{name}: {value:.3f}")
