//! The W3C WebAuthn PRF / CTAP hmac-secret test vectors (WebAuthn Level 3,
//! index.bs #test-vectors-extensions-prf-ctap; a copy is kept in
//! ../shared/vectors/w3c-webauthn-prf-hmac-secret-vectors.json) run through
//! softkey's hmac-secret: ECDH and KDF of the PIN/UV protocol, saltAuth check,
//! salt decryption, HMAC under CredRandom, output encryption.
#![allow(missing_docs, clippy::unwrap_used)]

use ciborium::Value;
use softkey_authenticator::StatusCode;
use softkey_authenticator::cbor::{bytes, int};
use softkey_authenticator::extensions::hmac_secret::Salts;
use softkey_authenticator::pin::{KeyAgreementKey, Protocol};
use softkey_authenticator::secret::Secret32;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

const CRED_RANDOM: &str = "437e065e723a98b2f08f39d8baf7c53ecb3c363c5e5104bdaaf5d5ca2e028154";
const PLATFORM_PRIVATE_KEY: &str =
    "0971bc7fb1be48270adcd3d9a5fc15d5fb0f335b3071ff36a54c007fa6c76514";
const AUTHENTICATOR_X: &str = "a30522c2de402b561965c3cf949a1cab020c6f6ea36fcf7e911ac1a0f1515300";
const AUTHENTICATOR_Y: &str = "9961a929abdb2f42e6566771887d41484d889e735e3248518a53112d2b915f00";

struct Case {
    title: &'static str,
    protocol: Protocol,
    shared_secret: &'static str,
    salt1: &'static str,
    salt2: Option<&'static str>,
    salt_enc: &'static str,
    output1: &'static str,
    output2: Option<&'static str>,
    output_enc: &'static str,
}

const CASES: &[Case] = &[
    Case {
        title: "Single input case using PIN protocol 2",
        protocol: Protocol::Two,
        shared_secret: "0c63083de8170101d38bcf8bd72309568ddb4550867e23404b35d85712f7c20d8bc911ee23c06034cbc14290b9669bec07739053c5a416e313ef905c79955876",
        salt1: "527413ebb48293772df30f031c5ac4650c7de14bf9498671ae163447b6a772b3",
        salt2: None,
        salt_enc: "23dde5e3462daf36559b85c4ac5f9656aa9bfd81c1dc2bf8533c8b9f3882854786b4f500e25b4e3d81f7fc7c74236229",
        output1: "3c33e07d202c3b029cc21f1722767021bf27d595933b3d2b6a1b9d5dddc77fae",
        output2: None,
        output_enc: "3bfaa48f7952330d63e35ff8cd5bca48d2a12823828915749287256ab146272f9fb437bf65691243c3f504bd7ea6d5e6",
    },
    Case {
        title: "Two input case using PIN protocol 2",
        protocol: Protocol::Two,
        shared_secret: "0c63083de8170101d38bcf8bd72309568ddb4550867e23404b35d85712f7c20d8bc911ee23c06034cbc14290b9669bec07739053c5a416e313ef905c79955876",
        salt1: "527413ebb48293772df30f031c5ac4650c7de14bf9498671ae163447b6a772b3",
        salt2: Some("d68ac03329a10ee5e0ec834492bb9a96a0e547baf563bf78ccbe8789b22e776b"),
        salt_enc: "d9f4236403e0fe843a8e4e5be764d120904c198ad6e77b089876a3391961f183b0008b4ca66b91cd72aa35b6151ff981f6e5649f3c040e6615ad7dd8ae96ef23b229a5c97c3f0dcd8605eee166ce163a",
        output1: "3c33e07d202c3b029cc21f1722767021bf27d595933b3d2b6a1b9d5dddc77fae",
        output2: Some("a62a8773b19cda90d7ed4ef72a80a804320dbd3997e2f663805ad1fd3293d50b"),
        output_enc: "90ee52f739043bc17b3488a74306d7801debb5b61f18662c648a25b5b5678ede482cdaff99a537a44f064fcb10ce6e04dfd27619dc96a0daff8507e499296b1eecf0981f7c8518b277a7a3018f5ec6fb",
    },
    Case {
        title: "Single input case using PIN protocol 1",
        protocol: Protocol::One,
        shared_secret: "23e5ed7157c25892b77732fb9c8a107e3518800db2af4142f9f4adfacb771d39",
        salt1: "527413ebb48293772df30f031c5ac4650c7de14bf9498671ae163447b6a772b3",
        salt2: None,
        salt_enc: "ab8c878bb05d04700f077ed91845ec9c503c925cb12b327ddbeb4243c397f913",
        output1: "3c33e07d202c3b029cc21f1722767021bf27d595933b3d2b6a1b9d5dddc77fae",
        output2: None,
        output_enc: "15d4e4f3f04109b492b575c1b38c28585b6719cf8d61304215108d939f37ccfb",
    },
];

