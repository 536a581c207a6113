#!/bin/sh
# Build the guest for tests/vm/browser-e2e.sh: a Debian kernel (CONFIG_UHID=m), a
# busybox initrd that loads virtio/9p/hid/hid-generic/uhid and switches to a
# debootstrap'd Debian root on 9p, with the real clients softkey is tested against
# (browsers, libfido2, OpenSSH, systemd-cryptenroll/cryptsetup, pam_u2f) and the
# kernel's modules (loop, dm-crypt for the disk-unlock steps).
#
# usage: build-image.sh OUTDIR      (root; uses the Debian mirror apt is configured with)
#
# Derived from the recipe tried on this machine kind (shared/vm-recipe). The image
# is cached by browser-e2e.sh under a key that is the hash of this file: change
# anything here and the next run rebuilds.
set -eu
OUT=${1:?usage: build-image.sh OUTDIR}
mkdir -p "$OUT"; cd "$OUT"
t() { echo "[$(date +%T)] $*"; }
cleanup() { umount rootfs/proc 2>/dev/null || true; umount rootfs/dev 2>/dev/null || true; }
trap cleanup EXIT

t "host packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  qemu-system-x86 debootstrap busybox-static cpio kmod >/dev/null

t "kernel"
mkdir -p kpkg
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
(cd kpkg && { apt-get download -qq "$KPKG" 2>/dev/null || apt-get download "$KPKG"; })
rm -rf kroot; dpkg -x kpkg/"$KPKG"*.deb kroot
KVER=$(ls kroot/lib/modules); /usr/sbin/depmod -b kroot "$KVER"
cp kroot/boot/vmlinuz-"$KVER" vmlinuz
grep -q '^CONFIG_UHID=[my]' kroot/boot/config-"$KVER"

t "initramfs (busybox + virtio/9p/hid/uhid modules)"
rm -rf initrd; mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/newroot initrd/mods
cp /bin/busybox initrd/bin/
# hid-generic: without it the UHID device gets no hidraw node.
MODS="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p hid hid-generic uhid"
for m in $MODS; do cp "$(find kroot/lib/modules -name "$m.ko*" | head -1)" initrd/mods/; done
cat > initrd/init <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $MODS; do insmod /mods/\$m.ko* || echo "insmod \$m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose root /newroot || { echo "9p root failed"; poweroff -f; }
umount /proc /sys; mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/vminit
INIT
chmod +x initrd/init
(cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -1 > ../initrd.gz)

t "debootstrap"
MIRROR=$(grep -h -m1 -oE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
SUITE=$(. /etc/os-release; echo "$VERSION_CODENAME")
[ -x rootfs/usr/bin/python3 ] || debootstrap --variant=minbase \
  --include=udev,kmod,python3,procps,iproute2,ca-certificates "$SUITE" rootfs "$MIRROR" >debootstrap.log

t "clients into rootfs"
cp /etc/apt/sources.list.d/*.sources rootfs/etc/apt/sources.list.d/ 2>/dev/null && rm -f rootfs/etc/apt/sources.list || true
mount -t proc proc rootfs/proc; mount --bind /dev rootfs/dev
# systemd: systemd-cryptenroll, systemd-cryptsetup and cryptsetup's systemd-fido2
# token plugin; cryptsetup-bin: cryptsetup; libpam-u2f, pamu2fcfg, pamtester: login.
chroot rootfs sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium firefox-esr fonts-liberation python3-websocket fido2-tools openssh-client systemd cryptsetup-bin libpam-u2f pamu2fcfg pamtester >/dev/null && apt-get clean'
cleanup
chroot rootfs dpkg-query -W chromium firefox-esr fido2-tools openssh-client python3 systemd cryptsetup-bin libpam-u2f pamu2fcfg pamtester
# The kernel's modules, for modprobe in the guest (loop, dm_crypt).
mkdir -p rootfs/lib/modules && rm -rf "rootfs/lib/modules/$KVER" && cp -a "kroot/lib/modules/$KVER" rootfs/lib/modules/
mkdir -p rootfs/share

cat > rootfs/sbin/vminit <<'VMINIT'
#!/bin/sh
# PID 1 of the test guest: mount, start udevd, run /share/test.sh, power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /run
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 share /share || echo "share mount failed"
hostname vm; ip link set lo up
echo "T_ROOT $(cut -d' ' -f1 /proc/uptime)"
# Without udevd, a device plugged after a client started is never seen.
/lib/systemd/systemd-udevd --daemon; udevadm trigger; udevadm settle -t 10
if [ -x /share/test.sh ]; then /share/test.sh; echo "TEST_RC=$?"; else echo "no /share/test.sh"; fi
echo "T_DONE $(cut -d' ' -f1 /proc/uptime)"
sync; poweroff -f
VMINIT
chmod +x rootfs/sbin/vminit
t "done: rootfs $(du -sh rootfs | cut -f1)"
