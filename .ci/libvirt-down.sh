#!/usr/bin/env bash
# Stops what .ci/libvirt-up.sh started: vwire test domains first (QEMU
# outlives libvirtd), then the daemons by pid, then leftover test bridges.
set -uo pipefail
if [ -S /run/libvirt/libvirt-sock ]; then
  for d in $(virsh -c qemu:///system list --name 2>/dev/null | grep '^vwt-' || true); do
    virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
  done
fi
state=${VWIRE_CI_STATE:-/tmp/vwire-ci}
if [ -f "$state/started-pids" ]; then
  # libvirtd first (it uses virtlogd): the file lists virtlogd first.
  for pid in $(tac "$state/started-pids"); do
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$state/started-pids"
  # The agents under test created the dummy bridge on this throwaway host.
  ip link del ';vdsmdummy;' 2>/dev/null || true
fi
for b in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | grep -E '^vw[a-z0-9]' || true); do
  ip link del "$b" 2>/dev/null || true
done
echo "libvirt down"
