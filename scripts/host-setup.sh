#!/bin/sh
# host-setup.sh - prepare a Debian 12 host for WWS: Podman (runc, cgroupfs, safe ulimits),
# debootstrap for registry-less images, Python tooling, and optionally libvirt (qemu:///system,
# TCG). Works without systemd as PID 1, without CAP_SYS_RESOURCE and with cgroup v1 (hybrid).
# Run as root. Idempotent: a second run changes nothing and says so.
#
#   sh scripts/host-setup.sh                   # Podman + tools, and the Podman API service
#   WITH_LIBVIRT=1 sh scripts/host-setup.sh    # also libvirt/QEMU for VM workspaces
#   SKIP_PODMAN_SERVICE=1 ...                  # do not start the Podman REST API service
#   QUIET=1 ...                                # print only what changed
set -eu

say()  { [ "${QUIET:-0}" = 1 ] || printf '[host-setup] %s\n' "$*"; }
loud() { printf '[host-setup] %s\n' "$*"; }
changed=0
did()  { loud "CHANGED: $*"; changed=$((changed+1)); }

[ "$(id -u)" = 0 ] || { loud "must run as root (sudo sh scripts/host-setup.sh)"; exit 1; }

# ---------------------------------------------------------------- packages
need_pkgs() {
  missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  echo "$missing"
}
install_pkgs() {
  missing=$(need_pkgs "$@")
  if [ -n "$missing" ]; then
    loud "installing:$missing"
    [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ] || apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null \
      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null; }
    did "installed$missing"
  else
    say "ok: packages already installed: $*"
  fi
}

install_pkgs podman runc conmon catatonit netavark aardvark-dns containernetworking-plugins \
             fuse-overlayfs uidmap slirp4netns debootstrap curl ca-certificates iproute2 git procps
# uv is installed with pip when it is missing (see scripts/bootstrap.sh)
python3 -m pip --version >/dev/null 2>&1 || install_pkgs python3-pip python3-venv

# ---------------------------------------------------------------- podman config
hard_nofile=$(ulimit -Hn)
case "$hard_nofile" in unlimited) hard_nofile=1048576 ;; esac
nofile=$hard_nofile; [ "$nofile" -gt 65536 ] && nofile=65536
nproc=16384            # 32768 works here, 65536 fails (runc: error setting rlimit type 6)

conf=/etc/containers/containers.conf
want=$(cat <<CONF
# Written by WWS scripts/host-setup.sh.
# Podman's built-in defaults fail on this machine type:
#  - crun 1.8: "setrlimit RLIMIT_NOFILE: Operation not permitted" and
#    "cgroups in hybrid mode not supported"  -> use runc + cgroupfs
#  - default RLIMIT_NOFILE/NPROC (1048576/4194304) exceed the hard limits and the host
#    lacks CAP_SYS_RESOURCE -> pin ulimits below the hard limits (ulimit -Hn = $hard_nofile)
# NOTE: any --ulimit given on the command line / API replaces this whole list,
#       so always pass nofile AND nproc together.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
)
mkdir -p /etc/containers
if [ -f "$conf" ] && [ "$(cat "$conf")" = "$want" ]; then
  say "ok: $conf already configured (runc, cgroupfs, nofile=$nofile nproc=$nproc)"
else
  [ -f "$conf" ] && cp -p "$conf" "$conf.bak.$(date +%s)" && say "backed up old $conf"
  printf '%s\n' "$want" > "$conf"
  did "wrote $conf (runc, cgroupfs, nofile=$nofile nproc=$nproc)"
fi

# smoke test (not in QUIET mode) only if an image is present locally (no registry is reachable)
img=""
[ "${QUIET:-0}" = 1 ] || img=$(podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -v '<none>' | head -n1 || true)
if [ -n "$img" ]; then
  if out=$(podman run --rm "$img" sh -c 'ulimit -n' 2>&1); then
    say "ok: 'podman run --rm $img' works (nofile in container: $out)"
  else
    loud "WARNING: podman run failed: $out"
  fi
else
  say "note: no local image checked; ./just images builds the workspace images"
fi

