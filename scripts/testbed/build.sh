#!/usr/bin/env bash
# Builds, or reuses, the binaries of the Kubernetes test bed into a cache outside the repo
# (default ~/.cache/dwk, override with DWK_CACHE), one directory per tool and version:
#   tools/kubernetes-<v>/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}  from tools/k8s
#   tools/etcd-<v>/etcd                                                                   from tools/etcd
#   tools/kwok-<v>/{kwok,stages.yaml,crds.yaml}  tools/helm-<v>/helm                      by go install
# and nats-server through scripts/install-deps.sh. A warm run only checks stamps and takes seconds.
# The single entry CI calls before the tests.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=versions.env
. "$root/scripts/testbed/versions.env"
cache=${DWK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dwk}
mkdir -p "$cache/tools"
# Only the committed go.mod/go.sum decide what is built: no toolchain switch, no go.work, no edits.
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0

log() { printf '[testbed] %s\n' "$*" >&2; }
total_start=$SECONDS

command -v go >/dev/null 2>&1 || { log "go is not installed; it is needed once to build the test bed"; exit 1; }

# The versions.env pins must agree with the wrapper modules, or the cache key would lie.
check_pin() {
  local module=$1 dir=$2 want=$3 got
  got=$(sed -n "s|^[[:space:]]*\(require \)\{0,1\}$module \(v[^ ]*\).*|\2|p" "$root/tools/$dir/go.mod" | head -1)
  if [ "$got" != "$want" ]; then
    log "tools/$dir/go.mod pins $module $got but versions.env says $want"
    exit 1
  fi
}
check_pin k8s.io/kubernetes k8s "$KUBERNETES_VERSION"
check_pin go.etcd.io/etcd/server/v3 etcd "$ETCD_VERSION"

