#!/usr/bin/env python3
"""Two (or more) builds of tokenmint, alternated on the warm token endpoint (or the webhook
signing route): server CPU a request and requests/s, round after round, then the median of each.

usage: python3 benches/ab.py BINARY BINARY [...] [--rounds N] [--seconds S] [--threads T]
                             [--route token|webhook] [--pin] [--perf FOLDER]

On a shared machine the CPU time of one build moves ±8–15% between runs; alternating the builds
in one session, each round running every build once, spreads that drift over all of them, so
the medians compare. A change smaller than the spread printed beside them is not shown by this
machine; count instructions instead (benches/instructions.py). Each run: a fresh folder on
SQLite, `wrk -tT -c32` for 2 s of warm-up, then S seconds (default 5) measured from the server's
/proc CPU time ÷ the tokens answered. T is wrk's threads: 1 by default; 2 is what benches/load.sh
runs, where the load generator's two threads preempt the server's more often, so the server's CPU
a token is higher and moves more. `--route webhook` measures a delivery worker's signing request
instead (a `webhooks:sign` token and a 1 KiB payload, as benches/bench.py sends). `--pin` runs
the server on core 0 and wrk on core 1 (as `PIN=1` in benches/bench.py): the server is never
preempted by its load generator, and its CPU a request moves much less. `--perf FOLDER` records
each measured run's server with `perf record -e cpu-clock` into FOLDER (one file a run, for
`perf report -i`). Needs wrk (apt).
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from bench import basic, cpu_seconds, free_port, run_cli, server_env, wait_http


def lua_string(text):
    """`text` as a Lua string literal."""
    return json.dumps(text)


def run_once(binary, seconds, threads, route, pin=False, perf=None):
    """One server of `binary`, warmed up, then measured: (CPU µs a request, requests/s).
    `pin`: the server on core 0, wrk on core 1. `perf`: a file to record the server's profile in."""
    folder = tempfile.mkdtemp(prefix="tokenmint-ab-")
    base, env = server_env(free_port())

    def cli(*args):
        return run_cli(binary, folder, env, *args)

    cli("migrate")
    cli("teams", "create", "acme")
    scope = ["--scope", "webhooks:sign"] if route == "webhook" else []
    key = json.loads(cli("keys", "create", "--team", "acme", "--label", "ab", *scope, "--json"))
    authorization = basic(key["client_id"], key["client_secret"])
    server_core, generator_core = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if pin else ([], [])
    server = subprocess.Popen(server_core + [binary, "serve"], cwd=folder, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(base + "/readyz")
        if route == "webhook":
            form = urllib.parse.urlencode({"grant_type": "client_credentials", "resource": base})
            request = urllib.request.Request(base + "/api/oauth/token", form.encode(),
                                             {"Authorization": authorization})
            token = json.load(urllib.request.urlopen(request))["access_token"]
            payload = json.dumps({"type": "monitor.down", "data": {"id": "mon_1", "note": "x" * 960}})
            url = base + "/api/teams/acme/webhooks/sign"
            body, content_type, authorization = json.dumps({"payload": payload}), "application/json", "Bearer " + token
        else:
            url = base + "/api/oauth/token"
            body, content_type = "grant_type=client_credentials", "application/x-www-form-urlencoded"
        script = Path(folder) / "load.lua"
        script.write_text('wrk.method = "POST"\n'
                          f"wrk.body = {lua_string(body)}\n"
                          f'wrk.headers["Content-Type"] = {lua_string(content_type)}\n'
                          f'wrk.headers["Authorization"] = {lua_string(authorization)}\n')
        wrk = generator_core + ["wrk", f"-t{threads}", "-c32", "-s", str(script), url]
        subprocess.run(wrk + ["-d2"], capture_output=True, check=True)
        recorder = None
        if perf:
            recorder = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000",
                                         "-p", str(server.pid), "-o", perf],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = cpu_seconds(server.pid)
        out = subprocess.run(wrk + [f"-d{seconds}"], capture_output=True, text=True,
                             check=True).stdout
        spent = cpu_seconds(server.pid) - before
        if recorder:
            recorder.send_signal(signal.SIGINT)
            recorder.wait()
    finally:
        server.terminate()
        server.wait()
    if "Non-2xx" in out:
        raise SystemExit(f"{binary}: some answers were not 200:\n{out}")
    tokens = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return 1e6 * spent / tokens, rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--route", choices=["token", "webhook"], default="token")
    parser.add_argument("--pin", action="store_true")
    parser.add_argument("--perf", metavar="FOLDER")
    args = parser.parse_args()
    if args.perf:
        os.makedirs(args.perf, exist_ok=True)
    unit = "a token" if args.route == "token" else "a request"
    # Absolute: each server runs in its own folder.
    results = {str(Path(b).resolve()): [] for b in args.binaries}
    for round_ in range(1, args.rounds + 1):
        for binary in results:
            perf = None
            if args.perf:
                name = f"{Path(binary).name}-{round_}.perf.data"
                perf = str(Path(args.perf).resolve() / name)
            cpu, rate = run_once(binary, args.seconds, args.threads, args.route, args.pin, perf)
            results[binary].append((cpu, rate))
            print(f"round {round_}: {binary}: {cpu:.1f} µs {unit}, {rate:,.0f}/s", flush=True)
    print()
    for binary, runs in results.items():
        cpus = [cpu for cpu, _ in runs]
        print(f"{binary}: median {statistics.median(cpus):.1f} µs {unit} "
              f"(runs {min(cpus):.1f}–{max(cpus):.1f}), "
              f"{statistics.median(rate for _, rate in runs):,.0f}/s")


if __name__ == "__main__":
    main()
