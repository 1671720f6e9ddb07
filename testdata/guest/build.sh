#!/usr/bin/env bash
# Builds vwire's test guest into DIR: Debian's cloud kernel (vmlinuz) and an
# initramfs (initramfs.cpio.gz) with busybox-static, the virtio modules and
# testdata/guest/init. The packages are fetched with `apt-get download` and
# unpacked, not installed; nothing binary is committed. Needs root (for
# mknod) and Debian's apt. Skips the work when DIR was built from an init
# of the same content (its SHA-256 is kept beside it): a file time is not
# enough when several checkouts share DIR.
set -euo pipefail
out=${1:?usage: build.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
sum=$(sha256sum "$here/init" | cut -d' ' -f1)
if [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ] && [ "$(cat "$out/init.sha256" 2>/dev/null)" = "$sum" ]; then
  exit 0
fi
mkdir -p "$out"
if ! command -v cpio >/dev/null; then
  apt-get install -y -qq --no-install-recommends cpio >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq --no-install-recommends cpio >/dev/null; }
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$kpkg" ] || ! apt-get download -qq "$kpkg" busybox-static 2>/dev/null; then
  apt-get update -qq
  kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  apt-get download -qq "$kpkg" busybox-static
fi
dpkg-deb --fsys-tarfile linux-image-*.deb | tar -x --wildcards './boot/vmlinuz-*' \
  './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/net/virtio_net.ko*' \
  './lib/modules/*/kernel/drivers/net/net_failover.ko*' './lib/modules/*/kernel/net/core/failover.ko*'
dpkg-deb --fsys-tarfile busybox-static_*.deb | tar -x ./bin/busybox
mkdir -p root/bin root/dev root/proc root/sys root/tmp root/lib/modules
cp bin/busybox root/bin/busybox
find lib/modules -name '*.ko' -exec cp {} root/lib/modules/ \;
cp "$here/init" root/init
chmod 755 root/init root/bin/busybox
mknod root/dev/console c 5 1
mknod root/dev/null c 1 3
(cd root && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz.tmp"
cp boot/vmlinuz-* "$out/vmlinuz.tmp"
chmod 644 "$out/vmlinuz.tmp" "$out/initramfs.cpio.gz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "$sum" > "$out/init.sha256"
echo "guest built in $out: $(du -h "$out/vmlinuz" | cut -f1) kernel, $(du -h "$out/initramfs.cpio.gz" | cut -f1) initramfs ($kpkg)"
