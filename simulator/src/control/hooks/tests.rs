//! The hooks' request and response rewriting, profiles and faults.

use super::*;

fn state(profile: Profile, has_resident_key: bool) -> ControlState {
    ControlState::new(
        "t".into(),
        profile,
        has_resident_key,
        "usb".into(),
        Arc::new(AtomicBool::new(false)),
        EventSink::default(),
    )
}

fn request(command: u8, parameters: Vec<(Value, Value)>) -> Vec<u8> {
    std::iter::once(command)
        .chain(cbor::encode(Value::Map(parameters)))
        .collect()
}

fn descriptor(id: &[u8]) -> Value {
    Value::Map(vec![
        (Value::Text("id".into()), Value::Bytes(id.to_vec())),
        (Value::Text("type".into()), Value::Text("public-key".into())),
    ])
}

#[test]
fn ctap2_0_profile_refuses_2_1_commands_and_protocol_two() {
    let old = state(Profile::Ctap2_0, true);
    assert_eq!(profile_refusal(&old, &[0x0A]), Some(INVALID_COMMAND));
    let pin_two = request(
        0x06,
        vec![
            (Value::from(1), Value::from(2)),
            (Value::from(2), Value::from(2)),
        ],
    );
    assert_eq!(profile_refusal(&old, &pin_two), Some(INVALID_PARAMETER));
    let uv_token = request(
        0x06,
        vec![
            (Value::from(1), Value::from(1)),
            (Value::from(2), Value::from(6)),
        ],
    );
    assert_eq!(profile_refusal(&old, &uv_token), Some(INVALID_SUBCOMMAND));
    assert_eq!(profile_refusal(&old, &[0x04]), None);
    assert_eq!(
        profile_refusal(&state(Profile::Ctap2_1, true), &[0x0A]),
        None
    );
    let rk = request(
        0x01,
        vec![(
            Value::from(7),
            Value::Map(vec![(Value::Text("rk".into()), Value::Bool(true))]),
        )],
    );
    assert_eq!(
        profile_refusal(&state(Profile::Ctap2_1, false), &rk),
        Some(UNSUPPORTED_OPTION)
    );
}

#[test]
fn allow_list_ids_are_translated_and_revoked_ids_hidden() {
    let mut st = state(Profile::Ctap2_1, true);
    st.aliases.push(Alias {
        external: b"tester".to_vec(),
        internal: b"device".to_vec(),
        non_resident: None,
    });
    st.revoked.push(b"gone".to_vec());
    let mut payload = request(
        0x02,
        vec![(
            Value::from(3),
            Value::Array(vec![
                descriptor(b"tester"),
                descriptor(b"gone"),
                descriptor(b"other"),
            ]),
        )],
    );
    rewrite_request(&st, &mut payload);
    let decoded = decode_map(&payload[1..]).unwrap();
    assert_eq!(
        decoded[0].1,
        Value::Array(vec![
            descriptor(b"device"),
            descriptor(&[0]),
            descriptor(b"other")
        ])
    );
}

#[test]
fn get_info_follows_the_minimal_profile() {
    let info = cbor::encode(Value::Map(vec![
        (
            Value::from(1),
            Value::Array(vec![
                Value::Text("FIDO_2_0".into()),
                Value::Text("FIDO_2_1".into()),
            ]),
        ),
        (
            Value::from(4),
            Value::Map(vec![
                (Value::Text("rk".into()), Value::Bool(true)),
                (Value::Text("credMgmt".into()), Value::Bool(true)),
            ]),
        ),
        (
            Value::from(6),
            Value::Array(vec![Value::from(2), Value::from(1)]),
        ),
        (
            Value::from(9),
            Value::Array(vec![Value::Text("usb".into())]),
        ),
    ]));
    let mut reply: Vec<u8> = std::iter::once(0).chain(info).collect();
    rewrite_get_info(&state(Profile::Ctap2_0, false), &mut reply);
    let decoded = decode_map(&reply[1..]).unwrap();
    assert_eq!(
        decoded,
        vec![
            (
                Value::from(1),
                Value::Array(vec![Value::Text("FIDO_2_0".into())])
            ),
            (
                Value::from(4),
                Value::Map(vec![(Value::Text("rk".into()), Value::Bool(false))])
            ),
            (Value::from(6), Value::Array(vec![Value::from(1)])),
        ]
    );
}

#[test]
fn u2f_key_handles_are_translated_and_revoked_ones_hidden() {
    let mut st = state(Profile::Ctap1, false);
    st.aliases.push(Alias {
        external: b"tester".to_vec(),
        internal: b"device".to_vec(),
        non_resident: None,
    });
    st.revoked.push(b"gone".to_vec());
    let shared = Arc::new(Mutex::new(st));
    let mut hooks = ControlHooks::new(Arc::clone(&shared));
    let authenticate = |key_handle: &[u8]| ctap1::Request::Authenticate {
        control: 0x03,
        challenge: [1; 32],
        application: [2; 32],
        key_handle: key_handle.to_vec(),
    };
    for (sent, seen) in [
        (&b"tester"[..], &b"device"[..]),
        (b"gone", &[0]),
        (b"other", b"other"),
    ] {
        let mut apdu = authenticate(sent).to_apdu().unwrap();
        assert_eq!(hooks.on_ctap1_request(&mut apdu, Instant::now()), None);
        assert_eq!(ctap1::parse(&apdu), Ok(authenticate(seen)));
    }
    let mut register = ctap1::Request::Register {
        challenge: [3; 32],
        application: [4; 32],
    }
    .to_apdu()
    .unwrap();
    hooks.on_ctap1_request(&mut register, Instant::now());
    let state = shared.lock().unwrap();
    assert_eq!(state.pending_u2f_application, Some([4; 32]));
}

#[test]
fn faults_match_their_command_and_run_out() {
    let mut st = state(Profile::Ctap2_1, true);
    st.faults.push(Fault {
        command: Some(0x02),
        kind: FaultKind::Status(0x27),
        remaining: 2,
    });
    assert_eq!(st.take_fault(0x01), None);
    assert_eq!(st.take_fault(0x02), Some(FaultKind::Status(0x27)));
    assert_eq!(st.take_fault(0x02), Some(FaultKind::Status(0x27)));
    assert_eq!(st.take_fault(0x02), None);
}
