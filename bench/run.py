"""Latchkey beside oidc-provider (npm), on the same machine, in one run.

    python bench/run.py            # the whole benchmark; the README's Performance table comes from it
    python bench/run.py --quick    # a tenth of the operations, to try the script
    make bench                     # the first, with Latchkey's test dependencies installed first

Each provider runs as in production (bench/servers.py): Latchkey under granian as the README starts
it (one worker per core) and under gunicorn, oidc-provider in node with its in-memory store and
development login pages. Load processes drive them over HTTP; a server's CPU time is read from /proc
for its own processes only, so the load generator's speed does not count. Results go to build/bench/
as Markdown (bench/report.py) and JSON.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import floors  # noqa: E402
from flows import OPERATIONS, Provider, timed  # noqa: E402
from report import render  # noqa: E402
from servers import (  # noqa: E402
    PYTHON_SERVERS,
    USERS,
    free_port,
    install_peer,
    machine,
    prepare_latchkey,
    start_floor,
    start_latchkey,
    start_peer,
)

# --- load ----------------------------------------------------------------------------------------

def _load_process(provider, op, username, count, setup_done, go, results):
    try:
        operation = OPERATIONS[op](provider, username)
        operation.setup()
        setup_done.wait()
        go.wait()
        results.put(timed(operation, count))
    except BaseException as e:  # the parent reports it; don't leave it waiting at a barrier
        setup_done.abort()
        go.abort()
        results.put(e)


def measure(server, provider, op, count, clients):
    """`count` operations of kind `op` from `clients` parallel processes: server CPU ms per
    operation and latencies. Set-up (a first sign-in for refresh and userinfo) is not counted."""
    ctx = multiprocessing.get_context("fork")
    setup_done, go, results = ctx.Barrier(clients + 1), ctx.Barrier(clients + 1), ctx.Queue()
    processes = [ctx.Process(target=_load_process, args=(provider, op, USERS[i % len(USERS)], max(1, count // clients),
                                                          setup_done, go, results))
                 for i in range(clients)]
    for p in processes:
        p.start()
    try:
        setup_done.wait()
        cpu = server.cpu_seconds()
        go.wait()
    except threading.BrokenBarrierError:
        raise RuntimeError(f"{provider.name} {op}: {results.get(timeout=60)!r}") from None
    started = time.perf_counter()
    latencies = []
    for _ in processes:
        result = results.get()
        if isinstance(result, BaseException):
            raise RuntimeError(f"{provider.name} {op}: {result!r}")
        latencies += result
    wall = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu
    for p in processes:
        p.join()
    return summary([(cpu, wall, latencies)])


def summary(samples):
    """One row from several (cpu seconds, wall seconds, latencies) samples of the same operation."""
    latencies = [ms for _, _, part in samples for ms in part]
    cpu, wall, done = sum(s[0] for s in samples), sum(s[1] for s in samples), len(latencies)
    return {"ops": done, "cpu_ms": cpu * 1000 / done, "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99), "per_s": done / wall, "samples": samples}


def side_by_side(providers, counts, levels=(1, 4), rounds=3):
    """Every operation at 1 and 4 clients, the providers taking turns in `rounds` rounds, so a
    change in the machine's speed during the run falls on both alike."""
    table = {}
    for key, (server, provider) in providers.items():
        for op, count in counts.items():
            measure(server, provider, op, max(20, count // 10), 1)  # warm up (node's JIT too)
    for clients in levels:
        for op, count in counts.items():
            samples = {key: [] for key in providers}
            for _ in range(rounds):
                for key, (server, provider) in providers.items():
                    samples[key] += measure(server, provider, op, count // rounds, clients)["samples"]
            for key, (_, provider) in providers.items():
                row = table[f"{key} {op} {clients}"] = summary(samples[key])
                print(f"{provider.name:14} {op:10} x{clients}: {row['cpu_ms']:.3f} ms CPU/op, "
                      f"p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms", flush=True)
    return table


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- the run -------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the operations")
    parser.add_argument("--smoke", action="store_true", help="a hundredth: only shows that the script works")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="Latchkey's workers under each server")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench"), help="where the results go")
    args = parser.parse_args()
    scale = 100 if args.smoke else 10 if args.quick else 1
    counts = {"sign-in": 400 // scale, "refresh": 2000 // scale, "userinfo": 4000 // scale,
              "discovery": 4000 // scale, "jwks": 4000 // scale}
    out = args.out
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="latchkey-bench-")
    from idp.passwords import new_client_secret

    secret, secret_hash = new_client_secret()  # as `flask client secret` makes them
    results = {"machine": machine(), "workers": args.workers, "counts": counts}
    install_peer()
    try:
        results["floors"] = floors.measure_all()
        scope = "openid profile email offline_access"
        providers, envs = {}, {}
        for name in PYTHON_SERVERS:
            envs[name], port = prepare_latchkey(os.path.join(work, name), secret_hash)
            server = start_latchkey(envs[name], port, args.workers, name)
            providers[name] = (server, Provider(server.name, server.url, secret, "username", scope))
        peer = start_peer(secret)
        providers["peer"] = (peer, Provider("oidc-provider", peer.url, secret, "login", "openid profile email"))
        results["table"] = side_by_side(providers, counts)
        results["peer_rss_mb"] = peer.rss_mb()
        providers["gunicorn"][0].stop()
        results["floor"] = {name: floor(name, args.workers, counts["discovery"]) for name in PYTHON_SERVERS}
        env = envs["granian"]
        results["cold_start_s"] = {"latchkey": cold_starts(lambda: start_latchkey(env, free_port_env(env), args.workers)),
                                   "peer": cold_starts(lambda: start_peer(secret))}
        peer.stop()
        latchkey = providers["granian"]
        results["soak"] = soak(latchkey[0], latchkey[1], 100_000 // scale, 10_000 // scale)
        latchkey[0].stop()
        results["large"] = large_database(work, secret, secret_hash, args.workers, counts, scale)
    finally:
        for server, _ in locals().get("providers", {}).values():
            if server.process.poll() is None:
                server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report = render(results)
    print(report)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(report)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(without_samples(results), f, indent=2)


def floor(server, workers, count):
    """Discovery's operation against an empty WSGI app under `server` (bench/floor_app.py)."""
    app = start_floor(server, workers)
    provider = Provider(f"{server} alone", app.url, "", "", "")
    try:
        measure(app, provider, "discovery", count // 10, 1)
        return {clients: measure(app, provider, "discovery", count, clients) for clients in (1, 4)}
    finally:
        app.stop()


def without_samples(value):
    if isinstance(value, dict):
        return {str(k): without_samples(v) for k, v in value.items() if k != "samples"}
    return value


def free_port_env(env):
    """Point env at a new free port (for a second Latchkey on the same instance); return it."""
    port = free_port()
    env["IDP_ISSUER"] = f"http://127.0.0.1:{port}"
    return port


def cold_starts(start, runs=5):
    """Seconds from starting the server's process to its first discovery answer (median of runs)."""
    times = []
    for _ in range(runs):
        server = start()
        times.append(server.cold_start)
        server.stop()
    return statistics.median(times)


def soak(server, provider, total, step=10_000):
    """A long mixed run (refresh, userinfo, discovery, JWKS and a sign-in now and then) from 4
    clients; the workers' resident memory after every `step` operations."""
    samples = []
    done = 0
    while done < total:
        for op, share in (("refresh", 0.25), ("userinfo", 0.35), ("discovery", 0.2), ("jwks", 0.19), ("sign-in", 0.01)):
            done += measure(server, provider, op, max(4, int(step * share)), 4)["ops"]
        workers = server.rss_mb()
        workers.pop(server.process.pid)  # granian's main process serves no requests
        samples.append({"ops": done, "rss_mb": sorted(workers.values())})
        print(f"soak: {done} operations, workers' RSS {', '.join(f'{v:.1f}' for v in samples[-1]['rss_mb'])} MB",
              flush=True)
    return samples


def large_database(work, secret, secret_hash, workers, counts, scale=1):
    """The hot paths on a database with 10,000 users and 200,000 tokens (half of them dead and
    due for purging) beside a new, nearly empty one, taking turns."""
    import seed

    env, port = prepare_latchkey(os.path.join(work, "large"), secret_hash)
    database = os.path.join(env["IDP_INSTANCE_PATH"], "idp.sqlite3")
    seeded = seed.fill(database, users=10_000 // scale, tokens=200_000 // scale)
    large = start_latchkey(env, port, workers)
    small = start_latchkey(*prepare_latchkey(os.path.join(work, "small"), secret_hash), workers)
    scope = "openid profile email offline_access"
    providers = {"small": (small, Provider("empty database", small.url, secret, "username", scope)),
                 "large": (large, Provider("large database", large.url, secret, "username", scope))}
    try:
        # Serve while the purge of the dead rows goes on after each response, until it is done.
        # At least one round: at the smoke test's size the purge may be done before the first.
        during, started = [], time.perf_counter()
        while not during or (seed.count_dead(database) and time.perf_counter() - started < 600):
            during += measure(large, providers["large"][1], "userinfo", 200, 4)["samples"]
        purge = {"seconds": time.perf_counter() - started, "left": seed.count_dead(database), **summary(during)}
        print(f"large database: purged while serving in {purge['seconds']:.1f} s, userinfo p99 meanwhile "
              f"{purge['p99']:.1f} ms", flush=True)
        ops = {op: counts[op] for op in ("sign-in", "refresh", "userinfo", "discovery")}
        table = side_by_side(providers, ops, levels=(1,))
    finally:
        large.stop()
        small.stop()
    return {"seeded": seeded, "purge": purge, "table": table}


if __name__ == "__main__":
    main()
