//! Request encodings cross-checked against an independent decoder: the
//! `ctap-types` crate (Trussed's fido-authenticator uses it). Both decode the
//! same bytes; the fields must agree.
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use ctap_types::ctap2::{get_assertion, make_credential};
use proptest::prelude::*;
use softkey_authenticator::commands::{self, Command};
use support::{GetAssertion, MakeCredential, PinUvAuth};

fn rp_id() -> impl Strategy<Value = String> {
    "[a-z]{1,20}(\\.[a-z]{2,10}){0,3}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn make_credential_requests_decode_alike(
        rp_id in rp_id(),
        user_id in proptest::collection::vec(any::<u8>(), 1..64),
        user_name in "[ -~]{0,32}",
        algs in proptest::collection::vec(prop_oneof![Just(-7i64), Just(-8), Just(-257), Just(-35)], 1..4),
        rk in proptest::option::of(any::<bool>()),
        up in proptest::option::of(any::<bool>()),
        uv in proptest::option::of(any::<bool>()),
        exclude in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 16..80), 0..5),
        client_data_hash in any::<[u8; 32]>(),
    ) {
        let request = MakeCredential { rp_id, user_id, user_name, algs, rk, up, uv, exclude, client_data_hash, extensions: vec![], auth: PinUvAuth::default(), members: vec![] };
        let bytes = request.encode();
        let ours = match commands::parse(&bytes).unwrap() {
            Command::MakeCredential(request) => request,
            other => panic!("parsed as {other:?}"),
        };
        let theirs: make_credential::Request<'_> = ctap_types::serde::cbor_deserialize(&bytes[1..]).unwrap();
        prop_assert_eq!(&theirs.client_data_hash[..], &ours.client_data_hash[..]);
        prop_assert_eq!(theirs.rp.id.as_str(), ours.rp.id.as_str());
        prop_assert_eq!(&theirs.user.id[..], &ours.user.id[..]);
        // ctap-types keeps only the algorithms it knows (deduplicated, capped);
        // the caller's first choice among them must be the same.
        let their_algs: Vec<i64> = theirs.pub_key_cred_params.0.iter().map(|p| i64::from(p.alg)).collect();
        let our_first_known = ours.pub_key_cred_params.iter().map(|p| p.alg).find(|a| their_algs.contains(a));
        prop_assert_eq!(their_algs.first().copied(), our_first_known);
        let their_exclude: Vec<Vec<u8>> = theirs.exclude_list.iter().flatten().map(|d| d.id.to_vec()).collect();
        let our_exclude: Vec<Vec<u8>> = ours.exclude_list.iter().map(|d| d.id.clone()).collect();
        prop_assert_eq!(their_exclude, our_exclude);
        let their_options = theirs.options.map(|o| (o.rk, o.up, o.uv)).unwrap_or((None, None, None));
        prop_assert_eq!(their_options, (ours.options.rk, ours.options.up, ours.options.uv));
    }

    #[test]
    fn get_assertion_requests_decode_alike(
        rp_id in rp_id(),
        allow in proptest::option::of(proptest::collection::vec(proptest::collection::vec(any::<u8>(), 16..80), 1..5)),
        up in proptest::option::of(any::<bool>()),
        uv in proptest::option::of(any::<bool>()),
        client_data_hash in any::<[u8; 32]>(),
    ) {
        let request = GetAssertion { rp_id, allow, up, uv, rk: None, client_data_hash, extensions: vec![], auth: PinUvAuth::default() };
        let bytes = request.encode();
        let ours = match commands::parse(&bytes).unwrap() {
            Command::GetAssertion(request) => request,
            other => panic!("parsed as {other:?}"),
        };
        let theirs: get_assertion::Request<'_> = ctap_types::serde::cbor_deserialize(&bytes[1..]).unwrap();
        prop_assert_eq!(theirs.rp_id, ours.rp_id.as_str());
        prop_assert_eq!(&theirs.client_data_hash[..], &ours.client_data_hash[..]);
        let their_allow: Option<Vec<Vec<u8>>> = theirs.allow_list.as_ref().map(|l| l.iter().map(|d| d.id.to_vec()).collect());
        let our_allow: Option<Vec<Vec<u8>>> = ours.allow_list.as_ref().map(|l| l.iter().map(|d| d.id.clone()).collect());
        prop_assert_eq!(their_allow, our_allow);
        let their_options = theirs.options.map(|o| (o.up, o.uv)).unwrap_or((None, None));
        prop_assert_eq!(their_options, (ours.options.up, ours.options.uv));
    }
}
