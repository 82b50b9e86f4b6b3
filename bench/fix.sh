#!/usr/bin/env bash
# fix against scan, whole processes, on one generated corpus in one run:
# the corpus as files (one per application), the same objects as one file,
# and as one file of about twice the size (each object with a 500-byte
# annotation: 10,000 objects in 10 MB).
# Usage: bench/fix.sh [OBJECTS] [RUNS]   (defaults: 10000 objects, 5 runs)
# Prints median wall times and the fix/scan ratios (fix prints its diff; it
# writes nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

objects=${1:-10000}
runs=${2:-5}
out=bench/results
mkdir -p "$out/bin"
go build -o "$out/bin/rampart" ./cmd/rampart
rm -rf "$out/fix-corpus" "$out/fix-one" "$out/fix-one-padded"
go run ./bench/corpus -n "$objects" -out "$out/fix-corpus"
mkdir -p "$out/fix-one"
find "$out/fix-corpus" -name '*.yaml' | sort | while read -r f; do cat "$f"; echo '---'; done >"$out/fix-one/all.yaml"
mkdir -p "$out/fix-one-padded"
go run ./bench/pad -bytes 500 <"$out/fix-one/all.yaml" >"$out/fix-one-padded/all.yaml"

# shellcheck source=bench/lib.sh
source bench/lib.sh
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

r=$out/bin/rampart
"$r" scan "$out/fix-corpus" -o json >/dev/null 2>&1 || true # warm the page cache
for input in fix-corpus fix-one fix-one-padded; do
  scan=$(median "$r" scan "$out/$input" -o json --fail-on none)
  fix=$(median "$r" fix "$out/$input")
  breaking=$(median "$r" fix --breaking "$out/$input")
  echo "$input ($(du -sh "$out/$input" | cut -f1)): scan ${scan} ms, fix ${fix} ms ($(ratio "$fix" "$scan")x), fix --breaking ${breaking} ms ($(ratio "$breaking" "$scan")x)"
done