# ---------------------------------------------------------------- podman REST API service
if [ "${SKIP_PODMAN_SERVICE:-0}" != 1 ]; then
  sock=/run/podman/podman.sock
  if curl -s -m 3 --unix-socket "$sock" http://d/_ping 2>/dev/null | grep -q OK; then
    say "ok: podman API service answers on unix://$sock"
  else
    mkdir -p /run/podman
    rm -f "$sock"
    nohup podman system service --time=0 "unix://$sock" >>/var/log/podman-service.log 2>&1 &
    echo $! > /run/podman/service.pid
    i=0; until curl -s -m 1 --unix-socket "$sock" http://d/_ping 2>/dev/null | grep -q OK; do
      i=$((i+1)); [ $i -gt 50 ] && { say "WARNING: podman API service did not answer"; break; }; sleep 0.1; done
    did "started podman API service (pid $(cat /run/podman/service.pid), unix://$sock, log /var/log/podman-service.log)"
  fi
fi

# ---------------------------------------------------------------- libvirt
if [ "${WITH_LIBVIRT:-0}" = 1 ]; then
  install_pkgs libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils \
               libvirt-dev pkg-config busybox-static cpio

  [ -d /var/log/libvirt ] && say "ok: /var/log/libvirt exists" || { mkdir -p /var/log/libvirt; did "created /var/log/libvirt"; }

  if getent group kvm >/dev/null; then say "ok: group kvm exists"; else groupadd --system kvm; did "created group kvm"; fi
  if getent group libvirt-qemu >/dev/null; then say "ok: group libvirt-qemu exists"; else groupadd --system libvirt-qemu; did "created group libvirt-qemu"; fi
  if getent passwd libvirt-qemu >/dev/null; then
    say "ok: user libvirt-qemu exists"
  else
    useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin \
            --gid libvirt-qemu --groups kvm libvirt-qemu
    did "created system user libvirt-qemu"
  fi

  qconf=${QEMU_CONF:-/etc/libvirt/qemu.conf}
  set_qemu_conf() {  # key value
    if grep -Eq "^[[:space:]]*$1[[:space:]]*=[[:space:]]*$2[[:space:]]*$" "$qconf"; then
      say "ok: $qconf has $1 = $2"
    else
      sed -i -E "/^[[:space:]]*$1[[:space:]]*=/d" "$qconf"
      printf '%s = %s\n' "$1" "$2" >> "$qconf"
      did "set $1 = $2 in $qconf"
      qemu_conf_changed=1
    fi
  }
  qemu_conf_changed=0
  set_qemu_conf user '"root"'
  set_qemu_conf group '"root"'
  set_qemu_conf dynamic_ownership 0    # do not chown kernels/disks handed to guests
  set_qemu_conf remember_owner 0       # needs trusted.* xattrs; off

  if [ -S /run/libvirt/virtlogd-sock ] && pgrep -x virtlogd >/dev/null; then
    say "ok: virtlogd running"
  else
    virtlogd -d; did "started virtlogd (needed for guest serial/log files)"
  fi

  if virsh -c qemu:///system version >/dev/null 2>&1; then
    if [ "$qemu_conf_changed" = 1 ]; then
      say "WARNING: libvirtd was already running; qemu.conf changed -> restart libvirtd yourself to apply"
    else
      say "ok: libvirtd answers on qemu:///system"
    fi
  else
    libvirtd -d
    i=0; until virsh -c qemu:///system version >/dev/null 2>&1; do
      i=$((i+1)); [ $i -gt 50 ] && { say "WARNING: libvirtd did not answer"; break; }; sleep 0.1; done
    did "started libvirtd"
  fi
  virsh -c qemu:///system version 2>/dev/null | sed "/^\s*$/d" | sed 's/^/[host-setup]   /'
  if lsmod 2>/dev/null | grep -q '^kvm_pvm' || [ -d /sys/module/kvm_pvm ]; then
    say "note: /dev/kvm is provided by kvm_pvm (no VT-x): stock guest kernels hang; use <domain type='qemu'> (TCG)"
  fi
fi

if [ "$changed" -gt 0 ] || [ "${QUIET:-0}" != 1 ]; then loud "done: $changed change(s)"; fi
