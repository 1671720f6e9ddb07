#!/usr/bin/env bash
# Restarts libvirtd (for the fault suite's TestFaultLibvirtdRestart): stops
# the daemon of /run/libvirtd.pid by pid and starts it again, keeping the
# record of .ci/libvirt-up.sh right, so that .ci/libvirt-down.sh stops the
# new daemon. Running QEMU domains survive; the new libvirtd reconnects to them.
set -euo pipefail
state=${VWIRE_CI_STATE:-/tmp/vwire-ci}
old=$(cat /run/libvirtd.pid)
kill "$old"
for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
kill -9 "$old" 2>/dev/null || true
rm -f /run/libvirtd.pid
libvirtd -d
for _ in $(seq 1 100); do [ -S /run/libvirt/libvirt-sock ] && [ -s /run/libvirtd.pid ] && break; sleep 0.05; done
new=$(cat /run/libvirtd.pid)
if [ -f "$state/started-pids" ] && grep -qx "$old" "$state/started-pids"; then
  sed -i "s/^$old\$/$new/" "$state/started-pids"
fi
echo "libvirtd restarted: pid $old -> $new"
