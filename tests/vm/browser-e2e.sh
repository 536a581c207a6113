#!/bin/sh
# softkey as a real USB security key, proven with real clients: boots a Linux VM
# whose kernel has UHID (QEMU software emulation), installs softkey's .deb in
# it, runs softkey on /dev/uhid, and drives libfido2, OpenSSH, Chromium,
# Firefox ESR, pam_u2f and systemd-cryptenroll/cryptsetup against softkey's
# hidraw node. Each step's result goes to $OUT/results/steps.tsv; the script
# exits non-zero naming the failed steps.
#
# usage: tests/vm/browser-e2e.sh          (root: building the image needs it)
# env:   SOFTKEY_VM_CACHE  image cache (default ~/.cache/softkey-vm); the image is
#                          keyed by the hash of tests/vm/build-image.sh
#        SOFTKEY_VM_OUT    share folder with the results (default target/vm-e2e)
#        SOFTKEY_DEB       a prebuilt softkey .deb (default: packaging/build-deb.sh
#                          --profile dev, which needs cargo-deb)
#        SOFTKEY_VM_TIMEOUT  seconds for the whole VM run (default 1500)
#        SOFTKEY_VM_BROWSERS=0  skip the Chromium and Firefox steps (quicker runs)
#        SOFTKEY_VM_STEPS  an extended regex: run only the steps whose name it
#                          matches (and deb-install, vault-init, device), e.g.
#                          'pin-set|luks-format|cryptenroll-pin|unlock-pin'
#        SOFTKEY_VM_DEBUG=1  softkey, libfido2 (FIDO_DEBUG) and systemd log at
#                          debug level into the step logs (for a failing step)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${SOFTKEY_VM_CACHE:-${HOME:-/root}/.cache/softkey-vm}
OUT=${SOFTKEY_VM_OUT:-$ROOT/target/vm-e2e}
TIMEOUT=${SOFTKEY_VM_TIMEOUT:-1500}
t() { echo "[$(date +%T)] $*"; }
T0=$(date +%s)
[ "$(id -u)" = 0 ] || { echo "browser-e2e: needs root (debootstrap, chroot, 9p passthrough)"; exit 2; }

# 1. The guest image, cached by the hash of its recipe.
KEY=$(sha256sum "$HERE/build-image.sh" | cut -c1-16); IMAGE=$CACHE/$KEY
if [ -f "$IMAGE/ready" ]; then
  t "image: cached $IMAGE"
else
  t "image: building $IMAGE (a few minutes)"
  rm -rf "$IMAGE.tmp"; mkdir -p "$CACHE"
  if ! sh "$HERE/build-image.sh" "$IMAGE.tmp" > "$CACHE/$KEY.build.log" 2>&1; then
    tail -30 "$CACHE/$KEY.build.log"; echo "browser-e2e: FAILED step image-build (log: $CACHE/$KEY.build.log)"; exit 1
  fi
  rm -rf "$IMAGE"; mv "$IMAGE.tmp" "$IMAGE"; touch "$IMAGE/ready"
fi
# A run killed before its deb-purge step leaves softkey installed in the
# cached image: purge it, so that deb-install installs on a clean system.
if [ -e "$IMAGE/rootfs/var/lib/dpkg/info/softkey.list" ]; then
  t "image: purging softkey left by an unfinished run"
  chroot "$IMAGE/rootfs" dpkg --purge softkey >/dev/null
fi
rm -f "$IMAGE/rootfs/etc/pam.d/softkey-e2e"
chroot "$IMAGE/rootfs" sh -c 'getent group softkey >/dev/null && delgroup --quiet softkey' || true
command -v qemu-system-x86_64 >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null; }
T_IMAGE=$(date +%s)

# 2. softkey's .deb, built on the host (same Debian release as the guest).
DEB_DIR=$CACHE/deb.$$
if [ -n "${SOFTKEY_DEB:-}" ]; then
  DEB=$SOFTKEY_DEB
else
  t "building softkey's .deb (packaging/build-deb.sh --profile dev)"
  if ! command -v cargo-deb >/dev/null; then
    t "installing cargo-deb"; cargo install -q cargo-deb --locked
  fi
  rm -rf "$DEB_DIR"; DEB=$("$ROOT/packaging/build-deb.sh" --profile dev "$DEB_DIR" | tail -1)
fi
t "softkey: $DEB"
T_BUILD=$(date +%s)

# 3. The share: the .deb, guest scripts, results.
rm -rf "$OUT"; mkdir -p "$OUT/results"
cp "$DEB" "$OUT/softkey.deb"; rm -rf "$DEB_DIR"
cp -r "$HERE/guest" "$OUT/guest"
cp "$HERE/guest/test.sh" "$OUT/test.sh"
{ echo "BROWSERS=${SOFTKEY_VM_BROWSERS:-1}"; printf "STEPS='%s'\n" "${SOFTKEY_VM_STEPS:-}"
  echo "DEBUG=${SOFTKEY_VM_DEBUG:-0}"; } > "$OUT/env"

# 4. Boot; the guest runs test.sh and powers off. QEMU's status is not the
#    guest's: the verdict is read from the results.
t "booting the VM (TCG; timeout ${TIMEOUT}s); console log: $OUT/results/console.log"
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 4096 -smp 2 \
  -nographic -no-reboot -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1" \
  -virtfs local,path="$IMAGE/rootfs",mount_tag=root,security_model=passthrough,id=root \
  -virtfs local,path="$OUT",mount_tag=share,security_model=none,id=share \
  < /dev/null > "$OUT/results/console.log" 2>&1 || echo "qemu exited with status $?"
T_END=$(date +%s)

# 5. Verdict.
STEPS=$OUT/results/steps.tsv
echo "---- steps (name, result, seconds, last line)"
[ -f "$STEPS" ] && grep -v '^ALL_DONE' "$STEPS" | column -t -s '	' 2>/dev/null || cat "$STEPS" 2>/dev/null || true
echo "---- image $((T_IMAGE - T0))s, softkey .deb build $((T_BUILD - T_IMAGE))s, VM run $((T_END - T_BUILD))s, total $((T_END - T0))s"
FAILED=$(awk -F'\t' '$2 == "FAIL" {print $1}' "$STEPS" 2>/dev/null | tr '\n' ' ')
if ! grep -q '^ALL_DONE' "$STEPS" 2>/dev/null; then
  tail -20 "$OUT/results/console.log"
  echo "browser-e2e: FAILED: the guest did not finish (timeout or crash) ${FAILED:+; failed steps: $FAILED}"; exit 1
fi
if [ -n "$FAILED" ]; then
  echo "browser-e2e: FAILED steps: $FAILED (logs in $OUT/results/)"; exit 1
fi
echo "browser-e2e: $(grep -c '	PASS	' "$STEPS") passed, 0 failed"
