#!/bin/sh
# Runs inside the VM (as /share/test.sh): softkey on UHID, then real clients
# against its hidraw node. Each step has its own timeout and writes one line
# "NAME<TAB>PASS|FAIL<TAB>SECONDS<TAB>NOTE" to /share/results/steps.tsv; its
# output goes to /share/results/NAME.log.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp/home LANG=C.UTF-8
R=/share/results G=/share/guest BROWSERS=1
mkdir -p "$R" "$HOME" /tmp/work; : > "$R/steps.tsv"
cd /tmp/work
# debootstrap's minbase root has no /etc/hosts: without it "localhost" only
# resolves where a client hard-codes it (Chromium), not in Python or Firefox.
[ -s /etc/hosts ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n' > /etc/hosts
now() { cut -d' ' -f1 /proc/uptime; }

# step NAME TIMEOUT_S COMMAND...: run, time and record one step.
# SOFTKEY_VM_STEPS (an extended regex, from browser-e2e.sh's environment via
# /share/env) runs only the steps whose whole name matches; the others are
# skipped and not recorded. Steps a chosen one depends on must be chosen too
# (deb-install, vault-init and device always run).
# SOFTKEY_VM_DEBUG=1: softkey logs every request (debug), libfido2 its frames
# (FIDO_DEBUG), systemd its decisions: for a failing step, not for CI.
STEPS= DEBUG=0
[ -f /share/env ] && . /share/env
SKLOG=info,softkey_transport=debug SIMLOG=info
[ "$DEBUG" = 1 ] && { SKLOG=debug SIMLOG=debug; export FIDO_DEBUG=1 SYSTEMD_LOG_LEVEL=debug; }
step() {
  name=$1 limit=$2; shift 2
  case $name in deb-install|vault-init|device) ;; *)
    if [ -n "$STEPS" ] && ! echo "$name" | grep -Eqx "$STEPS"; then echo "STEP $name SKIP"; return 0; fi ;;
  esac
  start=$(now)
  timeout -k 5 "$limit" "$@" </dev/null >"$R/$name.log" 2>&1; rc=$?
  secs=$(echo "$start $(now)" | awk '{printf "%.1f", $2 - $1}')
  note=$(grep -v '^\s*$' "$R/$name.log" | tail -1 | tr '\t' ' ' | cut -c1-200)
  if [ $rc -eq 0 ]; then verdict=PASS; else verdict=FAIL; [ $rc -eq 124 ] && note="timed out after ${limit}s; $note"; fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$verdict" "$secs" "$note" >> "$R/steps.tsv"
  echo "STEP $name $verdict ${secs}s $note"
  return $rc
}

# softkey comes from its Debian package, as a user would install it.
step deb-install 120 sh $G/steps.sh deb_install || { echo ALL_DONE >> "$R/steps.tsv"; exit 1; }

# softkey itself: UHID, a real presence provider (command) that approves.
# `softkey run` keeps credentials in a vault: make one, unlocked by a key file.
# Built-in user verification (the command provider, set to verify): the key
# advertises `uv`, so Chromium verifies the user through it instead of asking
# to set a PIN (through UI headless mode cannot answer) before storing a passkey.
VAULT_ARGS="--vault /tmp/vault/vault.sqlite --key-file /tmp/vault.key"
step vault-init 60 softkey vault $VAULT_ARGS init
# Attestation with a certificate (packed, x5c): pamu2fcfg 1.1 verifies only
# that kind.
RUN_ARGS="$VAULT_ARGS --verify command --verify-command true --presence command --presence-command true --attestation-certificate"
SOFTKEY_LOG=$SKLOG softkey run $RUN_ARGS --device-name "softkey e2e" --serial e2e-0001 \
  >"$R/softkey.log" 2>&1 & SKPID=$!
step device 30 sh $G/steps.sh wait_device || { kill $SKPID; echo ALL_DONE >> "$R/steps.tsv"; exit 1; }
DEV=$(sh $G/steps.sh fido_node)
# softkey doctor: module, /dev/uhid, hidraw node.
step doctor 30 softkey doctor

