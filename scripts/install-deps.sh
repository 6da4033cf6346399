#!/usr/bin/env bash
# Installs the real programs the tests and local mode run, pinned, into a cache outside the repo
# (default ~/.cache/dwk, override with DWK_CACHE). Each is built once per version; later runs reuse it.
set -euo pipefail

NATS_SERVER_VERSION=v2.14.5
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
  # Debian's package is old (2.9) but has JetStream: a fallback only.
  log "falling back to Debian's nats-server package"
  apt-get update -qq && apt-get install -y -qq nats-server >/dev/null
  mkdir -p "$cache/tools/nats-server-$NATS_SERVER_VERSION"
  ln -sf "$(command -v nats-server)" "$cache/tools/nats-server-$NATS_SERVER_VERSION/nats-server"
fi
