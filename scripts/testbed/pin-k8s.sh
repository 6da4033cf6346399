#!/usr/bin/env bash
# Regenerates tools/k8s/go.mod for a Kubernetes release: run it to move to a new 1.36.x (or later) patch.
# k8s.io/kubernetes requires its staging modules at v0.0.0 with local `=> ./staging/...` replaces, which are
# ignored in a dependency, so this wrapper replaces each one with its published tag. The list is derived from
# kubernetes' own go.mod as the Go proxy serves it, never maintained by hand.
# kubectl is built from the same release so the client matches the server (the system's may be far older).
# Usage: scripts/testbed/pin-k8s.sh 1.36.3
set -euo pipefail

k8s=${1:?usage: pin-k8s.sh <kubernetes version, e.g. 1.36.3>}
k8s=${k8s#v}
staging=0.${k8s#1.}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/tools/k8s
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

# Fetch kubernetes' go.mod outside any module so nothing is added anywhere.
modfile=$(cd "$(mktemp -d)" && go mod download -json "k8s.io/kubernetes@v$k8s" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$modfile" ] || { echo "pin-k8s: no go.mod for k8s.io/kubernetes@v$k8s" >&2; exit 1; }

rm -f "$dir/go.mod" "$dir/go.sum"
mkdir -p "$dir"
cd "$dir"
go mod init dwk.dev/tools/k8s >/dev/null 2>&1
go mod edit -go="$(sed -n 's/^go //p' "$modfile")"
# The replaces must exist before `go get`, or resolving the v0.0.0 requirements fails.
sed -n 's|^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*|\1|p' "$modfile" | while read -r m; do
  go mod edit "-replace=$m=$m@v$staging"
done
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$k8s" \
  "k8s.io/kubernetes/cmd/kube-controller-manager@v$k8s" \
  "k8s.io/kubernetes/cmd/kube-scheduler@v$k8s" \
  "k8s.io/kubernetes/cmd/kubectl@v$k8s"
go mod tidy
echo "pin-k8s: tools/k8s now builds Kubernetes v$k8s ($(grep -c ' => k8s.io/' go.mod) staging replaces)" >&2
