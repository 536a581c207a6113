#!/bin/sh
# Builds softkey's Debian package with cargo-deb: the binary, the udev rule,
# the modules-load file, the systemd user unit (ExecStart=/usr/bin/softkey),
# man pages and bash/zsh/fish completions generated from the clap definition
# (simulator/examples/gen_docs.rs), and the postinst that makes the `softkey`
# group. The layout is in [package.metadata.deb] of simulator/Cargo.toml.
#
# usage: packaging/build-deb.sh [--profile release|dev] [OUT_DIR]
#        (default release; OUT_DIR default target/debian). `dev` reuses the
#        test build (CI, tests/vm) and strips it.
# needs: cargo-deb (cargo install cargo-deb --locked)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=release
if [ "${1:-}" = --profile ]; then PROFILE=$2; shift 2; fi
OUT=${1:-$ROOT/target/debian}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $PROFILE in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
# cargo-deb maps the assets' target/release/ to this profile's folder.
ASSETS=$TARGET/$DIR/deb-assets
command -v cargo-deb >/dev/null || { echo "build-deb: needs cargo-deb (cargo install cargo-deb --locked)" >&2; exit 2; }
cd "$ROOT"
cargo build -q --profile "$PROFILE" -p softkey --bin softkey
rm -rf "$ASSETS"; mkdir -p "$ASSETS"
cargo run -q --profile "$PROFILE" -p softkey --example gen_docs -- "$ASSETS" >/dev/null
gzip -9nf "$ASSETS"/man/*.1
sed 's|%h/.cargo/bin/softkey|/usr/bin/softkey|' packaging/systemd/softkey.service > "$ASSETS/softkey.service"
grep -q '^ExecStart=/usr/bin/softkey ' "$ASSETS/softkey.service"
mkdir -p "$OUT"
cargo deb -q -p softkey --profile "$PROFILE" --no-build --strip -o "$OUT"
ls "$OUT"/softkey_*.deb
