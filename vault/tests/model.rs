//! Model test (STYLE.md 7): random operation sequences against the vault and
//! against `MemoryStore`, the plain in-memory model, must leave the same
//! observable state, also across close and reopen.

// Test code throughout (helpers and the child process included).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, credential, summary};
use proptest::prelude::*;
use softkey_authenticator::crypto::sha256;
use softkey_authenticator::secret::Secret32;
use softkey_authenticator::store::{MemoryStore, SettingKey, Store};
use softkey_vault::Vault;

const RPS: [&str; 3] = ["a.example", "b.example", "c.example"];
const SETTINGS: [SettingKey; 3] = [
    SettingKey::PinState,
    SettingKey::Config,
    SettingKey::LargeBlobArray,
];

#[derive(Clone, Debug)]
enum Op {
    /// Put a credential of (rp, user, generation); its id is derived from all
    /// three, so a new generation replaces, the same one updates.
    Put {
        rp: usize,
        user: u8,
        generation: u8,
        sign_count: u32,
    },
    Delete {
        rp: usize,
        user: u8,
        generation: u8,
    },
    Counter,
    SetSetting {
        key: usize,
        value: Option<Vec<u8>>,
    },
    Wipe {
        secret: u8,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..RPS.len(), 0..3u8, 0..3u8, any::<u32>()).prop_map(|(rp, user, generation, sign_count)| Op::Put {
            rp,
            user,
            generation,
            sign_count
        }),
        2 => (0..RPS.len(), 0..3u8, 0..3u8).prop_map(|(rp, user, generation)| Op::Delete { rp, user, generation }),
        1 => Just(Op::Counter),
        2 => (0..SETTINGS.len(), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)))
            .prop_map(|(key, value)| Op::SetSetting { key, value }),
        1 => any::<u8>().prop_map(|secret| Op::Wipe { secret }),
        2 => Just(Op::Reopen),
    ]
}

fn id_of(rp: usize, user: u8, generation: u8) -> Vec<u8> {
    let mut id = vec![0x81; 32];
    id[1] = u8::try_from(rp).unwrap();
    id[2] = user;
    id[3] = generation;
    id
}

type Observed = (
    Vec<(Vec<u8>, String, Vec<u8>, Option<String>, u32, Vec<u8>)>,
    Vec<Vec<Vec<u8>>>,
    usize,
    Vec<Option<Vec<u8>>>,
    Vec<u8>,
);

/// Everything a caller of `Store` can see, in a comparable form.
fn observe(store: &mut dyn Store) -> Observed {
    let mut all: Vec<_> = store
        .all_discoverable()
        .unwrap()
        .iter()
        .map(summary)
        .collect();
    all.sort();
    let per_rp = RPS
        .iter()
        .map(|rp| {
            let mut ids: Vec<_> = store
                .discoverable_for_rp(&sha256(rp.as_bytes()))
                .unwrap()
                .into_iter()
                .map(|c| c.credential_id)
                .collect();
            ids.sort();
            ids
        })
        .collect();
    let settings = SETTINGS
        .iter()
        .map(|key| {
            store
                .setting(*key)
                .unwrap()
                .map(|v| v.expose_secret().to_vec())
        })
        .collect();
    (
        all,
        per_rp,
        store.discoverable_count().unwrap(),
        settings,
        store.device_secret().unwrap().expose_secret().to_vec(),
    )
}

fn apply(store: &mut dyn Store, op: &Op) -> String {
    match op {
        Op::Put {
            rp,
            user,
            generation,
            sign_count,
        } => {
            let mut c = credential(
                &id_of(*rp, *user, *generation),
                RPS[*rp],
                &[*user],
                &format!("user{user}-gen{generation}"),
                generation.wrapping_mul(7).wrapping_add(*user),
            );
            c.sign_count = *sign_count;
            format!(
                "{:?}",
                store.put_discoverable(&c).map_err(|e| e.to_string())
            )
        }
        Op::Delete {
            rp,
            user,
            generation,
        } => format!(
            "{:?}",
            store
                .delete_discoverable(&id_of(*rp, *user, *generation))
                .map_err(|e| e.to_string())
        ),
        Op::Counter => format!(
            "{:?}",
            store.next_global_counter().map_err(|e| e.to_string())
        ),
        Op::SetSetting { key, value } => format!(
            "{:?}",
            store
                .put_setting(SETTINGS[*key], value.as_deref())
                .map_err(|e| e.to_string())
        ),
        Op::Wipe { secret } => format!(
            "{:?}",
            store
                .wipe(Secret32::new([*secret; 32]))
                .map_err(|e| e.to_string())
        ),
        Op::Reopen => String::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn vault_behaves_like_the_in_memory_model(ops in proptest::collection::vec(op(), 1..40)) {
        let fixture = Fixture::new();
        let mut vault: Option<Vault> = Some(fixture.create());
        let secret = vault.as_mut().unwrap().device_secret().unwrap();
        let mut model = MemoryStore::new(secret);
        for (step, op) in ops.iter().enumerate() {
            if let Op::Reopen = op {
                drop(vault.take());
                vault = Some(fixture.open());
            } else {
                let got = apply(vault.as_mut().unwrap(), op);
                let want = apply(&mut model, op);
                prop_assert_eq!(got, want, "step {} {:?}", step, op);
            }
            prop_assert_eq!(observe(vault.as_mut().unwrap()), observe(&mut model), "after step {} {:?}", step, op);
        }
        drop(vault.take());
        prop_assert_eq!(observe(&mut fixture.open()), observe(&mut model), "after the final reopen");
    }
}
