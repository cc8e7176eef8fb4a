#!/usr/bin/env bash
# A lab host: a second KVM host on this machine that is really remote — its own network
# namespace (reached over a veth pair at 198.18.I.2, nothing else), its own mount and pid
# namespaces (its /etc/libvirt, /var/lib/libvirt, /run and storage dir are not the bot's), its
# own libvirtd and sshd. The bot reaches it only as qemu+ssh://root@ADDR/system with a key.
# Guests that need a network run here: `--guest-net` gives the lab's libvirtd a NAT network
# whose bridge, dnsmasq and leases live inside the lab's namespace, never on this machine's.
#
#   scripts/lab-host.sh up NAME [--guest-net]   make it (or say it is up) and print its env
#   scripts/lab-host.sh env NAME                print LAB_URI=… LAB_ADDR=… LAB_STORAGE=… LAB_KEY=…
#   scripts/lab-host.sh exec NAME CMD [ARG…]    run CMD inside the lab's namespaces
#   scripts/lab-host.sh down NAME               stop everything in it and remove it
#
# NAME: 1–10 of a-z 0-9 - (it names network interfaces, which Linux caps at 15 bytes).
# Needs root and `scripts/host-setup.sh --lab` (sshd, dnsmasq, iptables). State lives in
# $KVMOPS_LAB_ROOT (default /var/lib/kvmops-lab)/NAME; inside the lab the storage dir is
# /srv/kvmops-lab, an empty folder on this machine.
set -euo pipefail

LAB_ROOT=${KVMOPS_LAB_ROOT:-/var/lib/kvmops-lab}
HERE=$(cd "$(dirname "$0")" && pwd)
STORAGE_IN_LAB=/srv/kvmops-lab

die() { printf 'lab-host: %s\n' "$*" >&2; exit 1; }
log() { printf 'lab-host: %s\n' "$*" >&2; }

cmd=${1:-}
name=${2:-}
[ -n "$cmd" ] && [ -n "$name" ] || die "usage: $0 up|env|exec|down NAME …"
[[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,9}$ ]] || die "bad lab name '$name' (1–10 of a-z 0-9 -)"
shift 2
[ "$(id -u)" = 0 ] || die "needs root (network and mount namespaces)"

DIR="$LAB_ROOT/$name"
NS="kvmops-lab-$name"
OUTER="kvl-$name"
INNER="kvp-$name"

