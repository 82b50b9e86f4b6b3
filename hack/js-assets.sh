#!/usr/bin/env bash
# Fetches the JavaScript library the HTML reports bundle (Cytoscape.js, MIT
# licence) from the npm registry at a pinned version, checks the tarball
# against the pinned sha512 integrity, and copies its minified build and
# licence into pkg/report/assets/vendor/ (ignored by git: nothing third-party
# is committed). The tarball is cached outside the repository; a second run
# copies from the cache and needs no network.
#
#   hack/js-assets.sh          # idempotent; `make build` and `make test` run it
#
# Knobs: RAMPART_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/rampart).
# To move to a new version: change version and integrity together (the
# integrity is what `npm view cytoscape@VERSION dist.integrity` prints).
set -euo pipefail

name=cytoscape
version=3.35.0
integrity=sha512-sMvBIXiGMnhkCaWz2R06FwF/27MNlS+Tqvi17foO9UhnUg3XGZccKjxsvEqQFAQYMSSZmN5SxYzUYlQ0DOJJ3g==

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/pkg/report/assets/vendor"
cache=${RAMPART_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rampart}/js
tgz="$cache/$name-$version.tgz"

say() { printf 'js-assets: %s\n' "$*" >&2; }

if [ -f "$dest/$name.min.js" ] && [ "$(cat "$dest/$name.version" 2>/dev/null)" = "$version $integrity" ]; then
  exit 0
fi

check() {
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
  [ "$got" = "$integrity" ]
}

mkdir -p "$cache"
if [ ! -f "$tgz" ] || ! check "$tgz"; then
  say "fetching $name@$version"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$name@$version" --pack-destination "$tmp" >/dev/null)
  if ! check "$tmp/$name-$version.tgz"; then
    say "$name-$version.tgz does not match the pinned integrity; refusing it"
    exit 1
  fi
  mv "$tmp/$name-$version.tgz" "$tgz"
fi

work=$(mktemp -d)
tar -xzf "$tgz" -C "$work" package/dist/$name.min.js package/LICENSE
mkdir -p "$dest"
install -m 0644 "$work/package/dist/$name.min.js" "$dest/$name.min.js.tmp"
install -m 0644 "$work/package/LICENSE" "$dest/$name.LICENSE"
mv "$dest/$name.min.js.tmp" "$dest/$name.min.js"
printf '%s %s\n' "$version" "$integrity" > "$dest/$name.version"
rm -rf "$work"
say "$name@$version in pkg/report/assets/vendor"
