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

# fido2-cred and fido2-assert (libfido2's tools, 1.12 here) open their -o
# file without O_TRUNC: written over a longer file of an earlier round, the
# old tail stays behind the new lines. A self-attested credential written
# over one with a certificate then "has" the old x5c line, and fido2-cred -V
# checks the signature against that certificate: FIDO_ERR_INVALID_SIG (seen
# in control-uhid-ctap2_1, whose self-attesting key wrote over the x5c output
# of fido2-es256-cred-assert). So every output file goes first.
libfido2_roundtrip() {  # TYPE: make a credential, verify it, assert, verify the assertion
  t=$1
  rm -f cred.$t.out pub.$t assert.$t.out
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
  rm -f rk.out rk.pub rka.out  # see libfido2_roundtrip
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
  # SOFTKEY_VM_DEBUG=1: several rounds (a failure that comes and goes shows
  # sooner); a failing round leaves its fido2-cred files in the results.
  rounds=1; [ "${FIDO_DEBUG:-}" = 1 ] && rounds=5
  for round in $(seq $rounds); do
    libfido2_roundtrip es256 || { cp cred.es256.in cred.es256.out "$R/" 2>/dev/null; return 1; }
  done
  n=$(ctl credentials "$id"); echo "the control API lists $n credential(s)"
  [ "$n" -ge 1 ] || return 1
  ctl delete "$id" || return 1
  for i in $(seq 25); do [ -e "$DEV" ] || break; sleep 0.2; done
  if [ -e "$DEV" ]; then echo "$DEV is still there after DELETE"; return 1; fi
  echo "$DEV removed with the authenticator"
}

# ---- the Debian package ----
deb_install() {  # dpkg -i the .deb; everything it ships is in place
  dpkg -i /share/softkey.deb || return 1
  for f in /usr/bin/softkey /lib/udev/rules.d/70-softkey-uhid.rules \
           /usr/lib/modules-load.d/softkey-uhid.conf /usr/lib/systemd/user/softkey.service \
           /usr/share/man/man1/softkey.1.gz /usr/share/man/man1/softkey-vault-init.1.gz \
           /usr/share/bash-completion/completions/softkey /usr/share/zsh/vendor-completions/_softkey \
           /usr/share/fish/vendor_completions.d/softkey.fish; do
    [ -e "$f" ] || { echo "missing: $f"; return 1; }
  done
  getent group softkey || { echo "postinst made no group softkey"; return 1; }
  grep -q '^ExecStart=/usr/bin/softkey run ' /usr/lib/systemd/user/softkey.service || return 1
  zcat /usr/share/man/man1/softkey-run.1.gz | grep -q -- 'presence' || { echo "man page without options"; return 1; }
  command -v softkey && softkey --version
}

deb_purge() {  # dpkg --purge removes what the package installed; the image stays clean
  dpkg --purge softkey || return 1
  for f in /usr/bin/softkey /lib/udev/rules.d/70-softkey-uhid.rules /usr/lib/systemd/user/softkey.service; do
    [ -e "$f" ] && { echo "still there: $f"; return 1; }
  done
  rm -f /etc/pam.d/softkey-e2e
  delgroup --quiet softkey 2>/dev/null || true
  echo "purged"
}

# NAME: what `fido2-token -L` shows for softkey's node. libfido2 reads
# manufacturer and product from the node's USB parent device in sysfs; a UHID
# device has none (its HID device sits on the virtual bus). libfido2 1.13 and
# later fall back to the HID name (UHID_CREATE2's name, HID_NAME in uevent)
# for the product; older ones show both empty.
token_names() {
  line=$(fido2-token -L | grep "^$DEV:"); echo "$line"
  ver=$(dpkg-query -W -f '${Version}' libfido2-1); echo "libfido2 $ver"
  grep -E '^HID_(NAME|UNIQ|ID)=' "/sys/class/hidraw/${DEV##*/}/device/uevent"
  grep -qx "HID_NAME=$1" "/sys/class/hidraw/${DEV##*/}/device/uevent" || { echo "the kernel does not have our name"; return 1; }
  ls "/sys/class/hidraw/${DEV##*/}/device/../" | head -3
  if dpkg --compare-versions "$ver" ge 1.13; then
    echo "$line" | grep -qF "$1" || { echo "libfido2 >= 1.13 should show the HID name"; return 1; }
  else
    echo "libfido2 $ver shows no product for a device without a USB parent (README: fido2-token -L)"
  fi
}

