"""Every COSE algorithm softkey implements, through python-fido2's client and
server (an independent implementation of both ends): each registers a
discoverable and a non-discoverable credential with `softkey sim` (which offers
them all by default), and signs in; python-fido2's Fido2Server verifies the
packed self attestation and the assertion with the COSE key it parsed."""

from __future__ import annotations

import pytest
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.webauthn import UserVerificationRequirement

from conftest import Sim

# (IANA name, COSE identifier): what getInfo lists, ES256 first.
ALGORITHMS = [
    ("ES256", -7),
    ("EdDSA", -8),
    ("ES384", -35),
    ("ES512", -36),
    ("ES256K", -47),
    ("PS256", -37),
    ("RS256", -257),
    ("ML-DSA-44", -48),
    ("ML-DSA-65", -49),
    ("ML-DSA-87", -50),
    ("ESP256", -9),
    ("ESP384", -51),
    ("ESP512", -52),
    ("Ed25519", -19),
]


def test_get_info_lists_every_algorithm_es256_first(ctap2):
    listed = [entry["alg"] for entry in ctap2.info.algorithms]
    assert listed == [alg for _, alg in ALGORITHMS]
    assert all(entry["type"] == "public-key" for entry in ctap2.info.algorithms)


@pytest.mark.parametrize("resident", [False, True], ids=["sealed", "discoverable"])
@pytest.mark.parametrize("name,alg", ALGORITHMS, ids=[name for name, _ in ALGORITHMS])
def test_algorithm_registers_and_signs_in_with_python_fido2(client, name, alg, resident):
    server = Fido2Server({"id": "example.com", "name": "Example"})
    user = {"id": f"user-{alg}".encode(), "name": f"{name} user"}
    options, state = server.register_begin(
        user,
        resident_key_requirement="required" if resident else "discouraged",
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    result = client.make_credential(
        {**options["publicKey"], "pubKeyCredParams": [{"type": "public-key", "alg": alg}]}
    )
    auth_data = server.register_complete(state, result)
    credential = auth_data.credential_data
    assert credential.public_key[3] == alg
    assert result.response.attestation_object.fmt == "packed"
    assert result.response.attestation_object.att_stmt["alg"] == alg

    # Discoverable: found without an allowList; sealed: named in it.
    request, state = server.authenticate_begin(
        None if resident else [credential],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    selection = client.get_assertion(request["publicKey"])
    response = next(r for r in selection.get_assertions() if r.credential["id"] == credential.credential_id)
    index = selection.get_assertions().index(response)
    verified = server.authenticate_complete(state, [credential], selection.get_response(index))
    assert verified == credential


def test_only_the_configured_algorithms_are_offered():
    sim = Sim("--algorithms", "ML-DSA-65,ES256")
    try:
        ctap2 = Ctap2(sim.device())
        assert [entry["alg"] for entry in ctap2.info.algorithms] == [-7, -49]
    finally:
        sim.stop()
