"""Where Latchkey's time goes on each hot path: cProfile around the app's own request handling
(not the HTTP server's), one operation kind at a time.

    python bench/hotspots.py                  # every operation, top 25 functions each
    python bench/hotspots.py refresh --top 40 # one operation
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from flows import OPERATIONS, Provider  # noqa: E402
from servers import USERS, prepare_latchkey  # noqa: E402


class Profiled:
    """WSGI middleware: the profiler runs only while the app handles a request."""

    def __init__(self, app):
        self.app, self.profile = app, cProfile.Profile()

    def __call__(self, environ, start_response):
        self.profile.enable()
        try:
            return list(self.app(environ, start_response))
        finally:
            self.profile.disable()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("operations", nargs="*", default=list(OPERATIONS))
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="a pstats order: tottime, cumulative, …")
    args = parser.parse_args()

    from werkzeug.serving import make_server

    from idp import create_app
    from idp.passwords import new_client_secret

    secret, secret_hash = new_client_secret()
    env, port = prepare_latchkey(os.path.join(tempfile.mkdtemp(prefix="latchkey-profile-"), "latchkey"), secret_hash)
    app = create_app({k.removeprefix("IDP_"): v for k, v in env.items() if k.startswith("IDP_")})
    profiled = Profiled(app.wsgi_app)
    app.wsgi_app = profiled
    server = make_server("127.0.0.1", port, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider = Provider("Latchkey", env["IDP_ISSUER"], secret, "username", "openid profile email offline_access")
    for op in args.operations:
        operation = OPERATIONS[op](provider, USERS[0])
        operation.setup()
        for _ in range(20):  # warm up: first-use caches, the client secret's one argon2 check
            operation.once()
        profiled.profile = cProfile.Profile()
        for _ in range(args.count if op != "sign-in" else max(1, args.count // 10)):
            operation.once()
        out = io.StringIO()
        stats = pstats.Stats(profiled.profile, stream=out)
        count = args.count if op != "sign-in" else max(1, args.count // 10)
        print(f"\n=== {op}: {stats.total_tt * 1000 / count:.3f} ms of profiled app time per operation "
              f"({count} operations; profiling itself adds to this)")
        stats.sort_stats(args.sort).print_stats(args.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))
    server.shutdown()


if __name__ == "__main__":
    main()
