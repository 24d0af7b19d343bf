"""A short, readable name for a browser from its User-Agent header ("Firefox on Linux", "Safari on
iPhone"), for the account page's list of sessions. A small rule table, first match wins; the raw
header is never stored, only this summary.

The header is whatever the other end sends, so this is a hint for the person ("is that my phone?"),
not proof of anything."""

import re

#: (token in the header, browser name). Order matters: Edge, Opera, Samsung Internet and Vivaldi
#: also say "Chrome/", Chrome and Firefox on iOS also say "Safari/", and nearly everyone says "Mozilla".
BROWSERS = (
    ("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("Edge/", "Edge"),
    ("OPR/", "Opera"), ("OPiOS/", "Opera"), ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Vivaldi/", "Vivaldi"),
    ("Brave/", "Brave"),
    ("DuckDuckGo/", "DuckDuckGo"),
    ("FxiOS/", "Firefox"), ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"), ("HeadlessChrome/", "Headless Chrome"), ("Chromium/", "Chromium"), ("Chrome/", "Chrome"),
    ("Version/", "Safari"),  # Safari's own header: "Version/17.4 … Safari/605.1.15"
    ("Trident/", "Internet Explorer"), ("MSIE ", "Internet Explorer"),
)

#: (token in the header, system name). iPhone and Android before the desktop systems they mention
#: ("like Mac OS X", "Linux; Android").
SYSTEMS = (
    ("iPhone", "iPhone"), ("iPad", "iPad"), ("iPod", "iPod"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"), ("Mac OS X", "macOS"),
    ("FreeBSD", "FreeBSD"), ("OpenBSD", "OpenBSD"),
    ("Linux", "Linux"), ("X11", "Linux"),
)

#: The longest summary kept (a fallback name comes from the header, so it is capped too).
MAX_LENGTH = 60
#: A program that is not a browser names itself first: "curl/8.5.0", "python-requests/2.32".
_PRODUCT = re.compile(r"([A-Za-z][A-Za-z0-9._-]{0,29})/")

UNKNOWN = "Unknown browser"


def _first(rules, header):
    return next((name for token, name in rules if token in header), None)


def describe(header):
    """"Firefox on Linux", "Safari on iPhone", "curl", or "Unknown browser"."""
    header = (header or "")[:1000]
    browser, system = _first(BROWSERS, header), _first(SYSTEMS, header)
    if browser is None and "Safari/" in header and system in ("iPhone", "iPad", "iPod", "macOS"):
        browser = "Safari"
    if browser is None and not header.startswith("Mozilla/"):
        product = _PRODUCT.match(header)
        browser = product.group(1) if product else None
    if browser and system:
        summary = f"{browser} on {system}"
    elif browser:
        summary = browser
    elif system:
        summary = f"A browser on {system}"
    else:
        summary = UNKNOWN
    return summary[:MAX_LENGTH]
