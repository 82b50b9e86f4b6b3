#!/usr/bin/env bash
# Whole-process comparison on one corpus, in one run:
#   rampart scan (whole catalog)  vs  kube-score  vs  a parse-only floor.
# Usage: bench/compare.sh [OBJECTS|realworld] [RUNS]   (defaults: 10000 objects, 5 runs)
# OBJECTS generates a corpus of that size; realworld uses the public install
# bundles of the real-world corpus (internal/realworld).
# Prints the median wall time of each and the ratios. Needs only Go: kube-score
# is installed from the Go module proxy into a cache folder outside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."

objects=${1:-10000}
runs=${2:-5}
kube_score_version=v1.20.0
cache=${RAMPART_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rampart}/bench
out=bench/results
mkdir -p "$out/bin" "$cache/bin"

echo "building rampart and the parse-only floor"
go build -o "$out/bin/rampart" ./cmd/rampart
go build -o "$out/bin/floor" ./bench/floor
if [ ! -x "$cache/bin/kube-score-$kube_score_version" ]; then
  echo "installing kube-score $kube_score_version into $cache/bin"
  GOBIN="$cache/bin" go install "github.com/zegl/kube-score/cmd/kube-score@$kube_score_version"
  mv "$cache/bin/kube-score" "$cache/bin/kube-score-$kube_score_version"
fi

rm -rf "$out/corpus"
if [ "$objects" = realworld ]; then
  go run ./bench/realworld -out "$out/corpus"
else
  go run ./bench/corpus -n "$objects" -out "$out/corpus"
fi
mapfile -t files < <(find "$out/corpus" -name '*.yaml' | sort)

# shellcheck source=bench/lib.sh
source bench/lib.sh

"$out/bin/rampart" scan "$out/corpus" -o text >/dev/null 2>&1 || true # warm the page cache
floor=$(median "$out/bin/floor" "$out/corpus")
rampart=$(median "$out/bin/rampart" scan "$out/corpus" -o text)
rampart_sarif=$(median "$out/bin/rampart" scan "$out/corpus" -o sarif)
kubescore=$(median "$cache/bin/kube-score-$kube_score_version" score "${files[@]}")

# peak resident memory (KiB) of one run, from GNU time
peak() {
  if [ -x /usr/bin/time ]; then
    { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null || true; } | tail -n 1
  else
    echo "?"
  fi
}
mem_rampart=$(peak "$out/bin/rampart" scan "$out/corpus" -o text)
mem_kubescore=$(peak "$cache/bin/kube-score-$kube_score_version" score "${files[@]}")
mem_floor=$(peak "$out/bin/floor" "$out/corpus")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "corpus: $objects objects in ${#files[@]} files; median of $runs runs; $(nproc) cores"
printf '%-28s %8s ms\n' "parse-only floor" "$floor" "rampart scan -o text" "$rampart" "rampart scan -o sarif" "$rampart_sarif" "kube-score $kube_score_version" "$kubescore"
printf '%-28s %8s KiB\n' "peak memory: floor" "$mem_floor" "peak memory: rampart" "$mem_rampart" "peak memory: kube-score" "$mem_kubescore"
echo
echo "rampart / floor:       $(ratio "$rampart" "$floor")   (target: at most 1.00)"
echo "kube-score / rampart:  $(ratio "$kubescore" "$rampart")   (target: at least 5.00)"
