#!/usr/bin/env python3
"""tokenmint against the node-oidc-provider peer, in one run, on this machine.

Measures, each with the peer's own load script (../shared/peers/oidc-provider/load.sh: wrk with
two threads, or oha with LOAD_TOOL=oha; CONNECTIONS keep-alive connections, HTTP Basic, RUNS
runs of DURATION seconds after a warm-up, median reported):

  warm token endpoint   tokenmint on SQLite, tokenmint on PostgreSQL, the peer (WORKERS=2)
  JWKS GET              tokenmint (SQLite), the peer
  webhook signing       POST /api/teams/{team}/webhooks/sign (Bearer token, JSON body), by wrk
                        with benches/wrk-json.lua
  cold path             every request a different API key, so each pays an argon2 hash
  wrong-secret flood    500 connections of wrong secrets, while one valid client measures itself
  signing ceiling       criterion's sign_token/ES256: tokens/s two cores could sign doing nothing else

and prints one table with tokens/s, p50, p99, non-200 count, server RSS, server CPU per request
(the server's /proc CPU time over a run ÷ the requests answered), the load generator's CPU per
request (its rusage, the same way) and tokenmint ÷ peer. Raw results go to
target/bench/<UTC time>.json. The load generator shares the two cores with the server, as in the
peer's own measurements, so a line can go no faster than two cores ÷ (server + generator CPU a
request): the table prints that bound too.

PIN=1 gives the server a core of its own instead: every server (tokenmint, the peer) runs on
core 0 and this script, its load generators and clients on the last core, so neither preempts
the other; each line's bound is then the smaller of what one core could serve and what the
generator's core could send. On two cores the server has one core there, not two.

Env: LOAD_TOOL (wrk, the generator of the figures in docs/book/src/performance.md since the
     server's CPU was first measured; oha costs more CPU a request, so its ratios are lower),
     RUNS (3), DURATION (10), WARMUP (3), CONNECTIONS (32), COLD_KEYS (300), FLOOD_SECONDS (10),
     PIN (0 or 1), TOKENMINT_BENCH_DATABASE_URL (else TOKENMINT_TEST_DATABASE_URL, else the local `test`
     database), PEER_DIR, SKIP (comma list of: postgres, peer, cold, flood, ceiling, webhooks).
"""
import base64
import json
import os
import platform
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "tokenmint"
PEER = Path(os.environ.get("PEER_DIR", ROOT.parent / "shared" / "peers" / "oidc-provider"))
LOAD = PEER / "load.sh"
RUNS = int(os.environ.get("RUNS", 3))
DURATION = int(os.environ.get("DURATION", 10))
WARMUP = int(os.environ.get("WARMUP", 3))
CONNECTIONS = int(os.environ.get("CONNECTIONS", 32))
COLD_KEYS = int(os.environ.get("COLD_KEYS", 300))
FLOOD_SECONDS = int(os.environ.get("FLOOD_SECONDS", 10))
SKIP = set(filter(None, os.environ.get("SKIP", "").split(",")))
PIN = os.environ.get("PIN", "0") == "1"


def on_server_core(command):
    """`command`, pinned to core 0 when PIN=1 (the servers' core)."""
    return ["taskset", "-c", "0"] + command if PIN else command
PG_URL = os.environ.get("TOKENMINT_BENCH_DATABASE_URL") or os.environ.get(
    "TOKENMINT_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")


def log(message):
    print(message, file=sys.stderr, flush=True)


def basic(client_id, secret):
    q = lambda s: urllib.parse.quote_plus(s, safe="")
    return "Basic " + base64.b64encode(f"{q(client_id)}:{q(secret)}".encode()).decode()


def load(url, client_id=None, secret=None, method="POST", duration=DURATION, connections=CONNECTIONS, tool=None):
    """Runs the peer's load.sh with LOAD_TOOL (wrk by default) and returns its key=value output."""
    tool = tool or os.environ.get("LOAD_TOOL", "wrk")
    env = dict(os.environ, DURATION=str(duration), CONNECTIONS=str(connections), METHOD=method, TOOL=tool)
    args = [str(LOAD), url] + ([client_id, secret] if client_id else [])
    before = children_cpu_seconds()
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("tool="))
    values = {k: number_or_text(v) for k, v in values.items()}
    values["generator_cpu_s"] = children_cpu_seconds() - before
    return values


