"""Helpers and fixtures of the control-API tests (test_control_api*.py): an
HTTP client of `softkey sim --control`, a simulator with the control API per
test module, key and credential injection, python-fido2 sign-ins over UDP."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from pathlib import Path

import urllib.error
import urllib.request
from http.client import HTTPConnection

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.utils import sha256

import softkey_udp
from conftest import AutoInteraction, Sim

RP_ID = "example.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body=None, headers=None) -> tuple[int, dict, bytes]:
    """One HTTP request (stdlib only): status, headers, body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Control:
    """A client of the control API."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.headers = {"Authorization": f"Bearer {token}"}
        self.base = f"{url}/session/test/webauthn/authenticator"

    def call(self, method: str, path: str = "", body=None, expect: int = 200):
        status, _, data = http(method, self.base + path, body, self.headers)
        assert status == expect, data
        return json.loads(data)

    def add(self, **options) -> tuple[str, int]:
        body = {"protocol": "ctap2_1", "transport": "usb", "hasResidentKey": True, **options}
        answer = self.call("POST", "", body)
        assert answer["value"] == answer["authenticatorId"]
        return answer["authenticatorId"], answer["udpPort"]


@pytest.fixture(scope="module")
def control_sim(tmp_path_factory):
    token_file = tmp_path_factory.mktemp("control") / "token"
    vault_dir = tmp_path_factory.mktemp("vaults")
    port = free_tcp_port()
    process = Sim(
        "--control", f"127.0.0.1:{port}", "--control-token-file", str(token_file),
        "--control-vault-dir", str(vault_dir),
    )
    assert token_file.stat().st_mode & 0o777 == 0o600
    control = Control(f"http://127.0.0.1:{port}", token_file.read_text().strip())
    control.vault_dir = vault_dir
    yield process, control
    process.stop()


@pytest.fixture(scope="module")
def api(control_sim):
    return control_sim[1]


@pytest.fixture
def authenticator(api):
    """A fresh CTAP 2.1 authenticator with resident keys, and a device on it."""
    authenticator_id, port = api.add()
    device = softkey_udp.open_device(port=port, timeout=10)
    yield authenticator_id, device
    device.close()
    api.call("DELETE", f"/{authenticator_id}")


def p256_key():
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key, der


def inject(api, authenticator_id, credential_id: bytes, der: bytes, sign_count=0, **extra):
    """Add Credential: a non-resident credential for RP_ID unless `extra` says otherwise."""
    body = {
        "credentialId": b64url(credential_id),
        "isResidentCredential": False,
        "rpId": RP_ID,
        "privateKey": b64url(der),
        "signCount": sign_count,
        **extra,
    }
    return api.call("POST", f"/{authenticator_id}/credential", body)


def fido_client(device, rp_id=RP_ID):
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector(f"https://{rp_id}"),
        user_interaction=AutoInteraction(),
    )


def sign_in_with(device, credential_id: bytes | None, rp_id=RP_ID):
    allow = [{"type": "public-key", "id": credential_id}] if credential_id else []
    options = {
        "challenge": os.urandom(32),
        "rpId": rp_id,
        "allowCredentials": allow,
        "userVerification": "discouraged",
    }
    selection = fido_client(device, rp_id).get_assertion(options)
    return selection.get_response(0)
