"""The benchmark's report: bench/run.py's results as Markdown (the README's Performance tables)."""

OPERATIONS = ("sign-in", "refresh", "userinfo", "discovery", "jwks")
SERVERS = ("granian", "gunicorn")
#: The targets of issue 12: Latchkey's CPU per operation at most this share of oidc-provider's.
TARGET_RATIO = 0.5
MEMORY_MB, FLAT_MB, COLD_START_S, LARGE_SLOWER = 60, 1.0, 1.0, 0.10


def render(r):
    t, f = r["table"], r["floors"]
    lines = [f"Machine: {r['machine']}. Latchkey: {r['workers']} workers under granian (`latchkey serve`: WSGI, one blocking "
             f"thread each) and under gunicorn (sync workers). Floors, CPU per operation in one process: "
             f"argon2 verify (Latchkey's default parameters) {f['argon2_verify_ms']:.2f} ms, one RS256 "
             f"signature {f['rs256_sign_ms']:.2f} ms, one SQLite commit (WAL) {f['sqlite_commit_ms']:.3f} ms.", "",
             "| operation | clients | Latchkey granian CPU ms/op | Latchkey gunicorn CPU ms/op | oidc-provider CPU ms/op "
             "| granian / oidc-provider | gunicorn / oidc-provider | granian p50 / p99 ms | oidc-provider p50 / p99 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for op in r["counts"]:
        for clients in (1, 4):
            ours = {s: t[f"{s} {op} {clients}"] for s in SERVERS}
            peer = t[f"peer {op} {clients}"]
            lines.append(f"| {op} | {clients} | {ours['granian']['cpu_ms']:.2f} | {ours['gunicorn']['cpu_ms']:.2f} | "
                         f"{peer['cpu_ms']:.2f} | {ratio(ours['granian']['cpu_ms'], peer['cpu_ms'])} | "
                         f"{ratio(ours['gunicorn']['cpu_ms'], peer['cpu_ms'])} | {latency(ours['granian'])} | "
                         f"{latency(peer)} |")
            if op == "sign-in":
                less = {s: ours[s]["cpu_ms"] - f["argon2_verify_ms"] for s in SERVERS}
                lines.append(f"| sign-in less argon2 | {clients} | {less['granian']:.2f} | {less['gunicorn']:.2f} | "
                             f"{peer['cpu_ms']:.2f} | {ratio(less['granian'], peer['cpu_ms'])} | "
                             f"{ratio(less['gunicorn'], peer['cpu_ms'])} | | |")
    for clients in (1, 4):
        floor = {s: r["floor"][s][clients] for s in SERVERS}
        lines.append(f"| empty WSGI app (the server's floor) | {clients} | {floor['granian']['cpu_ms']:.2f} | "
                     f"{floor['gunicorn']['cpu_ms']:.2f} | | | | {latency(floor['granian'])} | |")
    soak, large = r["soak"], r["large"]
    lines += ["", f"Cold start to the first discovery answer (median of 5): Latchkey under granian "
              f"{r['cold_start_s']['latchkey']:.2f} s, oidc-provider {r['cold_start_s']['peer']:.2f} s.",
              f"Resident memory per Latchkey worker (granian): {fmt_mb(soak[0]['rss_mb'])} after {soak[0]['ops']:,} "
              f"operations of the long run, {fmt_mb(soak[-1]['rss_mb'])} after {soak[-1]['ops']:,} "
              f"(oidc-provider after the table: {fmt_mb(r['peer_rss_mb'].values())}).", "",
              f"Large database ({large['seeded']['users']:,} users, {large['seeded']['tokens']:,} tokens, "
              f"{large['seeded']['expired']:,} of them dead): the dead rows were purged while serving in "
              f"{large['purge']['seconds']:.0f} s ({large['purge']['left']:,} left), userinfo p50 / p99 "
              f"meanwhile {large['purge']['p50']:.1f} / {large['purge']['p99']:.1f} ms; then:", "",
              "| operation | empty CPU ms/op | large CPU ms/op | change |", "|---|---|---|---|"]
    for op in ("sign-in", "refresh", "userinfo", "discovery"):
        empty, full = (large["table"][f"{key} {op} 1"]["cpu_ms"] for key in ("small", "large"))
        lines.append(f"| {op} | {empty:.2f} | {full:.2f} | {ratio(full - empty, empty / 100, '+.0f')} % |")
    lines += ["", *targets(r)]
    return "\n".join(lines) + "\n"


def targets(r):
    """The issue's targets, each with what this run measured (granian, 1 / 4 clients) and whether it is met."""
    t, argon2 = r["table"], r["floors"]["argon2_verify_ms"]

    def ratios(op, less=0.0):
        return [(t[f"granian {op} {c}"]["cpu_ms"] - less) / t[f"peer {op} {c}"]["cpu_ms"]
                if t[f"peer {op} {c}"]["cpu_ms"] > 0 else float("inf") for c in (1, 4)]

    rows = [("refresh with rotation ≤ ½ of oidc-provider's CPU", ratios("refresh")),
            ("userinfo ≤ ½", ratios("userinfo")),
            ("discovery ≤ ½", ratios("discovery")),
            ("JWKS ≤ ½", ratios("jwks")),
            ("sign-in less the argon2 verify ≤ ½", ratios("sign-in", argon2))]
    lines = ["| target (issue 12) | measured | met |", "|---|---|---|"]
    for name, (one, four) in rows:
        met = "yes" if max(one, four) <= TARGET_RATIO else "no"
        lines.append(f"| {name} | {one:.2f} × / {four:.2f} × (1 / 4 clients) | {met} |")
    soak = r["soak"]
    first, last = max(soak[0]["rss_mb"]), max(soak[-1]["rss_mb"])
    lines.append(f"| resident memory ≤ {MEMORY_MB} MB per worker after 10,000 operations | {first:.1f} MB | "
                 f"{'yes' if first <= MEMORY_MB else 'no'} |")
    lines.append(f"| flat over 100,000 (growth ≤ {FLAT_MB:.0f} MB) | {first:.1f} → {last:.1f} MB | "
                 f"{'yes' if last - first <= FLAT_MB else 'no'} |")
    cold = r["cold_start_s"]["latchkey"]
    lines.append(f"| cold start to the first discovery answer ≤ {COLD_START_S:.0f} s | {cold:.2f} s | "
                 f"{'yes' if cold <= COLD_START_S else 'no'} |")
    changes = []
    for op in ("sign-in", "refresh", "userinfo", "discovery"):
        empty, full = (r["large"]["table"][f"{key} {op} 1"]["cpu_ms"] for key in ("small", "large"))
        changes.append((op, (full - empty) / empty if empty > 0 else 0.0))
    worst = max(change for _, change in changes)
    lines.append("| 10,000 users and 200,000 tokens: no hot path > 10 % slower | "
                 + ", ".join(f"{op} {change:+.0%}" for op, change in changes)
                 + f" | {'yes' if worst <= LARGE_SLOWER else 'no'} |")
    return lines


def latency(row):
    return f"{row['p50']:.1f} / {row['p99']:.1f}"


def ratio(a, b, spec=".2f"):
    """a / b, or "n/a" when b was too small for /proc's clock ticks (only in --smoke runs)."""
    return format(a / b, spec) if b > 0 else "n/a"


def fmt_mb(values):
    return " / ".join(f"{v:.0f} MB" for v in values)
