"""Latchkey beside oidc-provider (npm), on the same machine, in one run.

    python bench/run.py            # the whole benchmark; the README's Performance table comes from it
    python bench/run.py --quick    # a tenth of the operations, to try the script
    make bench                     # the first, with Latchkey's test dependencies installed first

Each provider runs as in production: Latchkey under gunicorn as the README starts it (one worker per
core), oidc-provider in node with its in-memory store and development login pages. Load processes
drive them over HTTP; a server's CPU time is read from /proc for its own processes only, so the
load generator's speed does not count. Results go to build/bench/ as Markdown and JSON.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from flows import CLIENT_ID, OPERATIONS, PASSWORD, REDIRECT_URI, Provider, timed  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
USERS = [f"user{i}" for i in range(4)]


# --- servers -------------------------------------------------------------------------------------

class Server:
    """A server started as a process tree; its CPU time and memory are read from /proc."""

    def __init__(self, name, command, env, cwd, url):
        self.name, self.url = name, url
        self.log = tempfile.TemporaryFile()
        started = time.perf_counter()
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)
        self.cold_start = wait_for(url + "/.well-known/openid-configuration", self) - started

    def pids(self):
        """The server's process and its descendants (gunicorn's workers)."""
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
        found, frontier = {self.process.pid}, [self.process.pid]
        while frontier:
            frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in found]
            found.update(frontier)
        return sorted(found)

    def cpu_seconds(self):
        total = 0
        for pid in self.pids():
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / TICKS

    def rss_mb(self):
        """Resident memory of each process, in MB."""
        sizes = {}
        for pid in self.pids():
            with open(f"/proc/{pid}/statm") as f:
                sizes[pid] = int(f.read().split()[1]) * PAGE / 1e6
        return sizes

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)


def wait_for(url, server):
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.output()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter()
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{server.name} did not answer {url}:\n{server.output()}")


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_latchkey(folder, secret_hash):
    """An instance folder with the bench app in clients.toml and USERS added; returns the env."""
    from idp import create_app, users

    port = free_port()
    os.makedirs(folder)
    clients = os.path.join(folder, "clients.toml")
    with open(clients, "w") as f:
        f.write(f'[[clients]]\nclient_id = "{CLIENT_ID}"\nclient_name = "Bench app"\n'
                f'client_secret_hash = "{secret_hash}"\n'
                f'redirect_uris = ["{REDIRECT_URI}"]\nscope = "openid profile email offline_access"\n')
    env = {**os.environ, "IDP_ISSUER": f"http://127.0.0.1:{port}", "IDP_CLIENTS_FILE": clients,
           "IDP_INSTANCE_PATH": os.path.join(folder, "instance")}
    settings = {k.removeprefix("IDP_"): v for k, v in env.items() if k.startswith("IDP_")}
    app = create_app(settings)
    with app.app_context():
        for name in USERS:
            users.add_user(name, PASSWORD, f"{name}@example.org", name=f"Bench User {name}")
    return env, port


def start_latchkey(env, port, workers, app="app:app", cwd=ROOT):
    """gunicorn as the README's "Running it for real" starts it."""
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", app]
    return Server("Latchkey", command, env, cwd, env["IDP_ISSUER"])


