"""What a new password must be (NIST SP 800-63B §5.1.1.2): at least 8 characters, no composition
rules, and not one that attackers try first: the most common passwords (a list shipped with
Latchkey, idp/data/common_passwords.txt) and the person's own username, email or the site's name."""

import functools
import os
import unicodedata

MIN_LENGTH = 8
#: Long enough for any passphrase; a bound so nobody can make argon2 hash a megabyte.
MAX_LENGTH = 1000


@functools.cache
def _common():
    path = os.path.join(os.path.dirname(__file__), "data", "common_passwords.txt")
    with open(path, encoding="utf-8") as f:
        return frozenset(line.rstrip("\n") for line in f if line.strip() and not line.startswith("#"))


def _folded(text):
    return unicodedata.normalize("NFKC", text or "").casefold().strip()


def problem(password, username="", email="", site_name=""):
    """Why `password` may not be chosen, as a sentence for the person, or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"Choose a password of at least {MIN_LENGTH} characters (a few words make a good one)."
    if len(password) > MAX_LENGTH:
        return f"Choose a password of at most {MAX_LENGTH} characters."
    folded = _folded(password)
    if folded in _common():
        return "That password is one of the most common ones, which attackers try first. Choose another."
    local_part = (email or "").split("@")[0]
    for own in (username, email, local_part, site_name):
        if own and len(_folded(own)) >= 3 and (folded == _folded(own) or folded.replace(" ", "") == _folded(own).replace(" ", "")):
            return "Your password must not be your username, your email or the site's name."
    if len(set(folded)) == 1:
        return "A password of one character repeated is guessed at once. Choose another."
    return None
