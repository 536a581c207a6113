#!/bin/sh
# The guest's test steps, one shell function each; test.sh runs them under
# `timeout` as `sh steps.sh FUNCTION ARGS...` (timeout cannot run functions).
R=/share/results G=/share/guest
fido_node() {  # the hidraw node whose report descriptor is FIDO's (usage page 0xF1D0)
  for d in /sys/class/hidraw/hidraw*; do
    [ "$(od -An -tx1 -N3 "$d/device/report_descriptor" 2>/dev/null | tr -d ' ')" = 06d0f1 ] && { echo "/dev/${d##*/}"; return 0; }
  done; return 1
}

wait_device() {
  for i in $(seq 100); do
    DEV=$(fido_node) && [ -c "$DEV" ] && { echo "$DEV"; ls -la "$DEV"; cat "/sys/class/hidraw/${DEV##*/}/device/uevent"; return 0; }
    sleep 0.2
  done; echo "no FIDO hidraw node appeared"; return 1
}

token_list() {  # fido2-token -L finds softkey's node
  fido2-token -L > list.txt; rc=$?; cat list.txt
  [ $rc -eq 0 ] && grep -q "^$DEV:" list.txt
}

token_info() {  # fido2-token -I shows softkey's getInfo: CTAP2, ES256/EdDSA
  fido2-token -I "$DEV" > info.txt; rc=$?; cat info.txt
  [ $rc -eq 0 ] && grep -q FIDO_2_1 info.txt && grep -qi 'aaguid' info.txt
}

http_up() {  # the test page is served (and localhost resolves)
  getent hosts localhost
  until python3 -c 'import urllib.request as u; print(len(u.urlopen("http://localhost:8000/webauthn.js", timeout=5).read()), "bytes of webauthn.js")'; do sleep 1; done
}

rp_up() {  # softkey's demo relying party answers on localhost:8080
  until python3 -c 'import urllib.request as u; print(len(u.urlopen("http://localhost:8080/app.js", timeout=5).read()), "bytes of the demo page app.js")'; do sleep 1; done
}

# cdp PAGE EXPRESSION TIMEOUT_S: evaluate in Chromium's tab (DevTools port
# 9222) on the demo relying party (rp, with the helpers of rp.js) or the
# test's own page (e2e), loading it first if the tab is elsewhere.
cdp() {
  case $1 in
    rp) set -- http://localhost:8080/ \
          'location.origin === "http://localhost:8080" && typeof signUp === "function" && document.readyState === "complete"' \
          "$2" "$3" "$G/rp.js" ;;
    e2e) set -- http://localhost:8000/index.html 'typeof window.doCreate === "function"' "$2" "$3" ;;
    *) echo "cdp: unknown page $1"; return 2 ;;
  esac
  python3 "$G/cdp.py" 9222 "$@"
}

# bidi EXPRESSION TIMEOUT_S: the same on the demo relying party in Firefox
# (WebDriver BiDi port 9223), as user $E2E_USER.
bidi() {
  python3 "$G/bidi.py" 9223 http://localhost:8080/ \
    'location.origin === "http://localhost:8080" && typeof signUp === "function" && document.readyState === "complete"' \
    "$1" "$2" "$G/rp.js"
}

libfido2_roundtrip() {  # TYPE: make a credential, verify it, assert, verify the assertion
  t=$1
  { head -c32 /dev/urandom | base64; echo localhost.test; echo alice; head -c16 /dev/urandom | base64; } > cred.$t.in
  fido2-cred -M -i cred.$t.in -o cred.$t.out "$DEV" "$t" && echo "made $t credential" &&
  fido2-cred -V -i cred.$t.out -o pub.$t "$t" && echo "verified attestation" &&
  { head -c32 /dev/urandom | base64; echo localhost.test; sed -n 5p cred.$t.out; } > assert.$t.in &&
  fido2-assert -G -p -i assert.$t.in -o assert.$t.out "$DEV" && echo "got assertion" &&
  fido2-assert -V -p -i assert.$t.out pub.$t "$t" && echo "verified $t assertion"
}

