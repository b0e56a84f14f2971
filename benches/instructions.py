#!/usr/bin/env python3
"""User-space instructions a request, counted exactly by valgrind's callgrind: a steadier figure
than CPU time on a shared machine, for comparing two builds of one change.

usage: python3 benches/instructions.py [--dhat] [token|webhook] [REQUESTS] [BINARY]

Starts BINARY (default target/release/tokenmint) `serve` under callgrind in a fresh folder on
SQLite, sends 200 warm-up requests on one keep-alive connection, zeroes the counters
(`callgrind_control -z`), sends REQUESTS (default 1000) more, dumps (`callgrind_control -d`) and
prints the instructions a request. `token`: the warm token endpoint; `webhook`: a delivery
worker's signing request with a 1 KiB payload. Needs valgrind (apt). The dump stays in the
printed folder for `callgrind_annotate`.

--dhat: counts heap blocks instead, with valgrind's DHAT: the server stops after REQUESTS and
prints the blocks a request, warm-up included, at the call sites that allocated at least 0.9
blocks a request: an estimate that leaves out what only some requests allocate (and the
start-up, as a rule). The dump opens in DHAT's viewer.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench import basic, free_port, run_cli, server_env, wait_http

ROOT = Path(__file__).resolve().parent.parent
DHAT = "--dhat" in sys.argv[1:]
ARGS = [arg for arg in sys.argv[1:] if arg != "--dhat"]
ROUTE = ARGS[0] if len(ARGS) > 0 else "token"
REQUESTS = int(ARGS[1]) if len(ARGS) > 1 else 1000
# Absolute: the server runs in a folder of its own.
BINARY = str(Path(ARGS[2] if len(ARGS) > 2 else ROOT / "target" / "release" / "tokenmint").resolve())


PORT = free_port()
# Requests sent before counting; DHAT cannot zero its counts, so it divides by all requests.
WARM_UP = 200


def main():
    if ROUTE not in ("token", "webhook"):
        sys.exit(f"route must be token or webhook, not {ROUTE}")
    folder = tempfile.mkdtemp(prefix="tokenmint-instructions-")
    issuer, env = server_env(PORT)

    def cli(*args):
        return run_cli(BINARY, folder, env, *args)

    cli("migrate")
    cli("teams", "create", "acme")
    scope = ["--scope", "webhooks:sign"] if ROUTE == "webhook" else []
    key = json.loads(cli("keys", "create", "--team", "acme", "--label", "bench", *scope, "--json"))
    dump = os.path.join(folder, "dhat.out" if DHAT else "callgrind.out")
    tool = (["--tool=dhat", f"--dhat-out-file={dump}"] if DHAT
            else ["--tool=callgrind", f"--callgrind-out-file={dump}"])
    server = subprocess.Popen(["valgrind", *tool, BINARY, "serve"], cwd=folder, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Slower to start under valgrind than alone.
        wait_http(f"{issuer}/healthz", seconds=120)
        request = requester(key, issuer)
        for _ in range(WARM_UP):
            request()
        if not DHAT:
            subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True)
        for _ in range(REQUESTS):
            request()
        if DHAT:
            # DHAT writes its dump when the server exits.
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)
        else:
            subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
            time.sleep(1)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    if DHAT:
        sites = json.load(open(dump))["pps"]
        sent = WARM_UP + REQUESTS
        blocks = sum(site["tbk"] for site in sites if site["tbk"] >= 0.9 * sent)
        print(f"{ROUTE}: {blocks / sent:.1f} heap blocks a request "
              f"({REQUESTS} requests; dump in {dump})")
        return
    total = None
    for line in open(dump + ".1"):
        if line.startswith(("summary:", "totals:")):
            total = int(line.split()[1])
            break
    print(f"{ROUTE}: {total / REQUESTS:,.0f} instructions a request "
          f"({REQUESTS} requests; dump in {dump}.1)")


def requester(key, issuer):
    """One keep-alive connection and a function that sends one request of ROUTE on it."""
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    quote = lambda s: urllib.parse.quote_plus(s, safe="")
    authorization = basic(key["client_id"], key["client_secret"])

    def post(path, body, headers):
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        text = response.read()
        if response.status != 200:
            sys.exit(f"{path} answered {response.status}: {text!r}")
        return text

    def token(form="grant_type=client_credentials"):
        text = post("/api/oauth/token", form,
                    {"Authorization": authorization, "Content-Type": "application/x-www-form-urlencoded"})
        return json.loads(text)["access_token"]

    if ROUTE == "token":
        return token
    bearer = "Bearer " + token(f"grant_type=client_credentials&resource={quote(issuer)}")
    payload = json.dumps({"type": "monitor.down", "data": {"id": "mon_1", "note": "x" * 960}})
    body = json.dumps({"payload": payload})
    headers = {"Authorization": bearer, "Content-Type": "application/json"}
    return lambda: post("/api/teams/acme/webhooks/sign", body, headers)


if __name__ == "__main__":
    main()
