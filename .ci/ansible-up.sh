#!/usr/bin/env bash
# Installs (if needed) what internal/ansible needs from Debian: ansible-core,
# python3-pycurl, and gcc, libxml2-dev, python3-dev to build oVirt's Python
# SDK (its libxml2 extension) at test time. Prints, for .ci/run to eval,
# where oVirt's released sources are when they are on this machine (as the
# search tool's fetch leaves them; VWIRE_OVIRT_SDK and VWIRE_OVIRT_COLLECTION
# set beforehand win). They are on no registry CI reaches (PyPI is not
# reached, Debian packages neither), so without them the test skips.
set -euo pipefail
if ! command -v ansible-playbook >/dev/null || ! /usr/bin/python3 -c 'import pycurl' 2>/dev/null ||
  ! command -v gcc >/dev/null || [ ! -e /usr/include/libxml2/libxml/xmlreader.h ] || [ ! -x /usr/bin/python3-config ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    ansible-core python3-pycurl gcc libc6-dev libxml2-dev python3-dev git >/dev/null
fi
mirror=/work/.mirror
sdk=${VWIRE_OVIRT_SDK:-$mirror/oVirt+python-ovirt-engine-sdk4/repo}
coll=${VWIRE_OVIRT_COLLECTION:-$mirror/oVirt+ovirt-ansible-collection/repo}
if [ -d "$sdk" ] && [ -d "$coll" ]; then
  printf 'export VWIRE_OVIRT_SDK=%q VWIRE_OVIRT_COLLECTION=%q\n' "$sdk" "$coll"
else
  echo "oVirt's Python SDK or Ansible collection sources not found: internal/ansible will skip" >&2
fi