# A discoverable credential, then a username-less assertion (no credential id).
# softkey verifies users itself (`--verify`): a discoverable credential then
# needs user verification (CTAP 2.1 makeCredUvNotRqd covers only rk=false), so
# -v asks libfido2 for it (a pinUvAuthToken from the built-in UV, no PIN).
libfido2_resident() {
  { head -c32 /dev/urandom | base64; echo passkey.test; echo bob; head -c16 /dev/urandom | base64; } > rk.in
  fido2-cred -M -r -v -i rk.in -o rk.out "$DEV" es256 && echo "made a discoverable credential" &&
  fido2-cred -V -i rk.out -o rk.pub es256 && echo "verified attestation" &&
  { head -c32 /dev/urandom | base64; echo passkey.test; } > rka.in &&
  fido2-assert -G -r -p -i rka.in -o rka.out "$DEV" && echo "got an assertion without naming the credential" &&
  fido2-assert -V -p -i rka.out rk.pub es256 && echo "verified username-less assertion"
}

ssh_roundtrip() {  # TYPE: enroll an -sk key, sign, verify
  t=$1; key=$HOME/id_$t; rm -f "$key" "$key.pub"
  ssh-keygen -q -t "$t" -f "$key" -N '' -C "e2e@softkey" </dev/null && echo "enrolled $t" &&
  echo "e2e@softkey $(cut -d' ' -f1,2 "$key.pub")" > allowed.$t &&
  echo "signed by softkey" > data.$t && ssh-keygen -Y sign -f "$key" -n file data.$t </dev/null && echo signed &&
  ssh-keygen -Y verify -f allowed.$t -I e2e@softkey -n file -s data.$t.sig < data.$t
}

# ---- Firefox ESR (headless; the page reports to the HTTP server) ----
firefox_flow() {
  mkdir -p /tmp/firefox
  firefox-esr --headless --no-remote --profile /tmp/firefox http://localhost:8000/firefox.html >"$R/firefox.log" 2>&1 & FPID=$!
  until grep -q 'step=get' "$R/http.log" || grep -q 'step=create&result=ERR' "$R/http.log"; do sleep 1; done
  kill $FPID
  grep 'GET /report' "$R/http.log" | python3 -c 'import sys,urllib.parse;[print(urllib.parse.unquote(l.split("GET ")[1].split(" HTTP")[0])) for l in sys.stdin]'
  grep -q 'step=get&result=OK' "$R/http.log"
}

clean_exit() {  # PID: softkey was sent SIGTERM; its hidraw node must go
  while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
  for i in $(seq 25); do fido_node >/dev/null || break; sleep 0.2; done
  if node=$(fido_node); then echo "$node is still there"; return 1; fi
  tail -3 "$R/softkey.log"; grep -q 'UHID security key removed' "$R/softkey.log"
}

# ---- softkey sim's control API with UHID devices (127.0.0.1:8120) ----
ctl() { python3 "$G/control.py" /tmp/control.token "$@"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

# PROTOCOL [EXTRA_JSON]: add an authenticator (a UHID device: the simulator
# runs with --transport uhid, or EXTRA_JSON says "softkey:uhid"), use its
# hidraw node with libfido2 (CTAP2, or U2F for ctap1/u2f), see the
# credential listed, remove it and see the node go.
control_uhid() {
  case $1 in ctap1/u2f) rk=false ;; *) rk=true ;; esac
  answer=$(ctl add "{\"protocol\":\"$1\",\"transport\":\"usb\",\"hasResidentKey\":$rk$2}") || return 1
  echo "$answer"
  id=$(echo "$answer" | field authenticatorId); DEV=$(echo "$answer" | field hidrawPath)
  [ -c "$DEV" ] || { echo "no character device at hidrawPath '$DEV'"; return 1; }
  cat "/sys/class/hidraw/${DEV##*/}/device/uevent"
  fido2-token -I "$DEV" > info.ctl.txt; rc=$?; cat info.ctl.txt
  case $1 in
    ctap1/u2f) grep -q 'nocbor, msg' info.ctl.txt || { echo "libfido2 does not see a U2F-only device"; return 1; } ;;
    *) [ $rc -eq 0 ] && grep -q FIDO_2_1 info.ctl.txt || return 1 ;;
  esac
  libfido2_roundtrip es256 || return 1
  n=$(ctl credentials "$id"); echo "the control API lists $n credential(s)"
  [ "$n" -ge 1 ] || return 1
  ctl delete "$id" || return 1
  for i in $(seq 25); do [ -e "$DEV" ] || break; sleep 0.2; done
  if [ -e "$DEV" ]; then echo "$DEV is still there after DELETE"; return 1; fi
  echo "$DEV removed with the authenticator"
}

DEV=$(fido_node) || DEV=
"$@"