def floor(workers, count):
    """Discovery's operation against an empty WSGI app under the same gunicorn (bench/floor_app.py)."""
    port = free_port()
    server = start_latchkey({**os.environ, "IDP_ISSUER": f"http://127.0.0.1:{port}"}, port, workers,
                            app="floor_app:app", cwd=HERE)
    provider = Provider("gunicorn alone", server.url, "", "", "")
    try:
        measure(server, provider, "discovery", count // 10, 1)
        return {clients: measure(server, provider, "discovery", count, clients) for clients in (1, 4)}
    finally:
        server.stop()


PEER = os.path.join(HERE, "peer")


def install_peer():
    """oidc-provider and the Node.js LTS it asks for (v22), from bench/peer/package-lock.json."""
    if not os.path.exists(os.path.join(PEER, "node_modules", ".bin", "node")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER, check=True)


def start_peer(secret):
    port = free_port()
    command = [os.path.join(PEER, "node_modules", ".bin", "node"), "server.mjs", str(port), CLIENT_ID, secret,
               REDIRECT_URI]
    return Server("oidc-provider", command, os.environ, PEER, f"http://127.0.0.1:{port}")


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


def argon2_verify_ms(repeat=20):
    """CPU ms of one argon2 verify with Latchkey's default parameters: the sign-in's password check."""
    from idp import passwords
    from idp.settings import DEFAULTS

    hasher = passwords.hasher(DEFAULTS)
    stored = hasher.hash(PASSWORD)
    started = time.process_time()
    for _ in range(repeat):
        hasher.verify(stored, PASSWORD)
    return (time.process_time() - started) * 1000 / repeat


# --- the run -------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the operations")
    parser.add_argument("--smoke", action="store_true", help="a hundredth: only shows that the script works")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="Latchkey's gunicorn workers")
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
        env, port = prepare_latchkey(os.path.join(work, "empty"), secret_hash)
        results["argon2_verify_ms"] = argon2_verify_ms()
        latchkey = start_latchkey(env, port, args.workers)
        peer = start_peer(secret)
        providers = {
            "latchkey": (latchkey, Provider("Latchkey", latchkey.url, secret, "username",
                                            "openid profile email offline_access")),
            "peer": (peer, Provider("oidc-provider", peer.url, secret, "login", "openid profile email")),
        }
        results["table"] = side_by_side(providers, counts)
        for key, (server, _) in providers.items():
            results[f"{key}_rss_mb"] = server.rss_mb()
        results["floor"] = floor(args.workers, counts["discovery"])
        results["cold_start_s"] = {"latchkey": cold_starts(lambda: start_latchkey(env, free_port_env(env), args.workers)),
                                   "peer": cold_starts(lambda: start_peer(secret))}
        peer.stop()
        results["soak"] = soak(latchkey, providers["latchkey"][1], 100_000 // scale, 10_000 // scale)
        latchkey.stop()
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
        workers.pop(server.process.pid)  # the gunicorn master serves no requests
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


# --- the report ----------------------------------------------------------------------------------

def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    node = subprocess.run([os.path.join(PEER, "node_modules", ".bin", "node"), "--version"], capture_output=True,
                          text=True).stdout.strip()
    return (f"{model}, {os.cpu_count()} cores, Linux {os.uname().release}, Python {sys.version.split()[0]}, "
            f"node {node}")


def render(r):
    t = r["table"]
    lines = [f"Machine: {r['machine']}. Latchkey: gunicorn, {r['workers']} workers. "
             f"argon2 verify (Latchkey's default parameters): {r['argon2_verify_ms']:.1f} ms CPU.", "",
             "| operation | clients | Latchkey CPU ms/op | oidc-provider CPU ms/op | Latchkey / oidc-provider "
             "| Latchkey p50 / p99 ms | oidc-provider p50 / p99 ms |",
             "|---|---|---|---|---|---|---|"]
    for op in r["counts"]:
        for clients in (1, 4):
            ours, peer = t[f"latchkey {op} {clients}"], t[f"peer {op} {clients}"]
            lines.append(f"| {op} | {clients} | {ours['cpu_ms']:.2f} | {peer['cpu_ms']:.2f} | "
                         f"{ratio(ours['cpu_ms'], peer['cpu_ms'])} | {ours['p50']:.1f} / {ours['p99']:.1f} | "
                         f"{peer['p50']:.1f} / {peer['p99']:.1f} |")
            if op == "sign-in":
                less = ours["cpu_ms"] - r["argon2_verify_ms"]
                lines.append(f"| sign-in less argon2 | {clients} | {less:.2f} | {peer['cpu_ms']:.2f} | "
                             f"{ratio(less, peer['cpu_ms'])} | | |")
    for clients, row in r["floor"].items():
        lines.append(f"| gunicorn alone: an empty WSGI app | {clients} | {row['cpu_ms']:.2f} | | | "
                     f"{row['p50']:.1f} / {row['p99']:.1f} | |")
    soak = r["soak"]
    lines += ["", f"Cold start to the first discovery answer (median of 5): Latchkey {r['cold_start_s']['latchkey']:.2f} s, "
              f"oidc-provider {r['cold_start_s']['peer']:.2f} s.",
              f"Resident memory per Latchkey worker: {fmt_mb(soak[0]['rss_mb'])} after {soak[0]['ops']:,} operations of "
              f"the long run, {fmt_mb(soak[-1]['rss_mb'])} after {soak[-1]['ops']:,} "
              f"(oidc-provider after the table: {fmt_mb(r['peer_rss_mb'].values())}).", "",
              f"Large database ({r['large']['seeded']['users']:,} users, {r['large']['seeded']['tokens']:,} tokens, "
              f"{r['large']['seeded']['expired']:,} of them dead): the dead rows were purged while serving in "
              f"{r['large']['purge']['seconds']:.0f} s ({r['large']['purge']['left']:,} left), userinfo p50 / p99 "
              f"meanwhile {r['large']['purge']['p50']:.1f} / {r['large']['purge']['p99']:.1f} ms; then:", "",
              "| operation | empty CPU ms/op | large CPU ms/op | change |", "|---|---|---|---|"]
    for op in ("sign-in", "refresh", "userinfo", "discovery"):
        empty, full = (r["large"]["table"][f"{key} {op} 1"]["cpu_ms"] for key in ("small", "large"))
        lines.append(f"| {op} | {empty:.2f} | {full:.2f} | {ratio(full - empty, empty / 100, '+.0f')} % |")
    return "\n".join(lines) + "\n"


def ratio(a, b, spec=".2f"):
    """a / b, or "n/a" when b was too small for /proc's clock ticks (only in --smoke runs)."""
    return format(a / b, spec) if b > 0 else "n/a"


def fmt_mb(values):
    return " / ".join(f"{v:.0f} MB" for v in values)


if __name__ == "__main__":
    main()