def children_cpu_seconds():
    """User and system CPU time of this script's finished children so far (the load generator,
    once waited for, with the processes it waited for), in seconds."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def number_or_text(value):
    """`12.5` → 12.5; `5 (timeouts: 5)` → 5.0; `200:65122` stays text."""
    try:
        return float(value.split()[0])
    except (ValueError, IndexError):
        return value


def family(pid):
    """A process and its children (pgrep)."""
    return [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]


def rss_kib(pids):
    """RSS of these processes, in KiB."""
    total = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pid):
    """User and system CPU time of a process and its children so far, in seconds (/proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in family(pid):
        try:
            # Fields after the command name: state is the first, utime the 12th, stime the 13th.
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


class RssPeak(threading.Thread):
    """Samples RSS every 100 ms while a run lasts; `peak_mib` after `stop()`. The processes are
    listed once, before the run: a `pgrep` every 100 ms would take CPU from the run and count as
    the load generator's (both are this script's children)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pids, self.peak, self.running = family(pid), 0, True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pids))
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.join()
        return self.peak / 1024


def measured(name, pid, **kwargs):
    """Warm-up, then RUNS runs; the median of each figure and the peak RSS."""
    load(duration=WARMUP, **kwargs)
    runs = []
    for i in range(RUNS):
        sampler = RssPeak(pid)
        sampler.start()
        cpu_before = cpu_seconds(pid)
        result = load(**kwargs)
        cpu = cpu_seconds(pid) - cpu_before
        result["rss_mib"] = sampler.stop()
        # Server CPU per answered request: the server's CPU time over the run ÷ the requests
        # the load generator counted (its rate × the run's length).
        answered = result["requests_per_sec"] * kwargs.get("duration", DURATION)
        result["cpu_us"] = 1e6 * cpu / answered if answered else 0.0
        result["generator_cpu_us"] = 1e6 * result["generator_cpu_s"] / answered if answered else 0.0
        runs.append(result)
        log(f"  {name} run {i + 1}: {result['requests_per_sec']:.0f}/s p99 {result['latency_p99_ms']:.2f} ms "
            f"non-200 {result['non_200']:.0f} rss {result['rss_mib']:.1f} MiB cpu {result['cpu_us']:.1f} µs/req "
            f"(generator {result['generator_cpu_us']:.1f})")
    median = lambda key: statistics.median(r[key] for r in runs)
    return {"name": name, "rps": median("requests_per_sec"), "p50": median("latency_p50_ms"),
            "p99": median("latency_p99_ms"), "non_200": sum(r["non_200"] for r in runs),
            "rss": max(r["rss_mib"] for r in runs), "cpu_us": median("cpu_us"),
            "generator_cpu_us": median("generator_cpu_us"), "runs": runs}


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"no answer from {url}")


def server_env(port):
    """The base URL and the environment of a benchmarked server on `port`. One client at tens of
    thousands of requests/s: the per-client limit is raised (its check stays on the measured
    path), and the per-address failure limit and connection cap are off (all the load comes
    from one loopback address), so the flood measures the worst case, an attacker spread over
    many addresses."""
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, TOKENMINT_BIND=f"127.0.0.1:{port}", TOKENMINT_ISSUER=base,
               TOKENMINT_LOG__LEVEL="warn",
               TOKENMINT_RATE_LIMIT__TOKEN_REQUESTS_PER_SECOND="1000000",
               TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE="0",
               TOKENMINT_SERVER__MAX_CONNECTIONS_PER_ADDRESS="0")
    env.pop("RUST_LOG", None)
    return base, env


def run_cli(binary, folder, env, *args):
    """A tokenmint command in `folder`; its standard output."""
    return subprocess.run([str(binary), *args], cwd=folder, env=env, capture_output=True,
                          text=True, check=True).stdout


class Tokenmint:
    """A release tokenmint server in a fresh folder, on SQLite or a fresh PostgreSQL schema."""

    def __init__(self, port, database_url=None):
        self.dir = tempfile.mkdtemp(prefix="tokenmint-bench-")
        self.base, self.env = server_env(port)
        if database_url:
            self.env["TOKENMINT_DATABASE_URL"] = database_url
        self.process = subprocess.Popen(on_server_core([str(BIN), "serve"]), cwd=self.dir, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=open(Path(self.dir) / "serve.log", "w"))
        wait_http(self.base + "/readyz")
        self.cli("teams", "create", "bench")

    def cli(self, *args):
        return run_cli(BIN, self.dir, self.env, *args)

    def create_key(self):
        key = json.loads(self.cli("keys", "create", "--team", "bench", "--label", "bench", "--json"))
        return key["client_id"], key["client_secret"]

    @property
    def token_url(self):
        return self.base + "/api/oauth/token"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=15)


def postgres_schema_url():
    """A fresh schema in the benchmark database, as a URL whose search_path points at it."""
    schema = f"bench_{int(time.time())}"
    subprocess.run(["psql", "-X", "-q", PG_URL, "-c", f"CREATE SCHEMA {schema}"], check=True)
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-c%20search_path%3D{schema}", schema


def cold_path(tm):
    """Each request a key never used before, so every one pays an argon2 hash: COLD_KEYS keys,
    each used exactly once, from 8 concurrent clients; rate over the whole batch."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        keys = list(pool.map(lambda _: tm.create_key(), range(COLD_KEYS)))
    port = int(tm.base.rsplit(":", 1)[1])

    def one(key):
        import http.client
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        connection.request("POST", "/api/oauth/token", "grant_type=client_credentials",
                           {"Authorization": basic(*key), "Content-Type": "application/x-www-form-urlencoded"})
        status = connection.getresponse().status
        connection.close()
        return status, (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, keys))
    elapsed = time.perf_counter() - started
    latencies = sorted(ms for _, ms in results)
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return {"name": f"cold path ({len(keys)} new keys, argon2 each)", "rps": len(keys) / elapsed,
            "p50": pct(0.50), "p99": pct(0.99), "non_200": sum(1 for status, _ in results if status != 200)}


