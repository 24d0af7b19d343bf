"""Reverse proxies in front of Latchkey: which `X-Forwarded-*` headers are believed (PROXY_HOPS),
and warnings when the set-up makes them unsafe or missing.

`X-Forwarded-For` decides the address that throttling counts and the audit log names. With
PROXY_HOPS = N, the N-th address from the right is believed; anyone who can reach Latchkey
without passing through those N proxies can write that header themselves. So PROXY_HOPS must
equal the real chain of proxies, and Latchkey must be reachable only through them."""

import ipaddress
import logging

from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger("idp")


def _is_loopback(address):
    try:
        return ipaddress.ip_address((address or "").strip("[]")).is_loopback
    except ValueError:
        return address == "localhost"


class ProxyCheck:
    """Looks at the first requests a worker serves (the WSGI server says only then where it is
    bound and who connects) and warns, once each, about:
    - PROXY_HOPS > 0 while Latchkey is bound to, or reached on, a non-loopback address: a client
      there can forge X-Forwarded-For;
    - an https ISSUER while requests arrive over plain http with no forwarded scheme: the proxy's
      X-Forwarded-Proto is not believed (PROXY_HOPS = 0), or no TLS proxy is in front."""

    def __init__(self, app, hops, https_issuer):
        self.app, self.hops, self.https_issuer = app, hops, https_issuer
        self.warned = set()

    def _warn_once(self, what, message, *args):
        if what not in self.warned:
            self.warned.add(what)
            log.warning(message, *args)

    def __call__(self, environ, start_response):
        if self.hops and "exposed" not in self.warned:
            bound, peer = environ.get("SERVER_NAME", ""), environ.get("REMOTE_ADDR", "")
            if bound in ("0.0.0.0", "::") or not _is_loopback(peer):
                self._warn_once(
                    "exposed",
                    "PROXY_HOPS=%d: X-Forwarded-For from the last %d hop(s) is believed, but Latchkey is bound "
                    "to %s and was reached from %s. Anyone who can reach it without passing through your "
                    "proxy can forge the address used for throttling and the audit log: bind to 127.0.0.1 "
                    "or let only the proxy reach it, and set PROXY_HOPS to the real number of proxies.",
                    self.hops, self.hops, bound or "an unknown address", peer or "an unknown address")
        return self.app(environ, start_response)


class SchemeCheck:
    """Runs after ProxyFix: sees the scheme the request is believed to have come in with."""

    def __init__(self, app, check):
        self.app, self.check = app, check

    def __call__(self, environ, start_response):
        if self.check.https_issuer and environ.get("wsgi.url_scheme") == "http":
            self.check._warn_once(
                "scheme",
                "ISSUER is https but a request arrived over plain http, and no believed proxy said it came "
                "over https (X-Forwarded-Proto). Serve Latchkey only behind a TLS proxy and set PROXY_HOPS "
                "to the number of proxies (now %d).", self.check.hops)
        return self.app(environ, start_response)


def wrap(wsgi_app, config):
    """The app as the WSGI server should call it: X-Forwarded-* believed from PROXY_HOPS proxies."""
    hops = config["PROXY_HOPS"]
    check = ProxyCheck(None, hops, config["ISSUER"].startswith("https://"))
    inner = SchemeCheck(wsgi_app, check)
    if hops:
        inner = ProxyFix(inner, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    check.app = inner
    return check