# ---- libfido2 ----
step fido2-token-L 60 sh $G/steps.sh token_list
step fido2-token-L-names 30 sh $G/steps.sh token_names "softkey e2e"
step fido2-token-I 60 sh $G/steps.sh token_info
step fido2-es256-cred-assert 90 sh $G/steps.sh libfido2_roundtrip es256
step fido2-eddsa-cred-assert 90 sh $G/steps.sh libfido2_roundtrip eddsa
step fido2-discoverable 90 sh $G/steps.sh libfido2_resident

# ---- OpenSSH: -sk keys over CTAP2 (libfido2 inside ssh-keygen) ----
step ssh-ecdsa-sk 120 sh $G/steps.sh ssh_roundtrip ecdsa-sk
step ssh-ed25519-sk 120 sh $G/steps.sh ssh_roundtrip ed25519-sk

# SOFTKEY_VM_BROWSERS=0 (from browser-e2e.sh's environment) skips the browser
# steps (and starting the browsers), for quicker runs while working on the others.
if [ "$BROWSERS" = 1 ]; then
# ---- Chromium (headless, DevTools protocol) ----
# The test's own page (localhost:8000, also Firefox's) and softkey's demo
# relying party (`softkey rp`, localhost:8080, rp id localhost).
(cd "$G/web" && exec python3 -u -m http.server 8000 --bind 127.0.0.1 >"$R/http.log" 2>&1) & HPID=$!
step http-server 30 sh $G/steps.sh http_up
SOFTKEY_LOG=info softkey rp --listen 127.0.0.1:8080 >"$R/rp.log" 2>&1 & RPPID=$!
step rp-server 30 sh $G/steps.sh rp_up
chromium --headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --disable-extensions --disable-dev-shm-usage --disable-features=Translate,MediaRouter,OptimizationHints \
  --user-data-dir=/tmp/chromium --remote-debugging-port=9222 about:blank \
  >"$R/chromium.log" 2>&1 & CPID=$!
# Each browser step is under its own timeout: a refused request can leave the
# page's promise unsettled.
if [ -n "$RPPID" ]; then
  # A passkey (residentKey required, UV preferred) on the demo page: sign up,
  # sign out, sign in without a username, see it listed.
  step chromium-rp-sign-up 180 sh $G/steps.sh cdp rp 'window.e2e.signUp()' 170
  step chromium-rp-sign-out 60 sh $G/steps.sh cdp rp 'window.e2e.signOut()' 50
  step chromium-rp-sign-in 150 sh $G/steps.sh cdp rp 'window.e2e.signIn()' 140
  step chromium-rp-passkey-listed 60 sh $G/steps.sh cdp rp 'window.e2e.passkeys()' 50
fi
# A non-discoverable credential named in allowCredentials, on the test's page.
step chromium-create 180 sh $G/steps.sh cdp e2e 'window.doCreate("discouraged")' 170
step chromium-get-allowed 120 sh $G/steps.sh cdp e2e 'window.doGetAllowed()' 110
kill $CPID; wait $CPID 2>/dev/null

# ---- Firefox ESR (headless; the page reports to the HTTP server) ----
step firefox-create-get 400 sh $G/steps.sh firefox_flow
if [ -n "$RPPID" ]; then
  # The demo page in Firefox too (WebDriver BiDi): a second account signs up,
  # out, and in with its username (username-less would now find two accounts
  # and Firefox would ask which, in UI a headless browser cannot answer).
  mkdir -p /tmp/firefox-rp
  firefox-esr --headless --no-remote --profile /tmp/firefox-rp --remote-debugging-port 9223 http://localhost:8080/ \
    >"$R/firefox-rp.log" 2>&1 & FFPID=$!
  export E2E_USER=bob
  step firefox-rp-sign-up 240 sh $G/steps.sh bidi 'window.e2e.signUp()' 230
  step firefox-rp-sign-out 60 sh $G/steps.sh bidi 'window.e2e.signOut()' 50
  step firefox-rp-sign-in 150 sh $G/steps.sh bidi 'window.e2e.signInWithName()' 140
  step firefox-rp-passkey-listed 60 sh $G/steps.sh bidi 'window.e2e.passkeys()' 50
  unset E2E_USER
  kill $FFPID; wait $FFPID 2>/dev/null
fi

fi
kill $HPID $RPPID 2>/dev/null

# softkey gets a PIN (fido2-token -S): pamu2fcfg verifies with it, and one
# volume below is enrolled with it.
export E2E_PIN=4821
step pin-set 60 sh $G/steps.sh pin_set