# Runs a command and prints a line every 30 s so a long cold build does not look hung.
with_ticker() {
  local what=$1 start=$SECONDS pid
  shift
  "$@" &
  pid=$!
  while ! wait_for "$pid" 30; do
    log "  $what: still building, $((SECONDS - start)) s so far"
  done
  wait "$pid"
}
wait_for() {
  local pid=$1 secs=$2 i
  for ((i = 0; i < secs * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  return 1
}

# Hash of what determines a wrapper module's output (its go.mod, go.sum and build flags); kept beside the binaries.
stamp_of() { { cat "$root/tools/$1/go.mod" "$root/tools/$1/go.sum" && echo "$2"; } | sha256sum | cut -c1-16; }

fresh() { # dir stamp binaries...
  local dir=$1 stamp=$2 b
  shift 2
  [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ] || return 1
  for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION dir="$cache/tools/kubernetes-$KUBERNETES_VERSION" stamp minor ld p b start tmp date
  local tags=selinux,notest,grpcnotrace
  # Upstream's version ldflags (hack/lib/version.sh) so /version and `kubectl version` report the release.
  minor=${v#v1.}
  minor=${minor%%.*}
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  stamp=$(stamp_of k8s "$tags $ld")
  if fresh "$dir" "$stamp" kube-apiserver kube-controller-manager kube-scheduler kubectl; then
    log "kubernetes $v: cached at $dir"
    return 0
  fi
  log "kubernetes $v: building from tools/k8s (the first time: about 25 min on 2 cores; later runs reuse it)"
  tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  start=$SECONDS
  (cd "$root/tools/k8s" && with_ticker "module download" go mod download)
  log "  modules downloaded in $((SECONDS - start)) s"
  # The release's own date, from the proxy, so the build is reproducible.
  date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$v.info")
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do ld="$ld -X $p.buildDate=$date"; done
  # One binary at a time: they share the build cache, so each later one compiles only what is its own.
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    start=$SECONDS
    (cd "$root/tools/k8s" && with_ticker "$b" go build -trimpath -tags "$tags" \
      -ldflags "$ld" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b")
    log "  $b: built in $((SECONDS - start)) s"
  done
  echo "$stamp" >"$tmp/.stamp"
  rm -rf "$dir" && mv "$tmp" "$dir"
}

build_etcd() {
  local v=$ETCD_VERSION dir="$cache/tools/etcd-$ETCD_VERSION" stamp start tmp
  stamp=$(stamp_of etcd "-s -w")
  if fresh "$dir" "$stamp" etcd; then
    log "etcd $v: cached at $dir"
    return 0
  fi
  log "etcd $v: building from tools/etcd"
  tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  start=$SECONDS
  (cd "$root/tools/etcd" && with_ticker etcd go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  log "  etcd: built in $((SECONDS - start)) s"
  echo "$stamp" >"$tmp/.stamp"
  rm -rf "$dir" && mv "$tmp" "$dir"
}

# go install <module>/<pkg>@<version> into $cache/tools/<name>-<version>/, as scripts/install-deps.sh does.
go_install() {
  local name=$1 pkg=$2 v=$3 ldflags=${4:-} dir="$cache/tools/$1-$3" start tmp
  if [ -x "$dir/$name" ]; then
    log "$name $v: cached at $dir"
    return 0
  fi
  log "$name $v: building with go install"
  tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  start=$SECONDS
  (cd "$tmp" && GOBIN="$tmp" GOFLAGS=-mod=mod with_ticker "$name" go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$v")
  log "  $name: built in $((SECONDS - start)) s"
  rm -rf "$dir" && mv "$tmp" "$dir"
}

# The standalone kwok binary has no built-in stages and does not install its CRDs: build.sh copies the
# stages kwokctl uses, and the CRDs of the objects that make the fake nodes serve logs, port-forward,
# exec and attach, from kwok's module into its tool directory. Their own stamp (of these lists) lets a
# kwok built before a list changed be completed in place, without a rebuild.
KWOK_STAGES=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml)
KWOK_CRDS=(logs clusterlogs portforwards clusterportforwards execs clusterexecs attaches clusterattaches)
kwok_files() {
  local dir=$1 stamp src f
  stamp=$(echo "$KWOK_VERSION ${KWOK_STAGES[*]} ${KWOK_CRDS[*]}" | sha256sum | cut -c1-16)
  if [ "$(cat "$dir/.files-stamp" 2>/dev/null)" = "$stamp" ] && [ -s "$dir/stages.yaml" ] && [ -s "$dir/crds.yaml" ]; then
    return 0
  fi
  log "kwok $KWOK_VERSION: copying its stages and CRDs into $dir"
  # The module is in GOMODCACHE after go install; a cache kept without GOMODCACHE fetches it (a zip).
  src=$(cd "$cache/tools" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/kustomize" ] || { log "sigs.k8s.io/kwok@$KWOK_VERSION: no module directory ($src)"; exit 1; }
  for f in "${KWOK_STAGES[@]}"; do
    printf -- '---\n# from sigs.k8s.io/kwok@%s/kustomize/stage/%s\n' "$KWOK_VERSION" "$f"
    cat "$src/kustomize/stage/$f"
  done >"$dir/stages.yaml.tmp"
  for f in "${KWOK_CRDS[@]}"; do
    printf -- '---\n# from sigs.k8s.io/kwok@%s/kustomize/crd/bases/kwok.x-k8s.io_%s.yaml\n' "$KWOK_VERSION" "$f"
    cat "$src/kustomize/crd/bases/kwok.x-k8s.io_$f.yaml"
  done >"$dir/crds.yaml.tmp"
  mv "$dir/stages.yaml.tmp" "$dir/stages.yaml"
  mv "$dir/crds.yaml.tmp" "$dir/crds.yaml"
  echo "$stamp" >"$dir/.files-stamp"
}

build_kubernetes
build_etcd
go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
kwok_files "$cache/tools/kwok-$KWOK_VERSION"
go_install helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION" "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
bash "$root/scripts/install-deps.sh"
log "test bed binaries ready in $((SECONDS - total_start)) s"
