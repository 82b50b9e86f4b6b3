#!/usr/bin/env bash
# Whole-process comparison, in one run, on two corpora:
#   a generated corpus (OBJECTS objects) and the public install bundles of
#   the real-world corpus (third-party Go modules fetched through the module
#   proxy; nothing of them is committed),
# each with: the parse-only floor, rampart scan (whole catalog, JSON output,
# and SARIF with its fixes), and kube-score.
# Usage: bench/compare.sh [OBJECTS|generated|realworld|both] [RUNS]
#   (defaults: both corpora, 10000 generated objects, 5 runs)
# Prints median wall times, peak memory (GNU time), the ratios, and the
# targets of docs/performance.md. Needs only Go: kube-score is installed from
# the Go module proxy into a cache folder outside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."

which=${1:-both}
runs=${2:-5}
objects=10000
case "$which" in
  both | generated | realworld) ;;
  *[!0-9]*) echo "usage: $0 [OBJECTS|generated|realworld|both] [RUNS]" >&2; exit 2 ;;
  *) objects=$which; which=generated ;;
esac
kube_score_version=v1.20.0
cache=${RAMPART_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rampart}/bench
out=bench/results
mkdir -p "$out/bin" "$cache/bin"

echo "building rampart and the parse-only floor"
go build -o "$out/bin/rampart.new" ./cmd/rampart
go build -o "$out/bin/floor.new" ./bench/floor
if [ ! -x "$cache/bin/kube-score-$kube_score_version" ]; then
  echo "installing kube-score $kube_score_version into $cache/bin"
  GOBIN="$cache/bin" go install "github.com/zegl/kube-score/cmd/kube-score@$kube_score_version"
  mv "$cache/bin/kube-score" "$cache/bin/kube-score-$kube_score_version"
fi
# Every binary is run from a fresh copy: a file the Go linker has just
# written sits in the page cache in 2 MiB pieces that the kernel maps whole,
# which adds 25 MiB to the peak memory of a binary of Rampart's size; a
# copied file is read back in small pages, as an older install is.
cp "$out/bin/rampart.new" "$out/bin/rampart" && rm "$out/bin/rampart.new"
cp "$out/bin/floor.new" "$out/bin/floor" && rm "$out/bin/floor.new"
cp "$cache/bin/kube-score-$kube_score_version" "$out/bin/kube-score"
kube_score="$out/bin/kube-score"

# shellcheck source=bench/lib.sh
source bench/lib.sh

# peak resident memory (KiB) of one run, from GNU time
peak() {
  if [ -x /usr/bin/time ]; then
    { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null || true; } | tail -n 1
  else
    echo "?"
  fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

summary=()
compare() { # name corpus-folder
  local name=$1 dir=$2
  mapfile -t files < <(find "$dir" -name '*.yaml' | sort)
  "$out/bin/rampart" scan "$dir" -o json >/dev/null 2>&1 || true # warm the page cache
  local floor rampart sarif kubescore mem_r mem_k mem_f
  floor=$(median "$out/bin/floor" "$dir")
  rampart=$(median "$out/bin/rampart" scan "$dir" -o json)
  sarif=$(median "$out/bin/rampart" scan "$dir" -o sarif)
  kubescore=$(median "$kube_score" score "${files[@]}")
  mem_r=$(peak "$out/bin/rampart" scan "$dir" -o json)
  mem_k=$(peak "$kube_score" score "${files[@]}")
  mem_f=$(peak "$out/bin/floor" "$dir")
  echo
  echo "$name: ${#files[@]} files; median of $runs runs; $(nproc) cores"
  printf '  %-28s %8s ms\n' "parse-only floor" "$floor" "rampart scan -o json" "$rampart" "rampart scan -o sarif" "$sarif" "kube-score $kube_score_version" "$kubescore"
  printf '  %-28s %8s KiB\n' "peak memory: floor" "$mem_f" "peak memory: rampart" "$mem_r" "peak memory: kube-score" "$mem_k"
  summary+=("$(printf '%-10s rampart/floor %s (target <= 1.00)   kube-score/rampart %s   rampart/kube-score memory %s (target <= 1.00)' \
    "$name" "$(ratio "$rampart" "$floor")" "$(ratio "$kubescore" "$rampart")" "$(ratio "$mem_r" "$mem_k")")")
}

if [ "$which" = generated ] || [ "$which" = both ]; then
  rm -rf "$out/corpus-generated"
  go run ./bench/corpus -n "$objects" -out "$out/corpus-generated" >/dev/null
  compare "generated ($objects objects)" "$out/corpus-generated"
fi
if [ "$which" = realworld ] || [ "$which" = both ]; then
  rm -rf "$out/corpus-realworld"
  go run ./bench/realworld -out "$out/corpus-realworld" >/dev/null
  compare "public bundles" "$out/corpus-realworld"
fi

# start-up: one Pod in one file
echo 'apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: c, image: registry.example.com/c:1.0}]}' > "$out/one-pod.yaml"
startup=$(runs=$((runs * 4)) median "$out/bin/rampart" scan "$out/one-pod.yaml" -o json)
startup_k=$(runs=$((runs * 4)) median "$kube_score" score "$out/one-pod.yaml")

echo
printf '%s\n' "${summary[@]}"
echo "start-up (one Pod): rampart ${startup} ms, kube-score ${startup_k} ms (target: rampart under 15 ms)"
