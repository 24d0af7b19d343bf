"""The tables of clients.toml ([[clients]], [[apis]]) read with the line numbers tomllib does not
report, so that every problem is named `file:line: what is wrong`; and the check every table gets
first: only known keys, each with a value of its type."""

import difflib
import re


def header_lines(text, name):
    """Line numbers of each [[name]] header, in order."""
    header = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
    return [number for number, line in enumerate(text.splitlines(), start=1) if header.match(line)]


def key_line(text, start, key):
    """Line number of `key = ...` in the table starting at line `start`, or `start`."""
    lines = text.splitlines()
    for number in range(start, len(lines)):
        line = lines[number]
        if re.match(r"^\s*\[", line):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number + 1
    return start


def check_keys(data, keys, problems_at, where=""):
    """Every key of the table `data` known in `keys` ({name: type}), with a value of that type; a
    mistyped name gets a "did you mean". False when a value has the wrong type: the table's other
    checks would only repeat that problem."""
    for key, value in data.items():
        if key not in keys:
            hint = difflib.get_close_matches(key, keys, n=1)
            problems_at(key, f"unknown key {key!r}{where}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        elif not isinstance(value, keys[key]) or (keys[key] is int and isinstance(value, bool)):
            problems_at(key, f"{key} must be a {keys[key].__name__}, not {value!r}")
            return False
    return True
