"""CTAP1/U2F over CTAPHID MSG, driven by python-fido2's Ctap1 client, and
credentials crossing between U2F and CTAP2 in both directions."""

from __future__ import annotations

import os

import pytest
from fido2.cose import ES256
from fido2.ctap import CtapError
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.ctap2 import Ctap2
from fido2.hid import CAPABILITY
from fido2.utils import sha256

RP_ID = "example.com"


@pytest.fixture
def ctap1(device):
    return Ctap1(device)


def test_version_and_capabilities(ctap1, device, ctap2):
    assert ctap1.get_version() == "U2F_V2"
    assert not device.capabilities & CAPABILITY.NMSG
    assert "U2F_V2" in ctap2.get_info().versions


def test_register_and_authenticate(ctap1):
    app = sha256(b"https://u2f.example.com")
    client = os.urandom(32)
    registration = ctap1.register(client, app)
    registration.verify(app, client)  # attestation signature over the registration
    challenge = os.urandom(32)
    first = ctap1.authenticate(challenge, app, registration.key_handle)
    first.verify(app, challenge, registration.public_key)
    assert first.user_presence & 1
    second = ctap1.authenticate(challenge, app, registration.key_handle)
    assert second.counter > first.counter
    # check-only: 6985 means "this key handle is mine", 6A80 "not mine".
    with pytest.raises(ApduError) as error:
        ctap1.authenticate(challenge, app, registration.key_handle, check_only=True)
    assert error.value.code == APDU.USE_NOT_SATISFIED
    with pytest.raises(ApduError) as error:
        ctap1.authenticate(challenge, sha256(b"other"), registration.key_handle)
    assert error.value.code == APDU.WRONG_DATA


def test_malformed_apdus(ctap1):
    with pytest.raises(ApduError) as error:
        ctap1.send_apdu(0x80, Ctap1.INS.VERSION)
    assert error.value.code == 0x6E00
    with pytest.raises(ApduError) as error:
        ctap1.send_apdu(ins=0x42)
    assert error.value.code == 0x6D00
    with pytest.raises(ApduError) as error:
        ctap1.send_apdu(ins=Ctap1.INS.REGISTER, data=b"\0" * 63)
    assert error.value.code == 0x6700  # wrong length


def test_u2f_credential_signs_in_over_ctap2(ctap1, ctap2):
    app = sha256(RP_ID.encode())
    registration = ctap1.register(os.urandom(32), app)
    client_data_hash = os.urandom(32)
    assertion = ctap2.get_assertion(
        RP_ID, client_data_hash, [{"id": registration.key_handle, "type": "public-key"}]
    )
    assertion.verify(client_data_hash, ES256.from_ctap1(registration.public_key))


def test_ctap2_credential_signs_in_over_u2f(ctap1, ctap2):
    made = ctap2.make_credential(
        os.urandom(32), {"id": RP_ID, "name": "Example"}, {"id": b"u2f-user"}, [{"type": "public-key", "alg": -7}]
    )
    credential = made.auth_data.credential_data
    point = b"\x04" + credential.public_key[-2] + credential.public_key[-3]
    app = sha256(RP_ID.encode())
    challenge = os.urandom(32)
    signature = ctap1.authenticate(challenge, app, credential.credential_id)
    signature.verify(app, challenge, point)


def test_u2f_denied_presence_is_conditions_not_satisfied():
    # A simulator whose person always refuses.
    from conftest import Sim, softkey_udp

    sim = Sim("--presence", "command", "--presence-command", "false")
    try:
        ctap1 = Ctap1(softkey_udp.open_device(port=sim.port))
        with pytest.raises(ApduError) as error:
            ctap1.send_apdu(ins=Ctap1.INS.REGISTER, data=os.urandom(64))
        assert error.value.code == APDU.USE_NOT_SATISFIED
        ctap2 = Ctap2(softkey_udp.open_device(port=sim.port))
        with pytest.raises(CtapError) as error:
            ctap2.make_credential(
                os.urandom(32), {"id": RP_ID}, {"id": b"x"}, [{"type": "public-key", "alg": -7}]
            )
        assert error.value.code == CtapError.ERR.OPERATION_DENIED
    finally:
        sim.stop()
