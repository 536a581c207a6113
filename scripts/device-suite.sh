#!/usr/bin/env bash
# Runs python-fido2's own conformance suite (tests/device in its PyPI source
# distribution, unedited) against a fresh `softkey sim` over UDP.
#
# The simulator attests with its attestation certificate and is enterprise-
# attestation capable, with EP_RP_ID on its vendor-facilitated list: the
# suite's enterprise-attestation tests compare an ordinary x5c attestation
# with the enterprise one, and test_ep_vendor needs `--ep-rp-id`.
#
#   scripts/device-suite.sh [PYTHON]
#
# PYTHON defaults to .venv/bin/python (scripts/test.sh makes it). The sdist is
# downloaded once into target/python-fido2-suite/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-${PYTHON:-.venv/bin/python}}
PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")
VERSION=2.2.1
SUITE_DIR=target/python-fido2-suite
SOFTKEY=${SOFTKEY_BIN:-${CARGO_TARGET_DIR:-target}/debug/softkey}

if [ ! -d "$SUITE_DIR/fido2-$VERSION/tests/device" ]; then
    mkdir -p "$SUITE_DIR"
    "$PYTHON" -m pip download -q --no-binary :all: --no-deps "fido2==$VERSION" -d "$SUITE_DIR"
    tar -xzf "$SUITE_DIR/fido2-$VERSION.tar.gz" -C "$SUITE_DIR"
fi

PORT=${SOFTKEY_UDP_PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
LOG=target/device-suite-sim.log
EP_RP_ID=${EP_RP_ID:-enterprise.example.com}
"$SOFTKEY" sim --udp "127.0.0.1:$PORT" --attestation-certificate \
    --enterprise-rp-id "$EP_RP_ID" >"$LOG" 2>&1 &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true' EXIT
sleep 0.5

cd "$SUITE_DIR/fido2-$VERSION"
set +e
SOFTKEY_UDP_PORT=$PORT PYTHONPATH="$OLDPWD/tests/python" \
    "$PYTHON" -m pytest tests/device -p softkey_device_plugin -q -rfE --ep-rp-id "$EP_RP_ID" \
    -o cache_dir="$OLDPWD/target/.pytest-device-cache" 2>&1 | tee "$OLDPWD/target/device-suite.txt"
status=${PIPESTATUS[0]}
set -e
summary=$(tail -n 1 "$OLDPWD/target/device-suite.txt")
echo "python-fido2 device suite against softkey sim: $summary"
exit "$status"
