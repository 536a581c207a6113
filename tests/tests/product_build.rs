//! The product build carries no fuzzing harness (issue 18). The product crates'
//! hidden `fuzzing` modules (fuzz entry points, seeds, the command-sequence
//! model) compile only with their `fuzzing` cargo feature, which `fuzz/`
//! enables and nothing in `softkey`'s normal dependency graph may. Cargo itself
//! answers, offline from the lock file: the features `cargo build -p softkey`
//! (and `--release`) builds each of our crates with.
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

/// `cargo tree -p softkey -e features,normal -i <package>`: the features the
/// product build enables on `package`, each with what enables it.
fn product_features_of(package: &str) -> String {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .arg("tree")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "--frozen",
            "-p",
            "softkey",
            "-e",
            "features,normal",
            "--prefix",
            "none",
        ])
        .args(["-i", package])
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree -i {package} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn softkey_product_build_enables_no_fuzzing_feature() {
    for package in [
        "softkey",
        "softkey-authenticator",
        "softkey-transport",
        "softkey-vault",
        "softkey-rp",
    ] {
        let tree = product_features_of(package);
        // The graph is the one asked for: the package is built, features shown.
        assert!(
            tree.starts_with(&format!("{package} v")),
            "{package} is not in the product build:\n{tree}"
        );
        assert!(
            tree.contains(&format!("{package} feature \"default\"")),
            "no feature edges for {package}:\n{tree}"
        );
        let fuzzing: Vec<&str> = tree
            .lines()
            .filter(|line| line.contains("feature \"fuzzing\""))
            .collect();
        assert!(
            fuzzing.is_empty(),
            "the product build compiles {package}'s fuzzing module: {fuzzing:?}"
        );
    }
}
