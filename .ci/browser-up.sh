#!/usr/bin/env bash
# Installs what the web console's browser test needs, as root: Debian's
# Chromium (driven headless by the test through the DevTools protocol) and
# a font, and axe-core from npm at the version console/web/package-lock.json
# pins (npm ci; the console ships nothing from node_modules at run time:
# its assets are committed under console/static).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
(cd console/web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
echo "chromium: $(chromium --version 2>/dev/null | head -1); axe-core $(node -p 'require("./console/web/node_modules/axe-core/package.json").version')"
