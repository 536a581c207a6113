#!/usr/bin/env bash
# The relying party against a real browser, as CI runs it.
#
# Installs Debian's `chromium` when it is missing (about a minute with `apt-get
# update`; runs as root, as CI does), then runs the headless-Chromium end-to-end
# test with SOFTKEY_REQUIRE_BROWSER=1, so a missing browser fails instead of
# skipping. The test starts the demo server in-process on a free loopback port and
# drives it over the DevTools protocol (WebAuthn virtual authenticator); nothing
# from PyPI or npm is needed.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium (Debian package)…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
chromium --version

SOFTKEY_REQUIRE_BROWSER=1 cargo test -p softkey-rp --test browser -- --nocapture