def wrk_json(url, auth, body, duration=DURATION, connections=CONNECTIONS):
    """One wrk run of JSON POSTs (benches/wrk-json.lua); rps, p50, p99, non-200."""
    env = dict(os.environ, LOAD_BODY=body, LOAD_AUTH=auth)
    before = children_cpu_seconds()
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
                          "-s", str(ROOT / "benches" / "wrk-json.lua"), url],
                         env=env, capture_output=True, text=True, check=True).stdout
    kv = dict(l.strip().split("=", 1) for l in out.splitlines() if "=" in l and " " not in l.strip())
    result = {k: float(v) for k, v in kv.items()}
    result["generator_cpu_s"] = children_cpu_seconds() - before
    return result


def webhook_signing(tm):
    """A delivery worker's call: a management token with webhooks:sign, a 1 KiB JSON payload,
    RUNS runs after a warm-up; the median (the table puts it beside JWKS GET and the token
    endpoint, measured on the same server)."""
    key = json.loads(tm.cli("keys", "create", "--team", "bench", "--label", "worker",
                            "--scope", "webhooks:sign", "--json"))
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "resource": tm.base}).encode()
    request = urllib.request.Request(tm.token_url, form, {"Authorization": basic(key["client_id"], key["client_secret"])})
    token = json.load(urllib.request.urlopen(request))["access_token"]
    payload = json.dumps({"type": "monitor.down", "data": {"id": "mon_1", "note": "x" * 960}})
    body = json.dumps({"payload": payload})
    url = tm.base + "/api/teams/bench/webhooks/sign"
    wrk_json(url, "Bearer " + token, body, duration=WARMUP)
    name = "webhook sign, tokenmint"
    runs = []
    for _ in range(RUNS):
        cpu_before = cpu_seconds(tm.process.pid)
        run = wrk_json(url, "Bearer " + token, body)
        answered = run["rps"] * DURATION
        run["cpu_us"] = 1e6 * (cpu_seconds(tm.process.pid) - cpu_before) / answered if answered else 0.0
        run["generator_cpu_us"] = 1e6 * run["generator_cpu_s"] / answered if answered else 0.0
        runs.append(run)
    for i, r in enumerate(runs):
        log(f"  {name} run {i + 1}: {r['rps']:.0f}/s p99 {r['p99_ms']:.2f} ms non-200 {r['non_200']:.0f} "
            f"cpu {r['cpu_us']:.1f} µs/req (generator {r['generator_cpu_us']:.1f})")
    median = lambda k: statistics.median(r[k] for r in runs)
    return [{"name": name, "rps": median("rps"), "p50": median("p50_ms"), "p99": median("p99_ms"),
             "non_200": sum(r["non_200"] for r in runs), "cpu_us": median("cpu_us"),
             "generator_cpu_us": median("generator_cpu_us"), "runs": runs}]


