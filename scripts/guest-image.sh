#!/usr/bin/env bash
# kvmops guest image: a small Debian 12 (bookworm) qcow2 built from Debian packages, for the
# tests and the demo that need a real operating system. Idempotent; prints the image's path.
#
#   scripts/guest-image.sh          build the image unless the cached one exists; print its path
#   scripts/guest-image.sh --path   print the path the image has (or would have); build nothing
#
# The image is cached under $KVMOPS_HOST_STATE/images (default /var/lib/kvmops-host/images) by
# a hash of its recipe: this file and the host's apt sources. Changing either builds a new one;
# old images are left in place. Concurrent runs wait on a lock; the image appears under its
# final name only once complete.
#
# What the guest has: systemd, udev, openssh-server (host keys made at first boot, none in the
# image), qemu-guest-agent (virtio-serial channel org.qemu.guest_agent.0), cloud-init with the
# NoCloud datasource only (a seed ISO labelled `cidata`; without one cloud-init stays out of
# the way), DHCP on every en*/eth* interface by systemd-networkd, linux-image-cloud-amd64
# (virtio built in), the kernel console and a login prompt on ttyS0, an empty machine-id
# (systemd makes one at first boot). Root has no password; there is no other user until
# cloud-init makes one.
#
# Disk layout: a 1 GiB qcow2 holding an MBR partition table with one ext4 partition from
# 1 MiB, GRUB's BIOS boot code in the MBR and its core image in the gap before the partition.
# The kernel on the hosts kvmops is tested on has no partition support for loop devices, so
# nothing is mounted or looped: the filesystem is written straight into a plain file at the
# partition's offset (mke2fs -d), the partition table by sfdisk into the same file, and GRUB's
# boot code by hand (see docs/host-notes.md, "A real Debian guest").
#
# Needs root (mmdebstrap's root mode) and the packages `scripts/host-setup.sh --guest`
# installs. Build time on the test machines: ~2 minutes including the package downloads.
set -euo pipefail

SUITE=bookworm
HOSTNAME_IN_IMAGE=kvmops-guest
DISK_SIZE_MIB=1024
PART_START_SECTOR=2048 # 1 MiB: room for GRUB's core image after the MBR
# Hard dependencies come along; recommends do not (mmdebstrap's default).
PACKAGES=(
  systemd-sysv udev dbus
  linux-image-cloud-amd64 initramfs-tools
  openssh-server
  qemu-guest-agent
  cloud-init cloud-guest-utils
  e2fsprogs sudo
)
GRUB_DIR=/usr/lib/grub/i386-pc

log() { printf 'guest-image: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

WANT_PATH_ONLY=0
for a in "$@"; do
  case "$a" in
    --path) WANT_PATH_ONLY=1 ;;
    *) die "unknown option $a" ;;
  esac
done

STATE_DIR=${KVMOPS_HOST_STATE:-/var/lib/kvmops-host}
IMAGES_DIR=$STATE_DIR/images

# The machine's own apt sources (whatever mirror it is configured with): every enabled
# sources.list / *.sources file that names the suite. They are passed to mmdebstrap as files.
SOURCES=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -Eq "^[^#]*\b$SUITE\b" "$f" && SOURCES+=("$f")
done
[ "${#SOURCES[@]}" -gt 0 ] || die "no apt sources for $SUITE in /etc/apt (the image is built from the machine's configured Debian mirror)"

recipe_hash() {
  { cat "$0"; cat "${SOURCES[@]}"; dpkg --print-architecture; } | sha256sum | cut -c1-16
}
IMAGE=$IMAGES_DIR/debian-12-$(recipe_hash).qcow2

if [ "$WANT_PATH_ONLY" = 1 ] || [ -f "$IMAGE" ]; then
  echo "$IMAGE"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "building the image needs root (mmdebstrap root mode): sudo $0"
for p in mmdebstrap grub-mkimage sfdisk mke2fs qemu-img; do
  command -v "$p" >/dev/null || die "$p is missing: run scripts/host-setup.sh --guest"
done
[ -f "$GRUB_DIR/boot.img" ] || die "$GRUB_DIR/boot.img is missing: run scripts/host-setup.sh --guest"

mkdir -p "$IMAGES_DIR"
exec 9>"$IMAGES_DIR/.build.lock"
flock 9
if [ -f "$IMAGE" ]; then # another run built it while we waited
  echo "$IMAGE"
  exit 0
fi

START=$(date +%s)
WORK=$(mktemp -d "$IMAGES_DIR/.build-XXXXXX")
cleanup() { rm -rf "${WORK:?}"; }
trap cleanup EXIT
ROOT=$WORK/root
RAW=$WORK/disk.raw
FS_UUID=$(cat /proc/sys/kernel/random/uuid)

log "building $IMAGE (mmdebstrap $SUITE, ~2 minutes)"
mmdebstrap --quiet --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --aptopt='Acquire::Retries "3"' \
  "$SUITE" "$ROOT" "${SOURCES[@]}" >&2

# --- the guest's configuration --------------------------------------------------------------
echo "$HOSTNAME_IN_IMAGE" >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
  "$HOSTNAME_IN_IMAGE" >"$ROOT/etc/hosts"
