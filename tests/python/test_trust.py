"""Issue 13's trust properties of the CTAP core, shown by python-fido2 as an
independent client against `softkey sim`: credProtect holds over U2F, no
hmac-secret output without presence, and U2F attestation links nothing."""

from __future__ import annotations

import os
import struct

import pytest
from fido2.ctap import CtapError
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.ctap2.pin import ClientPin, PinProtocolV2
from fido2.attestation import FidoU2FAttestation
from fido2.utils import sha256
from fido2.webauthn import AttestationObject

RP_ID = "trust.example.com"
RP = {"id": RP_ID, "name": "Trust"}
ES256 = {"type": "public-key", "alg": -7}


@pytest.fixture
def ctap1(device):
    return Ctap1(device)


def test_u2f_refuses_cred_protect_level_three_handle_made_over_ctap2(ctap1, ctap2):
    made = ctap2.make_credential(
        os.urandom(32), RP, {"id": b"level-3"}, [ES256], extensions={"credProtect": 3}
    )
    assert made.auth_data.extensions == {"credProtect": 3}
    key_handle = made.auth_data.credential_data.credential_id
    foreign = key_handle[:-1] + bytes([key_handle[-1] ^ 1])
    app = sha256(RP_ID.encode())
    data = os.urandom(32) + app
    for control in (0x07, 0x03, 0x08):  # check-only, enforce, don't enforce
        answers = []
        for handle in (key_handle, foreign):
            with pytest.raises(ApduError) as error:
                ctap1.send_apdu(
                    ins=Ctap1.INS.AUTHENTICATE,
                    p1=control,
                    data=data + struct.pack(">B", len(handle)) + handle,
                )
            answers.append(error.value.code)
        assert answers == [APDU.WRONG_DATA, APDU.WRONG_DATA], hex(control)


def test_silent_assertion_with_hmac_secret_is_unsupported_option(ctap2):
    made = ctap2.make_credential(
        os.urandom(32), RP, {"id": b"prf"}, [ES256], extensions={"hmac-secret": True}
    )
    assert made.auth_data.extensions == {"hmac-secret": True}
    credential_id = made.auth_data.credential_data.credential_id
    protocol = PinProtocolV2()
    key_agreement, shared_secret = ClientPin(ctap2, protocol)._get_shared_secret()
    salt_enc = protocol.encrypt(shared_secret, os.urandom(32))
    hmac_input = {
        1: key_agreement,
        2: salt_enc,
        3: protocol.authenticate(shared_secret, salt_enc),
        4: protocol.VERSION,
    }
    allow = [{"type": "public-key", "id": credential_id}]
    with pytest.raises(CtapError) as error:
        ctap2.get_assertion(
            RP_ID,
            os.urandom(32),
            allow,
            extensions={"hmac-secret": hmac_input},
            options={"up": False},
        )
    assert error.value.code == CtapError.ERR.UNSUPPORTED_OPTION
    # With presence the same input gives the output.
    assertion = ctap2.get_assertion(
        RP_ID, os.urandom(32), allow, extensions={"hmac-secret": hmac_input}
    )
    output = protocol.decrypt(shared_secret, assertion.auth_data.extensions["hmac-secret"])
    assert len(output) == 32


def test_u2f_registrations_use_unlinkable_attestation_certificates(ctap1):
    certificates = []
    for rp_id in ("a.example.com", "b.example.com", "a.example.com"):
        app = sha256(rp_id.encode())
        client = os.urandom(32)
        registration = ctap1.register(client, app)
        registration.verify(app, client)
        # The same registration as a WebAuthn relying party sees it.
        attestation = AttestationObject.from_ctap1(app, registration)
        FidoU2FAttestation().verify(attestation.att_stmt, attestation.auth_data, client)
        certificates.append(registration.certificate)
    assert len(set(certificates)) == len(certificates)
