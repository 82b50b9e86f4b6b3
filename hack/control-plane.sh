#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy into a versioned
# cache folder outside the repository, only when they are missing, and prints
# that folder (usable as KUBEBUILDER_ASSETS for controller-runtime's envtest).
#
#   export KUBEBUILDER_ASSETS="$(hack/control-plane.sh)"
#
# Knobs: K8S_VERSION (1.37.2), ETCD_VERSION (3.7.0, what Kubernetes 1.37 pins),
# RAMPART_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/rampart).
# Cold build on 2 cores: kube-apiserver 10-20 minutes (about 700 CPU-seconds,
# 2.7 GiB peak memory), etcd about a minute. Progress goes to stderr.
set -euo pipefail

k8s=${K8S_VERSION:-1.37.2}
etcd=${ETCD_VERSION:-3.7.0}
cache=${RAMPART_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rampart}
out="$cache/control-plane/k8s-$k8s-etcd-$etcd-$(go env GOOS)-$(go env GOARCH)"

say() { printf 'control-plane: %s\n' "$*" >&2; }

ready() { [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ]; }
if ready; then
  echo "$out"
  exit 0
fi

mkdir -p "$out"
# One build at a time: test packages that start in parallel wait here.
exec 9>"$out/.lock"
command -v flock >/dev/null && flock 9
if ready; then
  echo "$out"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=mod

minor_patch=${k8s#*.}  # 37.2
major=${k8s%%.*}       # 1
minor=${minor_patch%%.*}

if [ ! -x "$out/kube-apiserver" ]; then
  say "building kube-apiserver v$k8s (10-20 minutes on 2 cores the first time)"
  mkdir "$tmp/apiserver"
  cd "$tmp/apiserver"
  # k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0
  # and replaces them with local folders; a dependency's replaces do not
  # apply, so map each one to its published v0.<minor>.<patch> tag here.
  gomod=$(go mod download -json "k8s.io/kubernetes@v$k8s" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod" ] || { say "cannot download k8s.io/kubernetes@v$k8s"; exit 1; }
  {
    echo "module rampart.local/control-plane/apiserver"
    grep -E '^(go|godebug) ' "$gomod"
    echo "require k8s.io/kubernetes v$k8s"
    awk -v v="v0.$minor_patch" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print "replace " $1 " => " $1 " " v }' "$gomod"
  } > go.mod
  printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' > deps.go
  go mod tidy >&2
  flags="-X k8s.io/component-base/version.gitVersion=v$k8s -X k8s.io/component-base/version.gitMajor=$major"
  flags="$flags -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  go build -trimpath -ldflags "-s -w $flags" -o "$out/kube-apiserver.partial" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$out/kube-apiserver.partial" "$out/kube-apiserver"
fi

if [ ! -x "$out/etcd" ]; then
  say "building etcd v$etcd"
  mkdir "$tmp/etcd"
  cd "$tmp/etcd"
  # go install refuses etcd's server module (it has replace directives), so
  # build its root package, which is etcd's main, from a throwaway module.
  printf 'module rampart.local/control-plane/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$etcd" > go.mod
  printf 'package main\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > deps.go
  go mod tidy >&2
  go build -trimpath -ldflags "-s -w" -o "$out/etcd.partial" go.etcd.io/etcd/server/v3
  mv "$out/etcd.partial" "$out/etcd"
fi

"$out/kube-apiserver" --version >&2
"$out/etcd" --version >&2
echo "$out"
