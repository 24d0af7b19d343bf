"""The servers the benchmark measures, each started as in production: Latchkey under granian (the
README's `latchkey serve`: granian's WSGI interface, one blocking thread per worker) and under gunicorn
(the documented alternative), oidc-provider in node, and the floor under each Python server, an empty
WSGI app (floor_app.py). Their CPU time and memory are read from /proc for their own processes only."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from flows import CLIENT_ID, PASSWORD, REDIRECT_URI

from idp.serve import server_command

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(HERE, "peer")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
USERS = [f"user{i}" for i in range(4)]
PYTHON_SERVERS = ("granian", "gunicorn")


class Server:
    """A server started as a process tree."""

    def __init__(self, name, command, env, cwd, url):
        self.name, self.url = name, url
        self.log = tempfile.TemporaryFile()
        started = time.perf_counter()
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)
        self.cold_start = wait_for(url + "/.well-known/openid-configuration", self) - started

    def pids(self):
        """The server's process and its descendants (the Python servers' workers)."""
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
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:  # a process that ended between listing and reading
                continue
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


def start_latchkey(env, port, workers, server="granian", cwd=ROOT):
    """Latchkey as the README starts it: `latchkey serve` (which checks the settings and the clients
    file, then becomes granian), or gunicorn with idp.wsgi:app."""
    if server == "granian":
        command = [sys.executable, "-m", "idp.serve", "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(workers)]
    else:
        command = server_command(server, "127.0.0.1", port, workers)
    return Server(f"Latchkey ({server})", command, env, cwd, env["IDP_ISSUER"])


def start_floor(server, workers):
    """An empty WSGI app (floor_app.py) under the same server command."""
    port = free_port()
    command = server_command(server, "127.0.0.1", port, workers, "floor_app:app")
    return Server(f"{server} alone", command, {**os.environ, "IDP_ISSUER": f"http://127.0.0.1:{port}"}, HERE,
                  f"http://127.0.0.1:{port}")


def install_peer():
    """oidc-provider and the Node.js LTS it asks for (v22), from bench/peer/package-lock.json."""
    if not os.path.exists(os.path.join(PEER, "node_modules", ".bin", "node")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER, check=True)


def start_peer(secret):
    port = free_port()
    command = [os.path.join(PEER, "node_modules", ".bin", "node"), "server.mjs", str(port), CLIENT_ID, secret,
               REDIRECT_URI]
    return Server("oidc-provider", command, os.environ, PEER, f"http://127.0.0.1:{port}")


def machine():
    """The CPU, core count, kernel, Python and node the run had."""
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