echo "UUID=$FS_UUID / ext4 errors=remount-ro 0 1" >"$ROOT/etc/fstab"

# DHCP by systemd-networkd (part of systemd): no extra client package. cloud-init's own
# network rendering is off so the two never disagree.
cat >"$ROOT/etc/systemd/network/80-kvmops-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
# Waiting for the network is bounded and over as soon as one interface is up: a VM without a
# NIC would otherwise hold cloud-init (and with it the whole boot) for two minutes.
mkdir -p "$ROOT/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat >"$ROOT/etc/systemd/system/systemd-networkd-wait-online.service.d/kvmops.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=20
EOF
# Identity comes from a local seed only: NoCloud (an ISO labelled cidata) or ConfigDrive
# (config-2). Two entries on purpose: with a single one ds-identify enables cloud-init without
# looking; with two it looks for a seed and, finding none, leaves cloud-init disabled for that
# boot (a VM without a seed boots faster and nothing in it changes).
cat >"$ROOT/etc/cloud/cloud.cfg.d/90-kvmops.cfg" <<'EOF'
datasource_list: [ NoCloud, ConfigDrive ]
network: {config: disabled}
# minbase has no locales package: the locale module would fail (and fail cloud-config.service).
locale: false
EOF
# Under TCG on a busy host a boot can take minutes: udev then announced ttyS0 after systemd's
# default 90 s device timeout, and the serial getty, bound to that device, failed with
# "Dependency failed" (no login prompt at all). Devices get longer.
mkdir -p "$ROOT/etc/systemd/system.conf.d"
cat >"$ROOT/etc/systemd/system.conf.d/kvmops.conf" <<'EOF'
[Manager]
DefaultDeviceTimeoutSec=10min
EOF

# Host keys: none in the image (every VM would share them). Debian's sshd does not make
# missing keys by itself, so a oneshot does before sshd starts; cloud-init's ssh module may
# replace them again on a seeded first boot.
rm -f "$ROOT"/etc/ssh/ssh_host_*
cat >"$ROOT/etc/systemd/system/kvmops-ssh-hostkeys.service" <<'EOF'
[Unit]
Description=Make missing SSH host keys
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
chroot "$ROOT" systemctl enable --quiet systemd-networkd kvmops-ssh-hostkeys.service

# An empty machine-id: systemd makes a fresh one at first boot (a copied id would make every
# VM from this image ask DHCP for the same lease).
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"

KVER=$(cd "$ROOT/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -n1)
[ -n "$KVER" ] && [ -f "$ROOT/boot/initrd.img-$KVER" ] || die "no kernel/initrd in the image"

# --- the disk: partition table, filesystem, boot code, all in one plain file -------------------
PART_OFFSET=$((PART_START_SECTOR * 512))
PART_KIB=$(((DISK_SIZE_MIB * 1024 * 1024 - PART_OFFSET) / 1024))
truncate -s "${DISK_SIZE_MIB}M" "$RAW"
printf 'label: dos\nstart=%s, type=83, bootable\n' "$PART_START_SECTOR" | sfdisk --quiet "$RAW" >&2
# GRUB 2.06 cannot read ext4 with metadata_csum_seed; orphan_file is newer than some
# guest-side tools: leave both off.
mke2fs -q -F -t ext4 -O ^metadata_csum_seed,^orphan_file -L kvmops-root -U "$FS_UUID" \
  -d "$ROOT" -E offset="$PART_OFFSET" "$RAW" "${PART_KIB}k" >&2

# GRUB's core image with everything it needs built in and an embedded configuration that
# boots the kernel directly: no /boot/grub tree, no modules to find at boot.
cat >"$WORK/early.cfg" <<EOF
set root=(hd0,msdos1)
linux /boot/vmlinuz-$KVER root=UUID=$FS_UUID ro console=tty0 console=ttyS0,115200n8
initrd /boot/initrd.img-$KVER
boot
EOF
grub-mkimage -O i386-pc -o "$WORK/core.img" -c "$WORK/early.cfg" -p '(hd0,msdos1)/boot/grub' \
  biosdisk part_msdos ext2 linux boot
CORE_SECTORS=$((($(stat -c %s "$WORK/core.img") + 511) / 512))
[ "$CORE_SECTORS" -lt "$PART_START_SECTOR" ] || die "GRUB core image ($CORE_SECTORS sectors) does not fit before the partition"
# boot.img's first 440 bytes go in the MBR (the partition table after them stays); it loads
# the core image from sector 1 (its default), and the core image's first sector loads the rest
# from sector 2 on (grub-mkimage writes that length into it).
dd if="$GRUB_DIR/boot.img" of="$RAW" bs=440 count=1 conv=notrunc status=none
dd if="$WORK/core.img" of="$RAW" bs=512 seek=1 conv=notrunc status=none

rm -rf "${ROOT:?}"
qemu-img convert -c -f raw -O qcow2 "$RAW" "$WORK/image.qcow2"
mv "$WORK/image.qcow2" "$IMAGE"
cleanup
log "built $IMAGE in $(($(date +%s) - START)) s (kernel $KVER)"
echo "$IMAGE"
