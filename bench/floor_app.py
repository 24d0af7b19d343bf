"""The floor under every Latchkey figure: an empty WSGI app that answers discovery's URL with a
fixed JSON body, served by the same server command (granian or gunicorn). What it costs is the
server's and the kernel's share of each request, which no change to Latchkey can remove."""

import json

BODY = json.dumps({"issuer": "http://127.0.0.1", "note": "a fixed answer"}).encode()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
