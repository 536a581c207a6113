"""Attestation that an independent verifier accepts: py_webauthn checks a
`packed` registration with x5c from softkey against the root that `softkey
vault attestation-root` exports, and a self-attested one."""

from __future__ import annotations

import json
import subprocess

import pytest
import webauthn
from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.server import Fido2Server
from fido2.webauthn import AttestationConveyancePreference, UserVerificationRequirement
from webauthn.helpers.structs import AttestationFormat

from conftest import AutoInteraction, Sim, softkey_binary

ORIGIN = "https://example.com"


def register(sim):
    server = Fido2Server(
        {"id": "example.com", "name": "Example"},
        attestation=AttestationConveyancePreference.DIRECT,
    )
    options, state = server.register_begin(
        {"id": b"attested-user", "name": "att"},
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    client = Fido2Client(
        sim.device(),
        client_data_collector=DefaultClientDataCollector(ORIGIN),
        user_interaction=AutoInteraction(),
    )
    response = client.make_credential(options.public_key)
    return options, json.loads(json.dumps(dict(response), default=str))


def verify(options, response, roots=None):
    return webauthn.verify_registration_response(
        credential=json.dumps(response),
        expected_challenge=options.public_key.challenge,
        expected_origin=ORIGIN,
        expected_rp_id="example.com",
        pem_root_certs_bytes_by_fmt=roots,
    )


@pytest.fixture
def vault(tmp_path):
    path, key = tmp_path / "vault" / "vault.sqlite", tmp_path / "vault.key"
    base = [softkey_binary(), "vault", "--vault", str(path), "--key-file", str(key)]
    subprocess.run(base + ["init"], check=True, capture_output=True, timeout=60)
    root = subprocess.run(
        base + ["attestation-root"], check=True, capture_output=True, timeout=60
    ).stdout
    assert root.startswith(b"-----BEGIN CERTIFICATE-----")
    return path, key, root


def test_packed_x5c_verifies_against_the_exported_root(vault):
    path, key, root = vault
    # A persistent vault asks for presence unless the danger is written out.
    sim = Sim("--vault", str(path), "--key-file", str(key), "--attestation-certificate",
              "--presence", "danger-auto-approve")
    try:
        options, response = register(sim)
    finally:
        sim.stop()
    verified = verify(options, response, {AttestationFormat.PACKED: [root]})
    assert verified.fmt == AttestationFormat.PACKED
    assert str(verified.aaguid) == "6fe254e0-9452-4e0f-aab0-6472b68f1804"
    # Another vault's root is no trust anchor for this one's certificate.
    other = path.parent.parent / "other"
    other.mkdir()
    base = [softkey_binary(), "vault", "--vault", str(other / "v.sqlite"), "--key-file", str(other / "k")]
    subprocess.run(base + ["init"], check=True, capture_output=True, timeout=60)
    other_root = subprocess.run(base + ["attestation-root"], check=True, capture_output=True, timeout=60).stdout
    assert other_root != root
    with pytest.raises(Exception):
        verify(options, response, {AttestationFormat.PACKED: [other_root]})


def test_self_attestation_verifies(sim):
    options, response = register(sim)
    verified = verify(options, response)
    assert verified.fmt == AttestationFormat.PACKED


def test_the_vault_keeps_its_attestation_root(vault):
    path, key, root = vault
    again = subprocess.run(
        [softkey_binary(), "vault", "--vault", str(path), "--key-file", str(key), "attestation-root"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    assert again == root
