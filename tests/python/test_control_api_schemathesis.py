"""schemathesis (property-based API testing from the OpenAPI document) against
the control API of `softkey sim --control`: every response must match the
served /openapi.json, no request may crash the simulator, invalid requests
are rejected. Configuration (and its reasons): schemathesis.toml beside this
file. Skipped when schemathesis is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from control_api import free_tcp_port
from conftest import Sim

HERE = Path(__file__).resolve().parent


def schemathesis_command() -> list[str] | None:
    beside = Path(sys.executable).with_name("schemathesis")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("schemathesis")
    return [found] if found else None


def test_openapi_conformance(tmp_path):
    command = schemathesis_command()
    if command is None:
        pytest.skip("schemathesis is not installed (pip install schemathesis)")
    token_file = tmp_path / "token"
    port = free_tcp_port()
    sim = Sim("--control", f"127.0.0.1:{port}", "--control-token-file", str(token_file))
    try:
        token = token_file.read_text().strip()
        result = subprocess.run(
            [
                *command,
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "30"),
                "--seed",
                os.environ.get("SCHEMATHESIS_SEED", "20261126"),
                "--request-timeout",
                "10",
                "--no-color",
            ],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        # The simulator survived the fuzzing.
        assert sim.proc.poll() is None
        sim.device().close()
    finally:
        sim.stop()
