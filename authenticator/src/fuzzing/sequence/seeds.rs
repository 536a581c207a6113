//! Named action sequences that reach the interesting states: the committed
//! corpus of the command-sequence target (`fuzz/examples/write_seeds.rs`).

use super::*;

/// Named action sequences that reach the interesting states: a starting corpus
/// for [`command_sequence`].
pub fn sequence_seeds() -> Vec<(&'static str, Vec<Action>)> {
    use Action::*;
    let issued = |index| CredentialRef::Issued {
        index,
        corrupt: false,
    };
    vec![
        (
            "register_then_sign_in",
            vec![
                MakeCredential {
                    rp: 0,
                    user: 0,
                    flags: 0,
                    extensions: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 0,
                    flags: 0,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::Approved),
            ],
        ),
        (
            "two_discoverable_then_next_assertion",
            vec![
                MakeCredential {
                    rp: 1,
                    user: 0,
                    flags: 0b1000,
                    extensions: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                MakeCredential {
                    rp: 1,
                    user: 1,
                    flags: 0b1001,
                    extensions: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 1,
                    flags: 0,
                    extensions: 0,
                    allow: None,
                },
                Resume(Verdict::Approved),
                Simple(2),
                Advance(301),
                Simple(2),
            ],
        ),
        (
            "excluded_then_cancelled",
            vec![
                MakeCredential {
                    rp: 0,
                    user: 0,
                    flags: 0,
                    extensions: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                MakeCredential {
                    rp: 0,
                    user: 1,
                    flags: 0,
                    extensions: 0,
                    exclude: vec![issued(0)],
                },
                Cancel,
                Resume(Verdict::Approved),
            ],
        ),
        (
            "reset_after_power_cycle_invalidates_ids",
            vec![
                MakeCredential {
                    rp: 2,
                    user: 0,
                    flags: 1,
                    extensions: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                PowerCycle,
                Simple(1),
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 2,
                    flags: 0b10,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
                Advance(200),
                Simple(1),
                Resume(Verdict::Approved),
            ],
        ),
        (
            "silent_assertion_and_pin_probe",
            vec![
                MakeCredential {
                    rp: 0,
                    user: 3,
                    flags: 0,
                    extensions: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Denied),
                MakeCredential {
                    rp: 0,
                    user: 3,
                    flags: 0,
                    extensions: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 0,
                    flags: 0b01,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
                GetAssertion {
                    rp: 0,
                    flags: 0x80,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::TimedOut),
                Raw(vec![commands::GET_INFO]),
            ],
        ),
        (
            "large_blob_write_then_read",
            vec![
                LargeBlobWrite {
                    entries: 2,
                    size: 300,
                    chunk: 100,
                    flags: 0,
                },
                LargeBlobGet {
                    offset: 0,
                    get: 1000,
                },
                LargeBlobGet {
                    offset: 100,
                    get: 50,
                },
                LargeBlobGet {
                    offset: 400,
                    get: 1,
                },
            ],
        ),
        (
            "large_blob_fragments_out_of_order",
            vec![
                LargeBlobWrite {
                    entries: 1,
                    size: 100,
                    chunk: 40,
                    flags: 0x08,
                },
                LargeBlobSet {
                    offset: 80,
                    length: None,
                    fragment: Fragment::Draft { start: 80, len: 40 },
                    auth: 0,
                },
                LargeBlobSet {
                    offset: 40,
                    length: None,
                    fragment: Fragment::Draft { start: 40, len: 40 },
                    auth: 0,
                },
                LargeBlobSet {
                    offset: 80,
                    length: None,
                    fragment: Fragment::Draft {
                        start: 80,
                        len: 200,
                    },
                    auth: 0,
                },
                LargeBlobGet {
                    offset: 0,
                    get: 200,
                },
            ],
        ),
        (
            "pin_token_then_signed_large_blob",
            vec![
                ClientPin {
                    op: 0,
                    permissions: 0,
                },
                LargeBlobWrite {
                    entries: 1,
                    size: 20,
                    chunk: 0,
                    flags: 0,
                },
                ClientPin {
                    op: 1,
                    permissions: 0x10,
                },
                LargeBlobWrite {
                    entries: 1,
                    size: 64,
                    chunk: 40,
                    flags: 0b010,
                },
                LargeBlobGet {
                    offset: 0,
                    get: 200,
                },
                LargeBlobWrite {
                    entries: 3,
                    size: 64,
                    chunk: 40,
                    flags: 0b100,
                },
                PowerCycle,
                LargeBlobWrite {
                    entries: 1,
                    size: 64,
                    chunk: 40,
                    flags: 0b010,
                },
                ClientPin {
                    op: 2,
                    permissions: 0x10,
                },
                ClientPin {
                    op: 3,
                    permissions: 0,
                },
            ],
        ),
        (
            "u2f_register_then_authenticate",
            vec![
                U2fRegister { app: 0, form: 1 },
                Resume(Verdict::Approved),
                U2fAuthenticate {
                    app: 0,
                    control: 0,
                    key_handle: issued(0),
                    form: 0,
                },
                U2fAuthenticate {
                    app: 0,
                    control: 1,
                    key_handle: issued(0),
                    form: 3,
                },
                Resume(Verdict::Approved),
                U2fAuthenticate {
                    app: 1,
                    control: 2,
                    key_handle: issued(0),
                    form: 1,
                },
                GetAssertion {
                    rp: 0,
                    flags: 0,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::Approved),
                U2fVersion { form: 0 },
                U2fVersion { form: 3 },
                U2fRaw(vec![0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00]),
            ],
        ),
        (
            "ctap2_credential_over_u2f",
            vec![
                MakeCredential {
                    rp: 0,
                    user: 0,
                    flags: 0,
                    extensions: 0,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                U2fAuthenticate {
                    app: 0,
                    control: 2,
                    key_handle: issued(0),
                    form: 1,
                },
                U2fAuthenticate {
                    app: 0,
                    control: 1,
                    key_handle: issued(0),
                    form: 0,
                },
                Cancel,
                U2fRegister { app: 0, form: 2 },
                Resume(Verdict::Denied),
                GetAssertion {
                    rp: 0,
                    flags: 0,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::Approved),
            ],
        ),
        (
            "cred_protect_three_over_u2f",
            vec![
                MakeCredential {
                    rp: 0,
                    user: 0,
                    flags: 0,
                    extensions: 0x03,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                MakeCredential {
                    rp: 0,
                    user: 1,
                    flags: 0,
                    extensions: 0x02,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                U2fAuthenticate {
                    app: 0,
                    control: 0,
                    key_handle: issued(0),
                    form: 0,
                },
                U2fAuthenticate {
                    app: 0,
                    control: 1,
                    key_handle: issued(0),
                    form: 1,
                },
                U2fAuthenticate {
                    app: 0,
                    control: 2,
                    key_handle: issued(0),
                    form: 3,
                },
                U2fAuthenticate {
                    app: 0,
                    control: 1,
                    key_handle: issued(1),
                    form: 0,
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 0,
                    flags: 0,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
            ],
        ),
        (
            "silent_assertion_with_extensions",
            vec![
                MakeCredential {
                    rp: 1,
                    user: 0,
                    flags: 0b1000,
                    extensions: 0x1c,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 1,
                    flags: 0b01,
                    extensions: 0x01,
                    allow: Some(vec![issued(0)]),
                },
                GetAssertion {
                    rp: 1,
                    flags: 0b01,
                    extensions: 0x18,
                    allow: None,
                },
                GetAssertion {
                    rp: 1,
                    flags: 0,
                    extensions: 0x07,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::Approved),
            ],
        ),
        (
            "built_in_uv_before_exclude_list",
            vec![
                Restart { flags: 1 },
                MakeCredential {
                    rp: 0,
                    user: 0,
                    flags: 0b1000_0000,
                    extensions: 0x03,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                MakeCredential {
                    rp: 0,
                    user: 1,
                    flags: 0,
                    extensions: 0,
                    exclude: vec![issued(0)],
                },
                Resume(Verdict::Approved),
                MakeCredential {
                    rp: 0,
                    user: 2,
                    flags: 0b1000_0000,
                    extensions: 0,
                    exclude: vec![issued(0)],
                },
                Resume(Verdict::Denied),
                MakeCredential {
                    rp: 0,
                    user: 2,
                    flags: 0b1000_0000,
                    extensions: 0,
                    exclude: vec![issued(0)],
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 0,
                    flags: 0b1000,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 2,
                    flags: 0b1000,
                    extensions: 0,
                    allow: None,
                },
                Resume(Verdict::Approved),
                Restart { flags: 0 },
                GetAssertion {
                    rp: 0,
                    flags: 0,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
            ],
        ),
        (
            "pin_token_signs_a_level_three_credential",
            vec![
                ClientPin {
                    op: 0,
                    permissions: 0,
                },
                ClientPin {
                    op: 1,
                    permissions: 0x03,
                },
                MakeCredential {
                    rp: 0,
                    user: 0,
                    flags: 0b1000,
                    extensions: 0x27,
                    exclude: vec![],
                },
                Resume(Verdict::Approved),
                ClientPin {
                    op: 1,
                    permissions: 0x02,
                },
                GetAssertion {
                    rp: 0,
                    flags: 0,
                    extensions: 0x21,
                    allow: Some(vec![issued(0)]),
                },
                Resume(Verdict::Approved),
                GetAssertion {
                    rp: 0,
                    flags: 0,
                    extensions: 0,
                    allow: Some(vec![issued(0)]),
                },
            ],
        ),
    ]
}
