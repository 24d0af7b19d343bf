"""`flask db backup PATH`: a copy of the database, taken while Latchkey keeps serving.

SQLite's online backup API (sqlite3.Connection.backup) copies the database in one read
transaction: in WAL mode that never blocks the workers' writes, and the copy is one consistent
moment of the database, including what is still only in its -wal file. The copy is written under a
temporary name in PATH's folder (mode 0600, like the database), checked (PRAGMA integrity_check),
made one self-contained file (journal_mode DELETE: nothing beside it), and only then renamed to
PATH, so PATH never holds half a backup. An existing PATH is never replaced without `force`.

The signing key, the session secret and the data key are files beside the database, not in it:
`with_keys` copies them too, as PATH.signing_key.pem and so on (KEY_FILES)."""

import os
import sqlite3
import tempfile
from dataclasses import dataclass, field

from . import db, keys

#: The instance's secrets, beside the database (keys.py); data_key exists once someone has set up
#: an authenticator app or a passkey.
KEY_FILES = (keys.SIGNING_KEY_FILE, keys.SESSION_SECRET_FILE, keys.DATA_KEY_FILE)


class BackupError(Exception):
    """No backup was written; the message says why."""


@dataclass
class Backup:
    path: str
    size: int
    version: int
    people: int
    keys_written: list = field(default_factory=list)  # the copies' paths
    keys_not_copied: list = field(default_factory=list)  # the originals' paths


def backup(config, path, force=False, with_keys=False):
    """Copy the database of `config` (the settings) to `path`; with `with_keys`, its key files too."""
    database, instance = config["DATABASE"], config["INSTANCE_PATH"]
    present = [name for name in KEY_FILES if os.path.isfile(os.path.join(instance, name))]
    targets = [path] + ([f"{path}.{name}" for name in present] if with_keys else [])
    for target in targets:  # before anything is written
        _check_target(database, target, force)
    result = Backup(path, 0, 0, 0)
    _write(path, force, lambda temporary: _copy_database(database, temporary, result))
    for name in present:
        original = os.path.join(instance, name)
        if with_keys:
            try:
                with open(original, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise BackupError(f"cannot read {original}: {e.strerror or e}") from None
            _write(f"{path}.{name}", force, lambda temporary: _write_bytes(temporary, data))
            result.keys_written.append(f"{path}.{name}")
        else:
            result.keys_not_copied.append(original)
    return result


def _check_target(database, target, force):
    if os.path.isdir(target):
        raise BackupError(f"{target} is a folder: give the backup's file name, e.g. "
                          f"{os.path.join(target, 'idp.sqlite3')}")
    real = os.path.realpath(target)
    if real in {os.path.realpath(database) + suffix for suffix in ("", "-wal", "-shm", "-journal")}:
        raise BackupError(f"{target} is the database itself: back it up to another file")
    if os.path.lexists(target) and not force:
        raise BackupError(f"{target} exists: give another name, or --force to replace it")


def _write(target, force, fill):
    """Make `target` (mode 0600) by `fill(temporary)` on a temporary file beside it, then rename it
    into place. Without `force`, the name is claimed first (O_EXCL), so nothing there is replaced,
    not even a file that appeared since the check; a failure leaves nothing behind."""
    folder = os.path.dirname(os.path.abspath(target))
    claimed = temporary = None
    try:
        if not force:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            claimed = target
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".latchkey-backup-")  # mode 0600
        os.close(fd)
        fill(temporary)
        os.replace(temporary, target)
        temporary = claimed = None
    except FileExistsError:
        raise BackupError(f"{target} exists: give another name, or --force to replace it") from None
    except OSError as e:
        raise BackupError(f"cannot write {target}: {e.strerror or e}") from None
    finally:
        leftovers = [claimed] if claimed else []
        if temporary:  # and what SQLite may have left beside it
            leftovers += [temporary + suffix for suffix in ("", "-journal", "-wal", "-shm")]
        for name in leftovers:
            if os.path.lexists(name):
                os.unlink(name)


def _copy_database(database, temporary, result):
    try:
        source = db.connect(database)
        try:
            copy = sqlite3.connect(temporary, isolation_level=None)
            try:
                source.backup(copy)  # every page in one step: one consistent snapshot
                copy.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
                check = [row[0] for row in copy.execute("PRAGMA integrity_check")]
                result.version = copy.execute("PRAGMA user_version").fetchone()[0]
                result.people = copy.execute("SELECT COUNT(*) FROM users").fetchone()[0]
            finally:
                copy.close()
        finally:
            source.close()
    except sqlite3.Error as e:
        raise BackupError(f"cannot copy the database {database}: {e}") from None
    if check != ["ok"]:
        raise BackupError(f"the copy of {database} failed its integrity check: {'; '.join(check[:5])}")
    fd = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(fd)  # on disk before it takes PATH's name
    finally:
        os.close(fd)
    result.size = os.path.getsize(temporary)


def _write_bytes(temporary, data):
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