# ---- login: pam_u2f through pamtester ----
# pamu2fcfg registers a discoverable credential (verified with the PIN); a PAM
# service with pam_u2f authenticates root with it (presence); once `softkey
# vault delete` has removed it, authentication fails.
export E2E_VAULT_ARGS="$VAULT_ARGS"
step pam-u2f-register 120 sh $G/steps.sh pam_register
step pam-u2f-authenticate 120 sh $G/steps.sh pam_authenticate
step pam-u2f-refused-after-delete 120 sh $G/steps.sh pam_refused_after_delete

# ---- disk unlock: systemd-cryptenroll + systemd-cryptsetup on LUKS2 loop files ----
# hmac-secret credentials: presence only, built-in UV, the PIN; each on its
# own volume, each unlocked by softkey.
step luks-format 120 sh $G/steps.sh luks_format
step cryptenroll-presence 120 sh $G/steps.sh cryptenroll presence
step unlock-presence 120 sh $G/steps.sh unlock presence
step cryptenroll-uv 120 sh $G/steps.sh cryptenroll uv
step unlock-uv 120 sh $G/steps.sh unlock uv
# The PIN volume with alwaysUv on. bookworm's systemd 252 enrolls
# --fido2-with-client-pin=yes by trying makeCredential without the PIN
# first; on a key that makes non-discoverable credentials without user
# verification (makeCredUvNotRqd, softkey's default, as CTAP 2.1 keys do)
# that succeeds, and its assertion then goes without the PIN too: the volume
# is bound to hmac-secret's secret without UV (CredRandomWithoutUV), while
# unlocking sends the PIN and gets the one with UV, so it can never open
# (systemd issue #31443; later systemd collects the PIN first). alwaysUv
# makes the key refuse that first makeCredential (PUAT_REQUIRED), so systemd
# enrolls with the PIN: enroll with the PIN, unlock with the PIN.
step always-uv-on 60 sh $G/steps.sh always_uv on
step cryptenroll-pin 120 sh $G/steps.sh cryptenroll pin
step unlock-pin 120 sh $G/steps.sh unlock pin
step always-uv-off 60 sh $G/steps.sh always_uv off
step cryptenroll-credential-not-in-vault 30 sh $G/steps.sh cryptenroll_not_in_vault

kill $SKPID 2>/dev/null
# softkey must remove its device on SIGTERM.
step clean-exit 15 sh $G/steps.sh clean_exit $SKPID

# The cryptenroll credentials are not discoverable (systemd asks for rk=false),
# so no `softkey vault delete` can name them: they go with authenticatorReset.
# `softkey run` allows it only in its first 10 s, which a loaded TCG guest may
# miss; `softkey sim` on UHID with the same vault (same key) allows it at any
# time. It unlocks a volume first, then resets (fido2-token -R), then none.
SOFTKEY_LOG=$SIMLOG softkey sim --transport uhid $RUN_ARGS --device-name "softkey e2e" --serial e2e-0002 \
  >"$R/softkey-reset.log" 2>&1 & SKPID=$!
step luks-refused-after-reset 180 sh $G/steps.sh luks_refused_after_reset
kill $SKPID 2>/dev/null; wait $SKPID 2>/dev/null

# ---- softkey sim's control API: authenticators with their own UHID devices ----
# --transport uhid: the default authenticator and every added one are
# UHID devices (the first added one also says so itself).
SOFTKEY_LOG=$SIMLOG softkey sim --presence danger-auto-approve --transport uhid \
  --control 127.0.0.1:8120 --control-token-file /tmp/control.token >"$R/sim-control.log" 2>&1 & SIMPID=$!
step control-uhid-ctap2_1 120 sh $G/steps.sh control_uhid ctap2_1 ',"softkey:uhid":true'
step control-uhid-u2f 120 sh $G/steps.sh control_uhid ctap1/u2f
step control-uhid-default 30 sh -c "grep '^SOFTKEY_HIDRAW=/dev/hidraw' '$R/sim-control.log'"
kill $SIMPID 2>/dev/null; wait $SIMPID 2>/dev/null
# The guest's root is the cached image: leave it as it was (and check that
# the package goes cleanly).
step deb-purge 60 sh $G/steps.sh deb_purge
echo ALL_DONE >> "$R/steps.tsv"
! grep -q '	FAIL	' "$R/steps.tsv"
