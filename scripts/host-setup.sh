#!/usr/bin/env bash
# kvmops host set-up: idempotent. Makes this machine a libvirt + QEMU host that kvmops (and its
# tests) can drive, without systemd. Used by .ci/run, by the real-libvirt tests and by
# `npm run demo`. What it does and why is in ../README.md ("How the host set-up works") and
# docs/host-notes.md.
#
#   scripts/host-setup.sh              packages, config, libvirtd running, virsh answering
#   scripts/host-setup.sh --seal       also virt-sysprep (libguestfs) and an appliance kernel
#   scripts/host-setup.sh --guest      also what scripts/guest-image.sh needs to build the real
#                                      Debian guest image (mmdebstrap, GRUB's BIOS boot code)
#   scripts/host-setup.sh --lab        also what scripts/lab-host.sh needs for a lab host (sshd,
#                                      dnsmasq and iptables for its guest network); no sshd is
#                                      started on this machine
#
# Prints `export VAR=…` lines for the appliance kernel into $KVMOPS_SUPERMIN_ENV
# (default /var/lib/kvmops-host/supermin.env); src/hypervisor reads that file when present.
set -euo pipefail

WANT_SEAL=0
WANT_GUEST=0
WANT_LAB=0
for a in "$@"; do
  case "$a" in
    --seal) WANT_SEAL=1 ;;
    --guest) WANT_GUEST=1 ;;
    --lab) WANT_LAB=1 ;;
    *) echo "host-setup: unknown option $a" >&2; exit 2 ;;
  esac
done

STATE_DIR=${KVMOPS_HOST_STATE:-/var/lib/kvmops-host}
SUPERMIN_ENV=${KVMOPS_SUPERMIN_ENV:-$STATE_DIR/supermin.env}
PKGS=(qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients virtinst)
SEAL_PKGS=(libguestfs-tools)
# guest-image.sh: mmdebstrap makes the root tree, grub-pc-bin has GRUB's BIOS boot code and
# modules (grub-mkimage), e2fsprogs/fdisk write the filesystem and the partition table into a
# plain file, xorriso makes cloud-init seed ISOs, openssh-client checks /key fingerprints in tests.
GUEST_PKGS=(mmdebstrap grub-pc-bin e2fsprogs fdisk xorriso qemu-utils openssh-client)
# lab-host.sh: sshd inside the lab (the bot reaches the lab's libvirtd as qemu+ssh://), the
# client, iproute2 for the namespace and veth pair, dnsmasq and iptables for the libvirt NAT
# network that the lab's own libvirtd runs for its guests.
LAB_PKGS=(openssh-server openssh-client iproute2 dnsmasq-base iptables)

log() { printf 'host-setup: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$p"
  done
}

