"""OpenID Connect Front-Channel Logout 1.0: the signed-out page that ends a session in this browser
loads, in hidden frames, the `frontchannel_logout_uri` of each app that session signed in to (§2;
with `iss` and `sid` when the app sets frontchannel_logout_session_required, §3), and only then goes
on to the app's post_logout_redirect_uri, if the sign-out came from an app.

No script is needed: the page's `<meta http-equiv="refresh">` comes due only once the document has
completely loaded (HTML, "shared declarative refresh steps"), which is after every frame has loaded.
The page's Content-Security-Policy allows frames from exactly those apps' origins (errors.py)."""

from typing import NamedTuple
from urllib.parse import urlencode

from flask import current_app, g, render_template

from . import settings
from .clients import origin

#: The request's frame origins, for the page's frame-src (errors.security_headers).
FRAME_ORIGINS = "latchkey_frame_origins"


class Frame(NamedTuple):
    name: str  # the app's client_name
    url: str


def frames(ended):
    """The frames that tell the apps of `ended` (a signout.Ended, or None) that their session ended."""
    if ended is None:
        return []
    registry = current_app.extensions["latchkey_clients"]
    result = []
    for client_id in ended.client_ids:
        client = registry.get(client_id)
        if client is None or not client.frontchannel_logout_uri:
            continue
        url = client.frontchannel_logout_uri  # exactly as registered (clients.py checked it)
        if client.frontchannel_logout_session_required and ended.sid:
            # §3: iss and sid as query parameters, after any the app registered.
            url += ("&" if "?" in url else "?") + urlencode({"iss": settings.current()["ISSUER"], "sid": ended.sid})
        result.append(Frame(client.client_name, url))
    return result


def _apps(ended):
    """(names of the apps told of the sign-out, names of those that cannot be told)."""
    registry = current_app.extensions["latchkey_clients"]
    told, not_told = [], []
    for client_id in ended.client_ids if ended else ():
        client = registry.get(client_id)
        if client is not None:
            listens = client.backchannel_logout_uri or client.frontchannel_logout_uri
            (told if listens else not_told).append(client.client_name)
    return told, not_told


def signed_out_page(ended, redirect=None, continue_to=None, client=None):
    """The answer to a sign-out that ended `ended` in this browser: `redirect` (a response sending the
    browser back to `client` at `continue_to`) when no app needs a frame, else the signed-out page,
    which loads the frames and then goes on to `continue_to`, if any."""
    loaded = frames(ended)
    if redirect is not None and not loaded:
        return redirect
    g.setdefault(FRAME_ORIGINS, set()).update(origin(f.url) for f in loaded)
    told, not_told = _apps(ended)
    return render_template("latchkey/signed_out.html", frames=loaded, continue_to=continue_to, client=client,
                           told=told, not_told=not_told)