# ---- login: pam_u2f ----
PAM_ORIGIN=pam://softkey-e2e
# A discoverable credential needs user verification on softkey (it verifies
# users); pamu2fcfg 1.1 asks for it with the PIN, which it reads from stdin
# when there is no terminal.
pam_register() {  # a discoverable credential for root, made with the PIN
  echo "$E2E_PIN" | pamu2fcfg -u root -o $PAM_ORIGIN -i $PAM_ORIGIN -r > /tmp/u2f_keys || return 1
  chmod 600 /tmp/u2f_keys; cut -c1-80 /tmp/u2f_keys
  cat > /etc/pam.d/softkey-e2e <<PAM
auth required pam_u2f.so authfile=/tmp/u2f_keys origin=$PAM_ORIGIN appid=$PAM_ORIGIN
account required pam_permit.so
PAM
  softkey vault $E2E_VAULT_ARGS list | grep -F "$PAM_ORIGIN"
}

pam_authenticate() {
  pamtester softkey-e2e root authenticate </dev/null
}

pam_refused_after_delete() {  # delete the credential in softkey's vault; pam_u2f refuses
  id=$(softkey vault $E2E_VAULT_ARGS list --json | python3 -c '
import json, sys
print(*[c["credential_id"] for c in json.load(sys.stdin) if c["rp_id"] == sys.argv[1]])' "$PAM_ORIGIN")
  [ -n "$id" ] || { echo "no credential for $PAM_ORIGIN in the vault"; return 1; }
  softkey vault $E2E_VAULT_ARGS delete "$id" || return 1
  if pamtester softkey-e2e root authenticate </dev/null; then echo "authenticated after the delete"; return 1; fi
  echo "pam_u2f refused once the credential was deleted"
}

# ---- disk unlock: LUKS2 on loop files ----
luks_format() {
  modprobe loop && modprobe dm_crypt || return 1
  printf 'e2e-passphrase' > /tmp/luks.pass
  for m in presence uv pin; do
    truncate -s 40M /tmp/luks-$m.img &&
    cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
      --key-file /tmp/luks.pass /tmp/luks-$m.img || return 1
  done
  echo "three LUKS2 volumes"
}

cryptenroll() {  # MODE: enroll softkey (hmac-secret) into /tmp/luks-MODE.img
  case $1 in
    presence) opts="--fido2-with-client-pin=no --fido2-with-user-presence=yes --fido2-with-user-verification=no" ;;
    uv) opts="--fido2-with-client-pin=no --fido2-with-user-presence=yes --fido2-with-user-verification=yes" ;;
    pin) opts="--fido2-with-client-pin=yes --fido2-with-user-presence=yes --fido2-with-user-verification=no" ;;
  esac
  # The PIN: once the key refuses makeCredential without it, bookworm's
  # systemd-cryptenroll asks for it through the ask-password agents (with
  # $PIN set it still waited for one, seen here), so the agent answers.
  agent=; [ "$1" = pin ] && agent=$(pin_agent)
  PASSWORD=e2e-passphrase PIN=$E2E_PIN systemd-cryptenroll --fido2-device=auto $opts /tmp/luks-$1.img
  rc=$?; [ -n "$agent" ] && { kill $agent 2>/dev/null; cat /tmp/pin-agent.log; }
  [ $rc -eq 0 ] || return 1
  # The PIN volume is only what its name says if systemd did use the PIN.
  if [ "$1" = pin ] && ! grep -q 'answered: .*PIN' /tmp/pin-agent.log; then
    echo "systemd-cryptenroll enrolled without asking for the PIN"; return 1
  fi
  cryptsetup luksDump /tmp/luks-$1.img | grep -A12 'systemd-fido2' | grep -E 'systemd-fido2|fido2-(clientPin|up|uv)-required|Keyslot'
}

# A password agent (systemd's ask-password protocol) that answers every
# question with $E2E_PIN: how systemd-cryptsetup gets a PIN without a terminal.
pin_agent() {
  # Its output goes to a file: `$(pin_agent)` must not wait for it.
  python3 - "$E2E_PIN" >/tmp/pin-agent.log 2>&1 <<'PY' &
import glob, os, socket, sys, time
os.makedirs("/run/systemd/ask-password", exist_ok=True)
answered = set()
deadline = time.time() + 100
while time.time() < deadline:
    for ask in glob.glob("/run/systemd/ask-password/ask.*"):
        if ask in answered:
            continue
        fields = dict(l.split("=", 1) for l in open(ask).read().splitlines() if "=" in l)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"+" + sys.argv[1].encode(), fields["Socket"])
        print("answered:", fields.get("Message"), flush=True)
        answered.add(ask)
    time.sleep(0.05)
