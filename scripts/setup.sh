#!/usr/bin/env bash
# Installs what cosmolet's lab and tests need on a Debian or Ubuntu machine, as root, and only
# what is missing: FRR, GoBGP, iproute2, nftables, curl, openssl, promtool (apt), then npm ci and the
# build. With --go-tools it also builds the real Kubernetes control plane and Helm 3 and 4 from their
# Go modules (scripts/go-tools.sh; minutes the first time, cached after), which the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pinned.sh

say() { printf '==> %s\n' "$*"; }
go_tools=false
[ "${1:-}" = --go-tools ] && go_tools=true

if [ "$(id -u)" != 0 ]; then
  echo "error: run as root (the lab creates network namespaces and starts FRR): sudo $0" >&2
  exit 1
fi

missing=()
command -v vtysh >/dev/null 2>&1 || missing+=(frr)
[ -x /usr/lib/frr/bgpd ] || missing+=(frr)
[ -x /usr/lib/frr/frr-reload.py ] || missing+=(frr-pythontools)   # the FRR reload e2e runs the real frr-reload.py
command -v gobgpd >/dev/null 2>&1 || missing+=(gobgpd)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # the API double makes its TLS certificate with it
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)   # the tests run `promtool check metrics`
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
apt_install ${missing[@]+"${missing[@]}"}

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "error: Node.js $(node --version) is too old; cosmolet needs Node.js 20.19 or newer (24 LTS recommended)" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The build is skipped when it is current (same commit, no source newer than it): a second
# `bash scripts/lab.sh` starts the lab in seconds instead of waiting for tsc.
head=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -f dist/build-info.json ] && grep -q "\"commit\":\"$head\"" dist/build-info.json &&
  [ -f packages/lab/dist/command/command.js ] && [ -f packages/kube-double/dist/apiserver-main.js ] &&
  [ -z "$(find src packages/*/src packages/*/package.json packages/*/tsconfig.build.json \
    scripts/stamp-build-info.mjs tsconfig.json tsconfig.build.json package.json -newer dist/build-info.json -print -quit)" ]; then
  say "build is current (commit $head)"
else
  say "building"
  npm run --silent build
fi

if $go_tools; then
  for tool in kube helm3 helm4; do
    say "$tool: $(bash scripts/go-tools.sh "$tool")"
  done
fi