def flood(tm):
    """500 connections of well-formed wrong secrets (they pass the checksum, so each costs an
    argon2 hash) while one valid client with 2 connections measures its own latency. The valid
    client has had a token before the flood starts, as a client in service has: a key never
    verified waits for its first hash in the flood's queue, up to its 2 s, and whether it gets
    through was a race between the load generator and the flood's waves."""
    valid_id, valid_secret = tm.create_key()
    form = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode()
    urllib.request.urlopen(urllib.request.Request(tm.token_url, form, {"Authorization": basic(valid_id, valid_secret)})).read()
    _, other_secret = tm.create_key()
    wrong = basic(valid_id, other_secret)
    env = dict(os.environ, LOAD_METHOD="POST", LOAD_BODY="grant_type=client_credentials", LOAD_AUTH=wrong)
    sampler = RssPeak(tm.process.pid)
    sampler.start()
    flood_proc = subprocess.Popen(["wrk", "-t2", "-c500", f"-d{FLOOD_SECONDS}s", "--timeout", "10s", "-s", str(PEER / "wrk-load.lua"), tm.token_url],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(2)
    valid = load(tm.token_url, valid_id, valid_secret, duration=FLOOD_SECONDS - 4, connections=2)
    flood_out = flood_proc.communicate()[0]
    rss = sampler.stop()
    kv = dict(l.strip().split("=", 1) for l in flood_out.splitlines() if "=" in l and " " not in l.strip())
    return {"name": "valid client during 500-conn wrong-secret flood", "rps": valid["requests_per_sec"],
            "p50": valid["latency_p50_ms"], "p99": valid["latency_p99_ms"], "non_200": valid["non_200"],
            "rss": rss, "flood_rps": float(kv.get("rps", 0)), "flood_non_200": kv.get("non_200")}


def signing_ceiling():
    """criterion's sign_token/ES256 median, as tokens/s for two cores."""
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "hot_path", "--", "sign_token/ES256"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    m = re.search(r"time:\s+\[\S+ \S+ ([0-9.]+) (\w+)", out)
    seconds = float(m.group(1)) * {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3}[m.group(2)]
    return 2 / seconds


def main():
    if PIN:
        cores = os.cpu_count() or 1
        if cores < 2:
            raise SystemExit("PIN=1 needs two cores: one for the server, one for the load generator")
        # This script and everything it starts run on the last core; servers are moved to core 0.
        os.sched_setaffinity(0, {cores - 1})
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(), "rows": [],
               "pinned": PIN}
    rows = results["rows"]
    log("tokenmint on SQLite")
    tm = Tokenmint(18401)
    cid, secret = tm.create_key()
    rows.append(measured("token, tokenmint SQLite", tm.process.pid, url=tm.token_url, client_id=cid, secret=secret))
    rows.append(measured("JWKS, tokenmint", tm.process.pid, url=tm.base + "/.well-known/jwks.json", method="GET"))
    if "webhooks" not in SKIP:
        log("webhook signing")
        rows.extend(webhook_signing(tm))
    if "cold" not in SKIP:
        log("cold path")
        rows.append(cold_path(tm))
    if "flood" not in SKIP:
        log("wrong-secret flood")
        rows.append(flood(tm))
    tm.stop()
    if "postgres" not in SKIP:
        log("tokenmint on PostgreSQL")
        url, schema = postgres_schema_url()
        tm = Tokenmint(18402, url)
        cid, secret = tm.create_key()
        rows.append(measured("token, tokenmint PostgreSQL", tm.process.pid, url=tm.token_url, client_id=cid, secret=secret))
        tm.stop()
        subprocess.run(["psql", "-X", "-q", PG_URL, "-c", f"DROP SCHEMA {schema} CASCADE"], check=False)
    if "peer" not in SKIP:
        log("peer: node-oidc-provider, WORKERS=2")
        env = dict(os.environ, WORKERS="2", PORT="4100")
        pid = int(subprocess.run(on_server_core([str(PEER / "run.sh")]), env=env, capture_output=True, text=True,
                                 check=True).stdout.strip())
        try:
            peer_url = "http://127.0.0.1:4100"
            rows.append(measured("token, peer", pid, url=peer_url + "/token", client_id="peer-client", secret="peer-secret-0123456789"))
            rows.append(measured("JWKS, peer", pid, url=peer_url + "/jwks", method="GET"))
        finally:
            subprocess.run(["pkill", "-P", str(pid)], check=False)
            subprocess.run(["kill", str(pid)], check=False)
    if "ceiling" not in SKIP:
        log("criterion signing ceiling")
        results["signing_ceiling_2_cores"] = signing_ceiling()
    out_dir = ROOT / "target" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / time.strftime("%Y%m%dT%H%M%SZ.json", time.gmtime())).write_text(json.dumps(results, indent=2))
    print(table(results))


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"{os.cpu_count()} × {cpu}, {platform.system()} {platform.release()}"


