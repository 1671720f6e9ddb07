#!/usr/bin/env bash
# Installs (if needed) and starts libvirt + QEMU without systemd, as root.
# Writes nothing outside the usual libvirt paths but /dev/kvm's group and
# mode (see below); .ci/libvirt-down.sh undoes the rest.
set -euo pipefail
# ebtables and iptables: libvirt's network filters (vNIC profiles' network
# filters) run them; the agent refuses filtered devices without them.
if ! command -v libvirtd >/dev/null || ! command -v qemu-system-x86_64 >/dev/null || ! command -v virsh >/dev/null ||
   ! PATH=$PATH:/usr/sbin:/sbin command -v ebtables >/dev/null || ! PATH=$PATH:/usr/sbin:/sbin command -v iptables >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 libvirt-clients iproute2 ebtables iptables >/dev/null
fi
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt
# QEMU's user gets /dev/kvm as Debian's packages give it on a real host
# (udev: group kvm, mode 0660; libvirt-daemon-system: libvirt-qemu in kvm).
# There is no udevd here, so the rule's effect is applied by hand. Without
# it libvirtd's capability probe (which keeps CAP_DAC_OVERRIDE) sees KVM,
# QEMU's user cannot open it, and libvirtd re-probes QEMU on every call:
# each start then takes ~35 s. KVM may still be nested and unable to boot a
# guest kernel, so guest tests force TCG. libvirt-down.sh leaves this as is.
if [ -c /dev/kvm ]; then
  getent group kvm >/dev/null || groupadd -r kvm
  id -nG libvirt-qemu | tr ' ' '\n' | grep -qx kvm || usermod -a -G kvm libvirt-qemu
  chgrp kvm /dev/kvm
  chmod 0660 /dev/kvm
fi
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
# Debian 12's monolithic libvirtd carries the nwfilter driver; the agent
# defines its filters through it.
virsh -c qemu:///system nwfilter-list >/dev/null
echo "libvirt up: libvirtd pid $(cat /run/libvirtd.pid), virtlogd pid $(cat /run/virtlogd.pid)"
