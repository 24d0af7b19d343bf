"""Discovery and the JWKS without Flask: answers that never change while a worker runs are made
once by the app itself and then replayed, byte for byte, with the same headers.

A worker's settings and signing key are fixed from its start, so GET /.well-known/openid-configuration
and /.well-known/jwks.json always get the same answer; routing it through Flask and Werkzeug each
time (request context, URL matching, response hooks) costs several times what the answer does
(README, Performance). Only plain GET and HEAD requests are replayed: one with a query string or an
`Origin` (whose CORS headers depend on it, cors.py) goes through the app as every other request."""

PATHS = ("/.well-known/openid-configuration", "/.well-known/jwks.json")


class StaticAnswers:
    """WSGI middleware in front of the whole app (standalone Latchkey only, create_app)."""

    def __init__(self, app):
        self.app = app
        self.answers = {}  # path -> (status, headers, body), as the app first gave them

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO")
        if (path not in PATHS or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
                or environ.get("QUERY_STRING") or "HTTP_ORIGIN" in environ or environ.get("SCRIPT_NAME")):
            return self.app(environ, start_response)
        answer = self.answers.get(path)
        if answer is None:
            return self._ask_app(environ, start_response, path)
        status, headers, body = answer
        start_response(status, list(headers))
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _ask_app(self, environ, start_response, path):
        """The app answers, as for any request (its after-response work runs when the server closes
        the answer, db.purge_when_due); a GET's plain 200 without a cookie is kept as it goes out."""
        captured = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, list(headers)]
            return start_response(status, headers, exc_info)

        def keep(body):
            status, headers = captured
            if (environ["REQUEST_METHOD"] == "GET" and status.startswith("200 ")
                    and not any(name.lower() == "set-cookie" for name, _ in headers)):
                self.answers[path] = (status, tuple(headers), body)

        return _Recorded(self.app(environ, capture), keep)


class _Recorded:
    """The app's answer passed on chunk by chunk, and handed to `keep` whole once it has all gone out."""

    def __init__(self, result, keep):
        self.result, self.keep = result, keep

    def __iter__(self):
        chunks = []
        for chunk in self.result:
            chunks.append(chunk)
            yield chunk
        self.keep(b"".join(chunks))

    def close(self):
        if hasattr(self.result, "close"):
            self.result.close()