# The lab's PID 1, as this machine numbers it — only if it is still the lab-init of this lab.
pid1() {
  local p
  p=$(cat "$DIR/pid" 2>/dev/null) || return 1
  [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$p/cmdline" | grep -qF "lab-init.py $DIR/ready" || return 1
  echo "$p"
}

in_lab() {
  local p
  p=$(pid1) || die "lab $name is not up"
  nsenter --target "$p" --mount --net --pid -- "$@"
}

print_env() {
  cat "$DIR/env"
}

ready() {
  ssh -i "$DIR/ssh/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o ConnectTimeout=3 "root@$ADDR" true 2>/dev/null &&
    virsh -c "$URI" version >/dev/null 2>&1
}

up() {
  local guest_net=0
  for a in "$@"; do
    case "$a" in
      --guest-net) guest_net=1 ;;
      *) die "unknown option $a" ;;
    esac
  done
  if pid1 >/dev/null; then
    # shellcheck disable=SC1091
    . "$DIR/env"
    ADDR=$LAB_ADDR URI=$LAB_URI
    ready || die "lab $name runs but does not answer; '$0 down $name' and up again"
    [ "$guest_net" = 0 ] || guest_network
    log "lab $name is up"
    print_env
    return
  fi
  [ ! -e "$DIR" ] || die "$DIR exists but no lab runs there: '$0 down $name' first"
  for p in sshd libvirtd nsenter unshare ip; do command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || die "$p missing: scripts/host-setup.sh --lab"; done

  mkdir -p "$LAB_ROOT" "$STORAGE_IN_LAB" /var/cache/libvirt
  # one subnet per lab: the first index no other lab holds (under a lock: two ups at once)
  exec 9>"$LAB_ROOT/.lock"
  flock 9
  local i=1
  while [ "$i" -le 250 ] && grep -qx "$i" "$LAB_ROOT"/*/index 2>/dev/null; do i=$((i + 1)); done
  [ "$i" -le 250 ] || die "no free lab subnet"
  mkdir -p "$DIR"/{etc-libvirt,var-lib-libvirt,cache-libvirt,storage,ssh,log}
  echo "$i" > "$DIR/index"
  flock -u 9

  ADDR="198.18.$i.2"
  local outer_addr="198.18.$i.1"

  # libvirt's configuration without the machine's domains, pools and networks
  cp -a /etc/libvirt/. "$DIR/etc-libvirt/"
  rm -rf "${DIR:?}/etc-libvirt/qemu" "${DIR:?}/etc-libvirt/storage" "${DIR:?}/etc-libvirt/secrets"
  mkdir -p "$DIR/etc-libvirt/qemu/networks"

  # sshd: its own host key, one client key, root by key only
  ssh-keygen -q -t ed25519 -N '' -f "$DIR/ssh/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C "kvmops-lab-$name" -f "$DIR/ssh/id_ed25519"
  cp "$DIR/ssh/id_ed25519.pub" "$DIR/ssh/authorized_keys"
  cat > "$DIR/ssh/sshd_config" <<CONF
ListenAddress $ADDR
HostKey $DIR/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile $DIR/ssh/authorized_keys
# virsh opens a connection per call; tests and the bot open many at once
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp /usr/lib/openssh/sftp-server
PidFile /run/sshd.pid
CONF

  # the network: a namespace joined to this one by a veth pair, no default route, no IPv6
  ip netns add "$NS"
  ip link add "$OUTER" type veth peer name "$INNER"
  ip link set "$INNER" netns "$NS"
  ip -n "$NS" link set "$INNER" name eth0
  ip -n "$NS" addr add "$ADDR/24" dev eth0
  ip -n "$NS" link set eth0 up
  ip -n "$NS" link set lo up
  ip addr add "$outer_addr/24" dev "$OUTER"
  ip link set "$OUTER" up
  sysctl -qw "net.ipv6.conf.$OUTER.disable_ipv6=1" 2>/dev/null || true
  ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true

  # mount and pid namespaces; the daemons; then lab-init.py becomes PID 1 and reaps
  # The caller's folder — and this script's, in a clone under /tmp — may be under /tmp, which the
  # lab mounts over: PID 1's program is copied into the lab's state, and everything starts from /.
  cp "$HERE/lab-init.py" "$DIR/lab-init.py"
  # The system
  # python (a pyenv shim on PATH would cd back into the caller's folder and fail).
  local py=/usr/bin/python3
  [ -x "$py" ] || py=$(command -v python3)
  cat > "$DIR/inside.sh" <<INSIDE
set -e
cd /
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/log
mkdir -p /run/libvirt /run/sshd /var/log/libvirt/qemu
mount --bind "$DIR/etc-libvirt" /etc/libvirt
mount --bind "$DIR/var-lib-libvirt" /var/lib/libvirt
mount --bind "$DIR/cache-libvirt" /var/cache/libvirt
mount --bind "$DIR/storage" "$STORAGE_IN_LAB"
/usr/sbin/libvirtd -d
/usr/sbin/sshd -f "$DIR/ssh/sshd_config" -E "$DIR/log/sshd.log"
exec "$py" "$DIR/lab-init.py" "$DIR/ready"
INSIDE
  rm -f "$DIR/ready"
  cd /
  setsid nohup ip netns exec "$NS" unshare --mount --pid --fork --propagation private --mount-proc \
    bash "$DIR/inside.sh" >"$DIR/log/lab.log" 2>&1 </dev/null &
  local upid=$!
  local t=0
  while [ ! -s "$DIR/ready" ]; do
    sleep 0.1; t=$((t + 1))
    kill -0 "$upid" 2>/dev/null || die "the lab's init exited: $(tail -5 "$DIR/log/lab.log")"
    [ "$t" -lt 200 ] || die "the lab's init did not start in 20 s"
  done
  local child
  child=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null | awk '{print $1}')
  [ -n "$child" ] || die "no lab init process under $upid"
  echo "$child" > "$DIR/pid"

  URI="qemu+ssh://root@$ADDR/system?keyfile=$DIR/ssh/id_ed25519&no_verify=1&no_tty=1"
  # single-quoted: the URI holds & and =, and the file is sourced (`. <(lab-host.sh env NAME)`)
  cat > "$DIR/env" <<ENV
LAB_NAME='$name'
LAB_ADDR='$ADDR'
LAB_URI='$URI'
LAB_STORAGE='$STORAGE_IN_LAB'
LAB_KEY='$DIR/ssh/id_ed25519'
LAB_NS='$NS'
ENV
  t=0
  until ready; do
    sleep 0.2; t=$((t + 1))
    [ "$t" -lt 150 ] || die "lab $name: sshd or libvirtd did not answer in 30 s (see $DIR/log)"
  done
  [ "$guest_net" = 0 ] || guest_network
  log "lab $name is up at $ADDR"
  print_env
}

# A NAT network on the lab's libvirtd (bridge, dnsmasq and leases inside the lab): kvmops-lab,
# 198.19.I.0/24, DHCP from .10 to .200.
guest_network() {
  local i xml
  i=$(cat "$DIR/index")
  if in_lab virsh -q -c qemu:///system net-info kvmops-lab >/dev/null 2>&1; then
    in_lab virsh -q -c qemu:///system net-start kvmops-lab >/dev/null 2>&1 || true
    return
  fi
  xml="$DIR/guest-net.xml"
  cat > "$xml" <<XML
<network>
  <name>kvmops-lab</name>
  <forward mode='nat'/>
  <bridge name='kvlbr0' stp='off'/>
  <ip address='198.19.$i.1' netmask='255.255.255.0'>
    <dhcp><range start='198.19.$i.10' end='198.19.$i.200'/></dhcp>
  </ip>
</network>
XML
  in_lab virsh -q -c qemu:///system net-define "$xml" >/dev/null
  in_lab virsh -q -c qemu:///system net-start kvmops-lab >/dev/null
  echo "LAB_GUEST_NET='kvmops-lab'" >> "$DIR/env"
  echo "LAB_GUEST_SUBNET='198.19.$i.0/24'" >> "$DIR/env"
}

down() {
  local p waited=0
  if p=$(pid1); then
    kill -TERM "$p" 2>/dev/null || true
    while kill -0 "$p" 2>/dev/null; do
      sleep 0.2; waited=$((waited + 1))
      if [ "$waited" -eq 100 ]; then log "lab $name: init still running after 20 s; killing it"; kill -KILL "$p" 2>/dev/null || true; fi
      [ "$waited" -lt 150 ] || die "lab $name: init $p would not stop"
    done
  fi
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$OUTER" 2>/dev/null || true
  if [ -d "$DIR" ]; then rm -rf "${DIR:?}"; fi
  log "lab $name is down"
}

case "$cmd" in
  up) up "$@" ;;
  env) [ -f "$DIR/env" ] || die "lab $name is not up"; print_env ;;
  exec) [ "$#" -gt 0 ] || die "usage: $0 exec NAME CMD [ARG…]"; in_lab "$@" ;;
  down) down ;;
  *) die "unknown command $cmd (up, env, exec, down)" ;;
esac
