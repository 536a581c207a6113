"""CTAP 2.2 through python-fido2: the control API's ctap2_1 and ctap2_2
profiles, the persistent token's encrypted getInfo members, and enterprise
attestation configured through `softkey:enterpriseRpIds`."""

from __future__ import annotations

import pytest

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.config import Config
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin

import softkey_udp
from control_api import api, b64url, control_sim, inject, p256_key  # noqa: F401  (fixtures)

PIN = "a1b2c3d4"


def open_ctap2(api, **options):  # noqa: F811
    authenticator_id, port = api.add(**options)
    device = softkey_udp.open_device(port=port, timeout=10)
    device.port = port
    return authenticator_id, device, Ctap2(device)


def test_ctap2_1_profile_hides_what_ctap22_added(api):  # noqa: F811
    authenticator_id, device, ctap2 = open_ctap2(api, protocol="ctap2_1")
    try:
        info = ctap2.get_info()
        assert "perCredMgmtRO" not in info.options
        assert "thirdPartyPayment" not in info.extensions
        assert "pinComplexityPolicy" not in info.extensions
        assert info.enc_identifier is None and info.enc_cred_store_state is None
        assert info.authenticator_config_commands is None
        ClientPin(ctap2).set_pin(PIN)
        with pytest.raises(CtapError) as error:
            ClientPin(ctap2).get_pin_token(
                PIN, ClientPin.PERMISSION.PERSISTENT_CREDENTIAL_MGMT
            )
        assert error.value.code == CtapError.ERR.UNAUTHORIZED_PERMISSION
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")


def test_ctap2_2_profile_offers_the_persistent_token(api):  # noqa: F811
    authenticator_id, device, ctap2 = open_ctap2(api, protocol="ctap2_2")
    try:
        info = ctap2.get_info()
        assert info.options["perCredMgmtRO"] is True
        assert CredentialManagement.is_readonly_supported(info)
        assert info.attestation_formats == ["packed"]
        assert info.max_pin_length == 63
        assert info.transports_for_reset == ["usb"]
        assert info.pin_complexity_policy is False
        assert info.authenticator_config_commands == [2, 3]
        ClientPin(ctap2).set_pin(PIN)
        token = ClientPin(ctap2).get_pin_token(
            PIN, ClientPin.PERMISSION.PERSISTENT_CREDENTIAL_MGMT
        )
        first, second = ctap2.get_info(), ctap2.get_info()
        assert first.enc_identifier != second.enc_identifier
        identifier = first.get_identifier(token)
        assert len(identifier) == 16 and identifier == second.get_identifier(token)
        state = first.get_cred_store_state(token)
        # The token survives a power cycle (a replug: a new channel); so do
        # the identifier and the credential store state.
        api.call("POST", f"/{authenticator_id}/power-cycle")
        device.close()
        device = softkey_udp.open_device(port=device.port, timeout=10)
        replugged = Ctap2(device)
        after = replugged.get_info()
        assert after.get_identifier(token) == identifier
        assert after.get_cred_store_state(token) == state
        credman = CredentialManagement(replugged, ClientPin(replugged).protocol, token)
        assert credman.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 0
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")


def test_injected_credentials_change_the_credential_store_state(api):  # noqa: F811
    authenticator_id, device, ctap2 = open_ctap2(api, protocol="ctap2_2")
    try:
        ClientPin(ctap2).set_pin(PIN)
        token = ClientPin(ctap2).get_pin_token(
            PIN, ClientPin.PERMISSION.PERSISTENT_CREDENTIAL_MGMT
        )
        initial = ctap2.get_info().get_cred_store_state(token)
        _, der = p256_key()
        inject(api, authenticator_id, b"injected", der, isResidentCredential=True,
               userHandle=b64url(b"user"))
        injected = ctap2.get_info().get_cred_store_state(token)
        assert injected != initial
        api.call("DELETE", f"/{authenticator_id}/credentials/{b64url(b'injected')}")
        assert ctap2.get_info().get_cred_store_state(token) not in (initial, injected)
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")


def test_enterprise_rp_ids_option_makes_the_authenticator_capable(api):  # noqa: F811
    authenticator_id, device, ctap2 = open_ctap2(
        api, protocol="ctap2_2", **{"softkey:enterpriseRpIds": ["ep.example.com"]}
    )
    try:
        assert ctap2.get_info().options["ep"] is False
        assert 1 in ctap2.get_info().authenticator_config_commands
        Config(ctap2).enable_enterprise_attestation()
        assert ctap2.get_info().options["ep"] is True
    finally:
        device.close()
        api.call("DELETE", f"/{authenticator_id}")
    body = {
        "protocol": "ctap2",
        "transport": "usb",
        "softkey:enterpriseRpIds": ["ep.example.com"],
    }
    api.call("POST", "", body, expect=400)
    body["protocol"] = "ctap2_2"
    body["softkey:enterpriseRpIds"] = "ep.example.com"
    api.call("POST", "", body, expect=400)
