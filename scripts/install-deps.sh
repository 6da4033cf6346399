#!/usr/bin/env bash
# Installs the real programs the tests and local mode run, pinned, into a cache outside the repo
# (default ~/.cache/dwk, override with DWK_CACHE). Each is built once per version; later runs reuse it.
set -euo pipefail

NATS_SERVER_VERSION=v2.14.5
# The module proxy serves this release of the exporter (later ones answer 403 here); pinned in cli/local/prometheus.ts too.
NATS_EXPORTER_VERSION=v0.12.0
cache=${DWK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dwk}
mkdir -p "$cache/tools"

log() { printf '[deps] %s\n' "$*" >&2; }

# go install <module>@<version> into $cache/tools/<name>-<version>/ unless it is already there.
go_tool() {
  local name=$1 module=$2 version=$3 dir="$cache/tools/$1-$3"
  if [ -x "$dir/$name" ]; then
    log "$name $version: cached at $dir"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "$name: go is not installed"
    return 1
  fi
  log "$name $version: building with go install (first run only) ..."
  local start=$SECONDS tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  # GOFLAGS=-mod=mod keeps a project go.work or vendor dir from interfering.
  (cd "$tmp" && GOTOOLCHAIN=local GOBIN="$tmp" GOFLAGS=-mod=mod go install "$module@$version")
  rm -rf "$dir" && mv "$tmp" "$dir"
  log "$name $version: built in $((SECONDS - start)) s"
}

if ! go_tool nats-server github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION"; then
  # Debian's package is old (2.9) but has JetStream: a fallback only. dwk finds it on PATH; it is
  # not put in the pinned version's folder, so a later run with Go still builds the pinned one.
  log "falling back to Debian's nats-server package"
  apt-get update -qq && apt-get install -y -qq nats-server >/dev/null
fi

# prometheus-nats-exporter: `go install module@version` needs the module's version list, which the
# proxy refuses for this module, so download the pinned version and build it from the module cache.
exporter_dir="$cache/tools/prometheus-nats-exporter-$NATS_EXPORTER_VERSION"
if [ -x "$exporter_dir/prometheus-nats-exporter" ]; then
  log "prometheus-nats-exporter $NATS_EXPORTER_VERSION: cached at $exporter_dir"
elif command -v go >/dev/null 2>&1; then
  log "prometheus-nats-exporter $NATS_EXPORTER_VERSION: building (first run only) ..."
  start=$SECONDS tmp="$exporter_dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  src=$(cd "$tmp" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json \
    "github.com/nats-io/prometheus-nats-exporter@$NATS_EXPORTER_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  (cd "$src" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -o "$tmp/prometheus-nats-exporter" .)
  rm -rf "$exporter_dir" && mv "$tmp" "$exporter_dir"
  log "prometheus-nats-exporter $NATS_EXPORTER_VERSION: built in $((SECONDS - start)) s"
else
  log "prometheus-nats-exporter: go is not installed (only dwk up --local --prometheus and the monitoring tests need it)"
fi

# prometheus and promtool from Debian. The package may start a service on :9090; dwk never uses it,
# it runs its own Prometheus on free loopback ports, so stop a service the install started.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  log "prometheus: installing Debian's package ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq prometheus >/dev/null
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    service prometheus stop >/dev/null 2>&1 || true
  fi
else
  log "prometheus: $(command -v prometheus)"
fi