PY
  echo $!
}

# MODE: systemd-cryptsetup attaches /tmp/luks-MODE.img with softkey alone
# (the PIN from the password agent above; `headless` for the others, so that
# nothing can ask).
unlock() {
  name=e2e-$1
  if [ "$1" = pin ]; then
    agent=$(pin_agent)
    DM_DISABLE_UDEV=1 /lib/systemd/systemd-cryptsetup attach $name /tmp/luks-$1.img - fido2-device=auto
    rc=$?; kill $agent 2>/dev/null; cat /tmp/pin-agent.log
    [ $rc -eq 0 ] || return 1
  else
    DM_DISABLE_UDEV=1 /lib/systemd/systemd-cryptsetup attach $name /tmp/luks-$1.img - \
      fido2-device=auto,headless=1 || return 1
  fi
  [ -b /dev/mapper/$name ] || { echo "no /dev/mapper/$name"; return 1; }
  echo "unlocked: /dev/mapper/$name"
  DM_DISABLE_UDEV=1 /lib/systemd/systemd-cryptsetup detach $name
}

pin_set() {  # fido2-token -S reads the PIN twice, from stdin when there is no terminal
  printf '%s\n%s\n' "$E2E_PIN" "$E2E_PIN" | fido2-token -S "$DEV" || return 1
  fido2-token -I "$DEV" | grep -E 'options|pin retries'
  fido2-token -I "$DEV" | grep -q 'clientPin' && fido2-token -I "$DEV" | grep -q 'pin retries: 8'
}

# always_uv on|off: CTAP 2.1 alwaysUv (authenticatorConfig) through
# fido2-token -S -u / -D -u (the PIN from stdin if libfido2 asks for it).
# While it is on, getInfo says makeCredUvNotRqd: false and makeCredential
# without user verification gets CTAP2_ERR_PUAT_REQUIRED.
always_uv() {
  case $1 in on) flag=-S want=true ;; off) flag=-D want=false ;; *) return 2 ;; esac
  printf '%s\n' "$E2E_PIN" | fido2-token $flag -u "$DEV" || return 1
  fido2-token -I "$DEV" > info.auv.txt; grep -E 'options' info.auv.txt
  grep -q "alwaysUv" info.auv.txt || { echo "getInfo has no alwaysUv"; return 1; }
  if [ $want = true ]; then
    grep -q "noalwaysUv" info.auv.txt && { echo "alwaysUv is still off"; return 1; }
    grep -q "nomakeCredUvNotRqd" info.auv.txt || { echo "makeCredUvNotRqd is still on"; return 1; }
  else
    grep -q "noalwaysUv" info.auv.txt || { echo "alwaysUv is still on"; return 1; }
  fi
  echo "alwaysUv $1"
}

cryptenroll_not_in_vault() {  # systemd makes non-discoverable credentials: not in the vault
  softkey vault $E2E_VAULT_ARGS list
  n=$(softkey vault $E2E_VAULT_ARGS list --json | python3 -c '
import json, sys
print(len([c for c in json.load(sys.stdin) if c["rp_id"] == "io.systemd.cryptsetup"]))')
  [ "$n" = 0 ] || { echo "$n cryptenroll credential(s) in the vault"; return 1; }
  for m in presence uv pin; do cryptsetup luksDump /tmp/luks-$m.img | grep -q 'systemd-fido2' || return 1; done
  echo "the three credentials live in their credential IDs (rp io.systemd.cryptsetup), not in the vault"
}

luks_refused_after_reset() {  # the same key unlocks; after authenticatorReset no volume does
  for i in $(seq 100); do DEV=$(fido_node) && [ -c "$DEV" ] && break; sleep 0.2; done
  unlock presence || { echo "the restarted key does not unlock luks-presence"; return 1; }
  fido2-token -R "$DEV" || return 1
  echo "reset $DEV"
  for m in presence uv pin; do
    if unlock $m; then echo "luks-$m unlocked after the reset"; return 1; fi
  done
  echo "no volume unlocks after the reset"
}

DEV=$(fido_node) || DEV=
"$@"