def table(results):
    rows = {r["name"]: r for r in results["rows"]}
    peer_token = rows.get("token, peer", {}).get("rps")
    peer_jwks = rows.get("JWKS, peer", {}).get("rps")
    # The webhook route has no counterpart in the peer: it is held to the peer's JWKS, its
    # nearest trivial route.
    ratio = {"token, tokenmint SQLite": peer_token, "token, tokenmint PostgreSQL": peer_token,
             "JWKS, tokenmint": peer_jwks, "webhook sign, tokenmint": peer_jwks}
    lines = [f"tokenmint benchmark — {results['date']} — {results['machine']}",
             ("(server on core 0, load generator on another; " if results.get("pinned") else "(load generator on the same cores; ")
             + f"median of {RUNS} × {DURATION} s, {CONNECTIONS} connections)", "",
             "| line | req/s | p50 ms | p99 ms | non-200 | RSS MiB | server CPU µs/req | generator CPU µs/req "
             "| bound req/s | ÷ peer |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    cores = os.cpu_count() or 1
    for r in results["rows"]:
        peer = ratio.get(r["name"])
        rss = f"{r['rss']:.1f}" if "rss" in r else "-"
        cpu = f"{r['cpu_us']:.1f}" if "cpu_us" in r else "-"
        generator = f"{r['generator_cpu_us']:.1f}" if "generator_cpu_us" in r else "-"
        # What the machine's cores could answer were they busy with nothing but this server
        # and its load generator, at the CPU a request each spent in this run: shared, all the
        # cores over both; pinned, the smaller of one core over each.
        spent = r.get("cpu_us", 0) + r.get("generator_cpu_us", 0)
        if "generator_cpu_us" not in r or not r.get("cpu_us") or not r["generator_cpu_us"]:
            bound = "-"
        elif results.get("pinned"):
            bound = f"{min(1e6 / r['cpu_us'], 1e6 / r['generator_cpu_us']):.0f}"
        else:
            bound = f"{cores * 1e6 / spent:.0f}"
        versus = f"{r['rps'] / peer:.2f}×" if peer else "-"
        lines.append(f"| {r['name']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non_200']:.0f} | {rss} | {cpu} | "
                     f"{generator} | {bound} | {versus} |")
    if "flood_rps" in rows.get("valid client during 500-conn wrong-secret flood", {}):
        f = rows["valid client during 500-conn wrong-secret flood"]
        lines.append(f"\nflood: {f['flood_rps']:.0f} wrong-secret requests/s answered (non-200: {f['flood_non_200']})")
    if "signing_ceiling_2_cores" in results:
        c = results["signing_ceiling_2_cores"]
        warm = rows.get("token, tokenmint SQLite", {}).get("rps", 0)
        lines.append(f"signing ceiling (criterion sign_token/ES256, 2 cores): {c:.0f} tokens/s; "
                     f"warm SQLite end to end = {100 * warm / c:.0f}% of it")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
