#!/usr/bin/env python3
"""The adversarial review's attacks against a release build, with the figures they give.

The test suite performs each attack and asserts the bound; this script measures the figures a
person wants to see beside them, on a release server with the default settings on SQLite:

  huge expires_in       the answer to {"expires_in": "1000000000d"}, and whether the server lives
  concurrent guessing   60 wrong secrets at once for a live Client ID from one address: how many
                        were hashed (401) and how many refused before hashing (429)
  silent connection     how long a connection that sends nothing stays open
  slow head             how long a request head sent one byte a second stays open
  scope flood           a 64 KiB body of distinct scope tokens with a wrong secret, against a plain one
  Client ID probing     median answer time for an unknown Client ID and for a live one with a
                        wrong secret
  file modes            the database folder and files

usage: python3 benches/attacks.py   (builds nothing: run `cargo build --release` first)
Env: HEADER_TIMEOUT (seconds, default 3: server.header_read_timeout for the two connection
attacks, so the run is short; the default setting is 10 s).
"""
import base64
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "tokenmint"
HEADER_TIMEOUT = int(os.environ.get("HEADER_TIMEOUT", 3))


def request(base, path, body=b"", headers=None, method="POST"):
    """(status, seconds, body) of one request on a new connection."""
    req = urllib.request.Request(base + path, data=body or None, method=method, headers=headers or {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, time.perf_counter() - started, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, time.perf_counter() - started, error.read()


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_request(base, client_id, secret, form="grant_type=client_credentials"):
    headers = {"Authorization": basic(client_id, secret),
               "Content-Type": "application/x-www-form-urlencoded"}
    return request(base, "/api/oauth/token", form.encode(), headers)


def open_seconds(port, trickle):
    """How long the server keeps a connection that sends nothing (or a head a byte a second)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(1.0)
    started = time.perf_counter()
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    sent = 0
    while time.perf_counter() - started < 120:
        try:
            if trickle and sent < len(head):
                sock.send(head[sent:sent + 1])
                sent += 1
            if sock.recv(4096) == b"":
                return time.perf_counter() - started
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.perf_counter() - started
    return float("inf")


class Server:
    """A release `tokenmint serve` on a free port, on the folder's SQLite database."""

    def __init__(self, folder, config):
        self.process = subprocess.Popen([str(BIN), "--config", str(config), "serve"], cwd=folder,
                                        stderr=subprocess.PIPE, text=True,
                                        env=dict(os.environ, NO_COLOR="1"))
        for line in self.process.stderr:
            if "tokenmint listening" in line:
                self.port = int(line.rsplit(":", 1)[1].strip())
                break
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def main():
    folder = Path(tempfile.mkdtemp(prefix="tokenmint-attacks-"))
    config = folder / "tokenmint.toml"
    config.write_text(
        f'[server]\nbind = "127.0.0.1:0"\nheader_read_timeout = "{HEADER_TIMEOUT}s"\n'
        f'idle_timeout = "{HEADER_TIMEOUT}s"\n'
        f'[database]\nurl = "sqlite://{folder}/data/tokenmint.db"\n'
        f'[signing]\nmaster_key_file = "{folder}/keys/master.key"\n')

    def cli(*args):
        return subprocess.run([str(BIN), "--config", str(config), *args], capture_output=True,
                              text=True, check=True, cwd=folder).stdout

    def new_key(*extra):
        return json.loads(cli("keys", "create", "--team", "acme", "--label", "k", "--json", *extra))

    results = {}
    server = Server(folder, config)
    base = server.base
    try:
        cli("teams", "create", "acme")
        writer = new_key("--scope", "keys:write")
        victim, other = new_key(), new_key()
        issuer = json.loads(request(base, "/.well-known/oauth-authorization-server", method="GET")[2])["issuer"]
        _, _, body = token_request(base, writer["client_id"], writer["client_secret"],
                                   f"grant_type=client_credentials&scope=keys:write&resource={issuer}")
        bearer = json.loads(body)["access_token"]

        status, _, body = request(base, "/api/teams/acme/keys",
                                  json.dumps({"label": "x", "expires_in": "1000000000d"}).encode(),
                                  {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
        alive = request(base, "/healthz", method="GET")[0]
        results["huge expires_in"] = f"{status} {json.loads(body).get('error')}; /healthz then {alive}"

        # A wrong secret with a good checksum (another key's), so each attempt costs a hash.
        wrong = other["client_secret"]
        with ThreadPoolExecutor(60) as pool:
            started = time.perf_counter()
            statuses = list(pool.map(lambda _: token_request(base, victim["client_id"], wrong)[0], range(60)))
            took = time.perf_counter() - started
        results["60 concurrent wrong secrets, one address"] = (
            f"{statuses.count(401)} hashed (401), {statuses.count(429)} refused before hashing (429), "
            f"{statuses.count(503)} busy (503), in {took:.2f} s")

        results[f"silent connection (header_read_timeout {HEADER_TIMEOUT}s)"] = \
            f"closed after {open_seconds(server.port, False):.1f} s"
        results[f"head at 1 byte/s (header_read_timeout {HEADER_TIMEOUT}s)"] = \
            f"closed after {open_seconds(server.port, True):.1f} s"

        scopes = " ".join(f"s{i}" for i in range(8000))
        flood_form = f"grant_type=client_credentials&scope={scopes}"[:64 * 1024 - 1]
        times = {}
        for name, body in [("plain", "grant_type=client_credentials"), ("flood", flood_form)]:
            # An unknown Client ID is refused before any hash, so the parse is what is measured.
            samples = [token_request(base, "dh_live_" + "Z" * 22, wrong, body)[1] * 1000 for _ in range(15)]
            times[name] = statistics.median(samples)
        results["64 KiB of distinct scope tokens before authentication"] = (
            f"plain body {times['plain']:.2f} ms, scope flood {times['flood']:.2f} ms (median of 15)")

        data = folder / "data"
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in [data, *sorted(data.iterdir())]}
        results["file modes"] = ", ".join(f"{k} {v}" for k, v in modes.items())
    finally:
        server.stop()

    # A fresh server: the guessing above spent this address's hash allowance.
    server = Server(folder, config)
    try:
        unknown = [token_request(server.base, "dh_live_" + "Y" * 22, wrong)[1] * 1000 for _ in range(9)]
        live = [token_request(server.base, victim["client_id"], wrong)[1] * 1000 for _ in range(9)]
        results["Client ID probing (median of 9)"] = (
            f"unknown ID {statistics.median(unknown):.2f} ms, live ID with a wrong secret "
            f"{statistics.median(live):.2f} ms")
    finally:
        server.stop()
    for name, figure in results.items():
        print(f"{name}: {figure}")


if __name__ == "__main__":
    main()