install_pkgs() {
  local missing
  missing=$(missing_pkgs "$@")
  [ -z "$missing" ] && return 0
  if ! is_root; then
    log "missing packages: $missing"
    log "run as root: apt-get update && apt-get install -y --no-install-recommends $missing"
    exit 1
  fi
  log "installing: $missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_pkgs "${PKGS[@]}"
if [ "$WANT_SEAL" = 1 ]; then install_pkgs "${SEAL_PKGS[@]}"; fi
if [ "$WANT_GUEST" = 1 ]; then install_pkgs "${GUEST_PKGS[@]}"; fi
if [ "$WANT_LAB" = 1 ] && [ -n "$(missing_pkgs "${LAB_PKGS[@]}")" ]; then
  # openssh-server's postinst would start an sshd on this machine's port 22: forbid services
  # from starting while it installs (policy-rc.d exit 101), and remove the rule afterwards.
  if is_root && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  install_pkgs "${LAB_PKGS[@]}"
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

if ! is_root; then
  # Without root we can only check: libvirt's system socket must already answer.
  if virsh -c qemu:///system version >/dev/null 2>&1; then log "libvirtd answers"; exit 0; fi
  log "libvirtd is not answering on qemu:///system and configuring it needs root: sudo $0"
  exit 1
fi

# --- what the minimal packages lack ------------------------------------------------------
# libvirtd's QEMU driver refuses to start without this user, even with user = "root".
if ! getent passwd libvirt-qemu >/dev/null; then
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin \
    -g libvirt-qemu libvirt-qemu
fi
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/images /run/libvirt "$STATE_DIR"

QEMU_CONF=/etc/libvirt/qemu.conf
if ! grep -q '^# kvmops host-setup' "$QEMU_CONF" 2>/dev/null; then
  [ -f "$QEMU_CONF" ] && cp "$QEMU_CONF" "$QEMU_CONF.kvmops-orig"
  cat > "$QEMU_CONF" <<'CONF'
# kvmops host-setup: a container-friendly QEMU driver (no systemd, no cgroups, no namespaces).
user = "root"
group = "root"
security_driver = "none"
remember_owner = 0
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
CONF
fi

# --- libvirtd ------------------------------------------------------------------------------
virsh_ok() { timeout 10 virsh -c qemu:///system version >/dev/null 2>&1; }

if ! virsh_ok; then
  if pgrep -x libvirtd >/dev/null; then
    log "libvirtd runs but does not answer yet; waiting"
  else
    log "starting libvirtd"
    rm -f /run/libvirtd.pid /var/run/libvirtd.pid
    # Run libvirtd under a child subreaper: QEMU daemonises, and without systemd its orphans
    # go to a PID 1 that reaps slowly (virsh destroy then takes ~2 s instead of ~0.3 s).
    nohup python3 "$(dirname "$0")/subreaper.py" /usr/sbin/libvirtd \
      >>/var/log/libvirt/kvmops-libvirtd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 120); do
    virsh_ok && break
    sleep 0.25
  done
  virsh_ok || { log "libvirtd did not answer in 30 s; see /var/log/libvirt/kvmops-libvirtd.log"; exit 1; }
fi
log "libvirtd answers: $(virsh -c qemu:///system version 2>/dev/null | tr '\n' ' ' | sed 's/  */ /g')"

# --- sealing: virt-sysprep needs a kernel for its appliance ------------------------------------
if [ "$WANT_SEAL" = 1 ]; then
  if [ ! -f "$SUPERMIN_ENV" ] || ! . "$SUPERMIN_ENV" || [ ! -f "${SUPERMIN_KERNEL:-/nonexistent}" ] ||
    ! grep -q force_tcg "$SUPERMIN_ENV"; then
    KDIR="$STATE_DIR/kernel"
    mkdir -p "$KDIR"
    if ! ls /boot/vmlinuz-* >/dev/null 2>&1; then
      pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
      [ -n "$pkg" ] || { apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); }
      log "fetching appliance kernel $pkg"
      (cd "$KDIR" && rm -f ./*.deb && apt-get download -qq "$pkg" && dpkg -x ./*.deb root && rm -f ./*.deb)
      ver=${pkg#linux-image-}
      depmod -b "$KDIR/root" "$ver"
      kernel="$KDIR/root/boot/vmlinuz-$ver"
      modules="$KDIR/root/lib/modules/$ver"
    else
      kernel=$(ls /boot/vmlinuz-* | tail -n1)
      ver=${kernel#/boot/vmlinuz-}
      modules=/lib/modules/$ver
    fi
    mkdir -p /lib/modules
    cat > "$SUPERMIN_ENV" <<ENV
export SUPERMIN_KERNEL=$kernel
export SUPERMIN_MODULES=$modules
export SUPERMIN_KERNEL_VERSION=$ver
export LIBGUESTFS_BACKEND=direct
# The appliance crashed under KVM on this machine kind ("failed to set MSR 0x10a"); TCG is
# slower but works with or without /dev/kvm.
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
ENV
  fi
  log "virt-sysprep appliance kernel: $(grep SUPERMIN_KERNEL= "$SUPERMIN_ENV" | cut -d= -f2)"
fi
