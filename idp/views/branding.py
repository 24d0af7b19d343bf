"""The site's look: its name, logo and accent colour on every page (SITE_NAME, LOGO, ACCENT_COLOR),
and an app's logo (clients.toml `logo_uri`) on the pages that name the app.

The pages allow no inline style (the Content-Security-Policy is `default-src 'self'`), so the
accent colour reaches them as a tiny stylesheet of its own, /branding/theme.css."""

import hashlib
import logging
import os

from flask import Blueprint, Response, abort, g, has_request_context, request, send_file, url_for
from werkzeug.security import safe_join

from .. import settings
from ..clients import PAGE_URL

log = logging.getLogger(__name__)

bp = Blueprint("branding", __name__)

#: How long a browser may keep the logo and the theme (their URLs change when they do).
CACHE_SECONDS = 24 * 3600

#: The card backgrounds of style.css, light and dark: colours are made readable against these.
LIGHT_CARD, DARK_CARD = "#ffffff", "#1c1f26"

_warned = set()


def _logo_path():
    """The LOGO file in the instance folder, or None (no LOGO, or the file is missing)."""
    config = settings.current()
    name = config["LOGO"]
    if not name or settings.logo_problem(name):  # checked at start too; never a path
        return None
    path = safe_join(config["INSTANCE_PATH"], name)
    if path is None or not os.path.isfile(path):
        if path not in _warned:
            _warned.add(path)
            log.warning("LOGO %r is not a file in %s: the pages show no logo", name, config["INSTANCE_PATH"])
        return None
    return path


@bp.route("/branding/logo")
def logo():
    """The site's logo (LOGO), from the instance folder."""
    path = _logo_path()
    if path is None:
        abort(404)
    kind = settings.LOGO_TYPES[os.path.splitext(path)[1].lower()]
    return send_file(path, mimetype=kind, max_age=CACHE_SECONDS, conditional=True)


# --- colours: WCAG 2.2 relative luminance and contrast ratio (§1.4.3 text 4.5:1, §1.4.11 controls 3:1)

def _rgb(color):
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _hex(rgb):
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def _luminance(color):
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g_, b = (channel(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g_ + 0.0722 * b


def contrast(a, b):
    """The WCAG contrast ratio of two #rrggbb colours, 1 to 21."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _towards(color, target, ratio, background):
    """`color`, mixed step by step with `target` until it stands out `ratio`:1 against `background`."""
    rgb, goal = _rgb(color), _rgb(target)
    for step in range(21):
        mixed = _hex(tuple(c + (t - c) * step / 20 for c, t in zip(rgb, goal)))
        if contrast(mixed, background) >= ratio:
            return mixed
    return target


def _on(color):
    """White or near-black text on `color`, whichever reads better."""
    return "#ffffff" if contrast(color, "#ffffff") >= contrast(color, "#111111") else "#111111"


def theme_css(accent):
    """The stylesheet that carries ACCENT_COLOR: the accent for buttons (3:1 against the card),
    the text on them, and a shade of it for links and focus rings (4.5:1 on the white card; 6:1 on
    the dark one, where thin coloured text on a dark ground reads worse than the ratio says)."""
    light_button = _towards(accent, "#000000", 3, LIGHT_CARD)
    dark_button = _towards(accent, "#ffffff", 3, DARK_CARD)
    return (
        "/* Latchkey's accent colour (ACCENT_COLOR), made readable in light and dark. */\n"
        f":root {{ --accent: {light_button}; --on-accent: {_on(light_button)}; "
        f"--accent-text: {_towards(accent, '#000000', 4.5, LIGHT_CARD)}; }}\n"
        "@media (prefers-color-scheme: dark) {\n"
        f"  :root {{ --accent: {dark_button}; --on-accent: {_on(dark_button)}; "
        f"--accent-text: {_towards(accent, '#ffffff', 6, DARK_CARD)}; }}\n"
        "}\n"
    )


@bp.route("/branding/theme.css")
def theme():
    """ACCENT_COLOR as a stylesheet (inline styles are not allowed by the pages' CSP)."""
    response = Response(theme_css(settings.current()["ACCENT_COLOR"]), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_SECONDS
    response.add_etag()
    return response.make_conditional(request)


def _version(*parts):
    """A short tag that changes when the logo or the theme does, so browsers may cache them."""
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:10]


def app_logo(client):
    """The app's logo_uri, or None; its origin is allowed into this page's img-src
    (errors.security_headers), for this response only."""
    uri = getattr(client, "logo_uri", None)
    match = PAGE_URL.fullmatch(uri) if isinstance(uri, str) else None
    if match is None:
        return None
    g.setdefault("latchkey_img_origins", set()).add(match["origin"])
    return uri


@bp.app_context_processor
def branding():
    """What every page shows: the site's name, its logo and theme, and app_logo(client)."""
    config = settings.current()
    names = {"site_name": config["SITE_NAME"], "logo_url": None, "theme_url": None, "app_logo": app_logo}
    if not has_request_context():  # e.g. a mail rendered by a command: no URLs to build
        return names
    path = _logo_path()
    if path is not None:
        stat = os.stat(path)
        names["logo_url"] = url_for("latchkey.branding.logo", v=_version(path, stat.st_mtime_ns, stat.st_size))
    names["theme_url"] = url_for("latchkey.branding.theme", v=_version(config["ACCENT_COLOR"]))
    return names
