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
if ! { [ -f /run/virtlogd.pid ] && kill -0 "$(cat /run/virtlogd.pid)" 2>/dev/null; }; then virtlogd -d; fi
if ! { [ -f /run/libvirtd.pid ] && kill -0 "$(cat /run/libvirtd.pid)" 2>/dev/null; }; then libvirtd -d; fi
for _ in $(seq 1 100); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.1; done
# The first call probes QEMU's capabilities (~4 s); do it now, not in a test.
virsh -c qemu:///system version >/dev/null
echo "libvirt up: libvirtd pid $(cat /run/libvirtd.pid), virtlogd pid $(cat /run/virtlogd.pid)"
