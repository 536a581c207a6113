#!/usr/bin/env python3
"""Load driver: many CTAP clients against one `softkey sim` on a vault.

    scripts/load.py [--clients 8,64] [--seconds 10] [--bin target/release/softkey]
    scripts/load.py --control 100          # the control API: add, use, remove

Each client is python-fido2 on its own UDP socket and CTAPHID channel, mixing
getAssertion (60 %), makeCredential (20 %, one in four discoverable) and
getInfo (20 %) with a fresh clientDataHash per request. Every assertion's
signature is checked against the credential's public key over the authData
and the clientDataHash the client sent, so an answer that belongs to another
request cannot pass. Reported per run: requests/s, p50/p99 latency per
command, CTAPHID_ERR_CHANNEL_BUSY answers (python-fido2 retries them), reports
that arrived on a foreign channel, requests lost (no answer, or an error), and
the simulator's peak RSS (VmHWM). Exits non-zero if any request was lost or
misrouted. Not a timed test: the figures depend on the machine; the python
test suite runs a small load (tests/python/test_load.py) for the
correctness checks only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

from fido2.ctap2 import Ctap2  # noqa: E402
from fido2.hid import CtapHidDevice  # noqa: E402
from fido2.webauthn import AttestedCredentialData  # noqa: E402
from softkey_udp import UdpCtapHidConnection, descriptor_for  # noqa: E402

CHANNEL_BUSY = 0x06
# Authenticators added at once: below the simulator's MAX_AUTHENTICATORS (64,
# simulator/src/control/mod.rs), which its own --udp authenticator counts in.
MAX_AT_ONCE = 50
ERROR = 0x80 | 0x3F
ES256 = [{"type": "public-key", "alg": -7}]


class CountingConnection(UdpCtapHidConnection):
    """Counts BUSY errors and reports on channels other than the client's."""

    def __init__(self, descriptor, timeout):
        super().__init__(descriptor, timeout)
        self.channel = None
        self.busy = 0
        self.foreign = 0

    def read_packet(self):
        packet = super().read_packet()
        channel = int.from_bytes(packet[:4], "big")
        if self.channel is not None and channel not in (self.channel, 0xFFFFFFFF):
            self.foreign += 1
        if packet[4] == ERROR and packet[7] == CHANNEL_BUSY:
            self.busy += 1
        return packet


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Client(threading.Thread):
    def __init__(self, index: int, port: int, deadline: float, ops: int | None, seed: int):
        super().__init__(daemon=True)
        self.index, self.port, self.deadline, self.ops = index, port, deadline, ops
        self.rng = random.Random(seed)
        self.latencies: dict[str, list[float]] = {"getAssertion": [], "makeCredential": [], "getInfo": []}
        self.lost: list[str] = []
        self.connection = None

    def make(self, ctap: Ctap2, rk: bool):
        user = {"id": os.urandom(16), "name": f"load{self.index}"}
        rp = {"id": f"load{self.index}.example"}
        attestation = ctap.make_credential(os.urandom(32), rp, user, ES256, options={"rk": rk})
        data: AttestedCredentialData = attestation.auth_data.credential_data
        return rp["id"], data

    def run(self):
        descriptor = descriptor_for("127.0.0.1", self.port)
        self.connection = CountingConnection(descriptor, timeout=30.0)
        try:
            device = CtapHidDevice(descriptor, self.connection)
            self.connection.channel = device._channel_id
            ctap = Ctap2(device)
            rp_id, credential = self.make(ctap, rk=True)
            done = 0
            while time.monotonic() < self.deadline and (self.ops is None or done < self.ops):
                roll = self.rng.random()
                start = time.perf_counter()
                try:
                    if roll < 0.6:
                        what = "getAssertion"
                        cdh = os.urandom(32)
                        allow = [{"type": "public-key", "id": credential.credential_id}]
                        assertion = ctap.get_assertion(rp_id, cdh, allow)
                        assertion.verify(cdh, credential.public_key)
                    elif roll < 0.8:
                        what = "makeCredential"
                        self.make(ctap, rk=self.rng.random() < 0.25)
                    else:
                        what = "getInfo"
                        ctap.get_info()
                except Exception as error:  # noqa: BLE001 - every failure is a lost request
                    self.lost.append(f"client {self.index}: {type(error).__name__}: {error}")
                    continue
                finally:
                    done += 1
                self.latencies[what].append(time.perf_counter() - start)
        except Exception as error:  # noqa: BLE001
            self.lost.append(f"client {self.index} set-up: {type(error).__name__}: {error}")
        finally:
            self.connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def run_clients(binary: Path, clients: int, seconds: float, ops: int | None, work: Path) -> dict:
    vault, key = work / f"vault{clients}.sqlite", work / f"vault{clients}.key"
    subprocess.run([binary, "vault", "init", "--vault", vault, "--key-file", key], check=True,
                   capture_output=True)
    port = free_port()
    sim = subprocess.Popen(
        [binary, "sim", "--udp", f"127.0.0.1:{port}", "--vault", vault, "--key-file", key,
         "--presence", "danger-auto-approve"],
        stdout=subprocess.DEVNULL, stderr=open(work / f"sim{clients}.log", "w"))
    try:
        time.sleep(0.5)
        deadline = time.monotonic() + seconds
        threads = [Client(i, port, deadline, ops, seed=i) for i in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 120)
        elapsed = time.perf_counter() - start
        rss = peak_rss_kib(sim.pid)
    finally:
        sim.terminate()
        sim.wait(10)
    result = {"clients": clients, "seconds": round(elapsed, 2), "peak_rss_kib": rss,
              "busy": sum(t.connection.busy for t in threads if t.connection),
              "foreign_reports": sum(t.connection.foreign for t in threads if t.connection),
              "lost": [line for t in threads for line in t.lost],
              "stuck_clients": sum(t.is_alive() for t in threads)}
    total = 0
    for what in ("getAssertion", "makeCredential", "getInfo"):
        values = [v for t in threads for v in t.latencies[what]]
        total += len(values)
        result[what] = {"count": len(values),
                        "p50_ms": round(statistics.median(values) * 1e3, 2) if values else None,
                        "p99_ms": round(percentile(values, 0.99) * 1e3, 2) if values else None}
    result["requests_per_s"] = round(total / elapsed, 1)
    return result


