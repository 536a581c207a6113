"""scripts/load.py at a small scale: correctness under concurrency, not speed.

Eight clients on their own sockets and channels against one simulator on a
vault, then control-API authenticators added, used and removed: no request may
be lost and no report may arrive on another client's channel. (The figures of
a full run are for the closing notes of performance work, not for a test.)
"""

import json
import subprocess
import sys

from conftest import REPO, softkey_binary


def run_load(*args):
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "load.py"), "--bin", softkey_binary(), *args],
        capture_output=True, text=True, timeout=600,
    )
    decoder, text, runs = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        value, end = decoder.raw_decode(text)
        runs.append(value)
        text = text[end:].strip()
    return result.returncode, runs, result.stderr


def test_concurrent_clients_on_a_vault_lose_and_misroute_nothing():
    code, runs, stderr = run_load("--clients", "8", "--ops", "12", "--seconds", "120", "--control", "4")
    assert code == 0, (runs, stderr[-3000:])
    clients, control = runs
    assert clients["lost"] == [] and clients["foreign_reports"] == 0 and clients["stuck_clients"] == 0
    answered = sum(clients[what]["count"] for what in ("getAssertion", "makeCredential", "getInfo"))
    assert answered == 8 * 12, clients
    assert clients["peak_rss_kib"] > 0
    assert control["lost"] == [] and control["foreign_reports"] == 0 and control["authenticators"] == 4