fn authenticator_key() -> Value {
    Value::Map(vec![
        (int(1), int(2)),
        (int(3), int(-25)),
        (int(-1), int(1)),
        (int(-2), bytes(&h(AUTHENTICATOR_X))),
        (int(-3), bytes(&h(AUTHENTICATOR_Y))),
    ])
}

#[test]
fn w3c_prf_vectors() {
    let platform = KeyAgreementKey::from_scalar(&h(PLATFORM_PRIVATE_KEY)).unwrap();
    let cred_random = Secret32::from_slice(&h(CRED_RANDOM)).unwrap();
    for case in CASES {
        // The platform's ECDH and KDF give the vector's shared secret; ECDH is
        // symmetric, so this is the secret the authenticator derives too.
        let shared = platform
            .shared_secret(case.protocol, authenticator_key())
            .unwrap();
        assert_eq!(
            hex::encode(shared.expose_secret()),
            case.shared_secret,
            "{}",
            case.title
        );
        let salt_enc = h(case.salt_enc);
        let salt_auth = shared.authenticate(&salt_enc).to_vec();
        let salts = Salts::open(shared, &salt_enc, &salt_auth).unwrap();
        let mut expected = h(case.output1);
        if let Some(output2) = case.output2 {
            expected.extend_from_slice(&h(output2));
        }
        assert_eq!(
            salts.outputs(&cred_random).as_slice(),
            expected.as_slice(),
            "{}",
            case.title
        );
        // Protocol two's output carries its IV in front: reuse it to get the
        // vector's bytes exactly.
        let output_enc = h(case.output_enc);
        let iv: [u8; 16] = output_enc[..16].try_into().unwrap();
        assert_eq!(
            hex::encode(salts.encrypted_outputs_with_iv(&cred_random, &iv)),
            case.output_enc,
            "{}",
            case.title
        );
        // And the outputs are HMAC-SHA-256(CredRandom, saltN) of the
        // vector's salts: what we decrypted is what the platform sent.
        let mut salts_plain = h(case.salt1);
        if let Some(salt2) = case.salt2 {
            salts_plain.extend_from_slice(&h(salt2));
        }
        for (salt, output) in salts_plain.chunks(32).zip(expected.chunks(32)) {
            let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(
                cred_random.expose_secret(),
            )
            .unwrap();
            hmac::Mac::update(&mut mac, salt);
            assert_eq!(hmac::Mac::finalize(mac).into_bytes().as_slice(), output);
        }
    }
}

#[test]
fn w3c_prf_vectors_reject_a_wrong_salt_auth() {
    let platform = KeyAgreementKey::from_scalar(&h(PLATFORM_PRIVATE_KEY)).unwrap();
    for case in CASES {
        let shared = platform
            .shared_secret(case.protocol, authenticator_key())
            .unwrap();
        let salt_enc = h(case.salt_enc);
        let mut salt_auth = shared.authenticate(&salt_enc).to_vec();
        salt_auth[0] ^= 1;
        assert_eq!(
            Salts::open(shared, &salt_enc, &salt_auth).unwrap_err(),
            StatusCode::PinAuthInvalid
        );
    }
}
