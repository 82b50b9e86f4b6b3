#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the HTML report's
# browser test, installing Debian's chromium package first when it is
# missing (needs root, as on CI; elsewhere install it yourself or set
# RAMPART_CHROMIUM). `make test` runs it.
set -euo pipefail

if [ -n "${RAMPART_CHROMIUM:-}" ] && [ -x "$RAMPART_CHROMIUM" ]; then
  echo "$RAMPART_CHROMIUM"
  exit 0
fi
for c in chromium chromium-browser google-chrome; do
  if p=$(command -v "$c"); then
    echo "$p"
    exit 0
  fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  printf 'chromium: installing Debian'"'"'s chromium package\n' >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null; }
  command -v chromium
  exit 0
fi
printf 'chromium: not found; install Debian'"'"'s chromium package or set RAMPART_CHROMIUM\n' >&2
exit 1
