#!/usr/bin/env bash
# Installs (if needed) and starts libvirt + QEMU without systemd, as root.
# Writes nothing outside the usual libvirt paths; .ci/libvirt-down.sh undoes it.
set -euo pipefail
if ! command -v libvirtd >/dev/null || ! command -v qemu-system-x86_64 >/dev/null || ! command -v virsh >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 libvirt-clients iproute2 >/dev/null
fi
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt
# Daemons this script starts are recorded, so that libvirt-down.sh stops
# those and leaves alone a libvirtd that was already running.
state=${VWIRE_CI_STATE:-/tmp/vwire-ci}
mkdir -p "$state"
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
started=()
if ! running /run/virtlogd.pid; then
  rm -f /run/virtlogd.pid; virtlogd -d; started+=(/run/virtlogd.pid)
  for _ in $(seq 1 100); do [ -S /run/libvirt/virtlogd-sock ] && break; sleep 0.1; done
fi
if ! running /run/libvirtd.pid; then
  rm -f /run/libvirtd.pid; libvirtd -d; started+=(/run/libvirtd.pid)
fi
for _ in $(seq 1 100); do [ -S /run/libvirt/libvirt-sock ] && [ -s /run/libvirtd.pid ] && break; sleep 0.1; done
# Record after the daemons wrote their pid files (virtlogd first).
for f in "${started[@]}"; do echo "$(cat "$f")" >> "$state/started-pids"; done
# The first call probes QEMU's capabilities (~4 s); do it now, not in a test.
virsh -c qemu:///system version >/dev/null
echo "libvirt up: libvirtd pid $(cat /run/libvirtd.pid), virtlogd pid $(cat /run/virtlogd.pid)"
