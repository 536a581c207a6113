#!/usr/bin/env bash
# Every test softkey has, in the order a failure is cheapest to find:
#   1. cargo tests of the whole workspace (unit, property, in-process stack,
#      vault crash test, relying party incl. the headless-Chromium test when
#      Chromium is installed);
#   2. python-fido2 (an independent client) against `softkey sim` over UDP;
#   3. python-fido2's own device conformance suite against `softkey sim`;
#   4. the README's (and docs/*.md's) shell and Python examples, run as
#      written against fresh simulators (scripts/doc_examples.py).
# Makes a Python venv in .venv (or $SOFTKEY_VENV) with pinned packages.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${SOFTKEY_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/python/requirements.txt

# TPM key slots (cargo feature `tpm`) need the system's tpm2-tss to build:
# built where it is installed, or where SOFTKEY_REQUIRE_TPM=1 (CI) says the
# TPM tests must run (they need swtpm too; vault/tests/tpm.rs, and
# tests/python/test_tpm.py against the softkey binary built here).
FEATURES=()
if [ "${SOFTKEY_REQUIRE_TPM:-}" = 1 ] || pkg-config --exists tss2-esys 2>/dev/null; then
    FEATURES=(--features softkey/tpm)
fi

echo "== build (once, all targets${FEATURES:+, ${FEATURES[*]}})"
cargo build --workspace --all-targets "${FEATURES[@]}"

echo "== cargo tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "${FEATURES[@]}"
    cargo test --workspace --doc "${FEATURES[@]}"
else
    cargo test --workspace --no-fail-fast "${FEATURES[@]}"
fi

echo "== python-fido2 against softkey sim (UDP)"
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
SOFTKEY_BIN="$TARGET_DIR/debug/softkey" "$VENV/bin/python" -m pytest tests/python -q \
    -p no:cacheprovider

echo "== python-fido2 device suite"
SOFTKEY_BIN="$TARGET_DIR/debug/softkey" scripts/device-suite.sh "$VENV/bin/python"

echo "== the README's examples, as written"
# `cargo run -p softkey` (the README's first command) resolves features without
# the dev-dependencies that `--all-targets` unifies in, so it is a build of its
# own: make it here, where a slow build is not mistaken for a hung example.
cargo build -p softkey
SOFTKEY_VENV="$VENV" python3 scripts/doc_examples.py README.md $(ls docs/*.md 2>/dev/null)