def control_api(binary: Path, count: int, work: Path) -> dict:
    token_file, port = work / "token", free_port(socket.SOCK_STREAM)
    sim = subprocess.Popen(
        [binary, "sim", "--udp", f"127.0.0.1:{free_port()}", "--control", f"127.0.0.1:{port}",
         "--control-token-file", token_file],
        stdout=subprocess.DEVNULL, stderr=open(work / "control.log", "w"))
    lost: list[str] = []
    try:
        for _ in range(100):
            if token_file.exists() and token_file.read_text().strip():
                break
            time.sleep(0.1)
        token = token_file.read_text().strip()
        base = f"http://127.0.0.1:{port}/session/load/webauthn/authenticator"

        def call(method: str, url: str, body: dict | None = None) -> dict:
            request = urllib.request.Request(
                url, method=method, data=json.dumps(body).encode() if body is not None else None,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")

        # The simulator holds at most MAX_AT_ONCE authenticators (it answers
        # 429 past that): more are added, used and removed in waves.
        add_s = use_s = remove_s = 0.0
        used: list[Client] = []
        waves = 0
        while len(used) < count:
            wave = min(MAX_AT_ONCE, count - len(used))
            waves += 1
            start = time.perf_counter()
            added = [call("POST", base, {"protocol": "ctap2", "transport": "usb",
                                         "hasResidentKey": True, "isUserConsenting": True})
                     for _ in range(wave)]
            after_add = time.perf_counter()
            clients = []
            for answer in added:
                index = len(used) + len(clients)
                clients.append(Client(index, answer["udpPort"], time.monotonic() + 60, ops=3,
                                      seed=index))
                clients[-1].start()
            for client in clients:
                client.join(120)
                lost.extend(client.lost)
            used.extend(clients)
            after_use = time.perf_counter()
            for answer in added:
                call("DELETE", f"{base}/{answer['authenticatorId']}")
            after_remove = time.perf_counter()
            add_s += after_add - start
            use_s += after_use - after_add
            remove_s += after_remove - after_use
        rss = peak_rss_kib(sim.pid)
    finally:
        sim.terminate()
        sim.wait(10)
    return {"authenticators": count, "waves": waves, "add_s": round(add_s, 2),
            "use_s": round(use_s, 2), "remove_s": round(remove_s, 2),
            "foreign_reports": sum(c.connection.foreign for c in used if c.connection),
            "lost": lost, "peak_rss_kib": rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", type=Path, default=ROOT / "target" / "release" / "softkey")
    parser.add_argument("--clients", default="8,64", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--ops", type=int, default=None, help="requests per client (instead of time)")
    parser.add_argument("--control", type=int, default=0, metavar="N",
                        help="also add, use and remove N control-API authenticators")
    args = parser.parse_args()
    # python-fido2 warns on every CHANNEL_BUSY it retries; they are counted instead.
    logging.getLogger("fido2").setLevel(logging.ERROR)
    if not args.bin.exists():
        parser.error(f"{args.bin} does not exist: cargo build --release -p softkey")
    failed = False
    with tempfile.TemporaryDirectory(prefix="softkey-load-") as work:
        for clients in [int(c) for c in args.clients.split(",") if c]:
            result = run_clients(args.bin, clients, args.seconds, args.ops, Path(work))
            print(json.dumps(result, indent=1))
            failed |= bool(result["lost"] or result["foreign_reports"] or result["stuck_clients"])
        if args.control:
            result = control_api(args.bin, args.control, Path(work))
            print(json.dumps(result, indent=1))
            failed |= bool(result["lost"] or result["foreign_reports"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
