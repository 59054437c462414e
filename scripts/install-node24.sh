#!/usr/bin/env bash
# Installs Node.js 24 LTS into a local directory (default .cache/node24) from the npm registry's
# node-linux-<arch> package for this machine (x64 or arm64), checked against the pinned integrity in
# scripts/node24.env; a cached tarball with that integrity is used without asking the registry.
# Prints the directory holding `node`; nothing outside the directory changes.
#   PATH="$(bash scripts/install-node24.sh):$PATH" node --version
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node24.env
. scripts/pinned.sh
arch=$(node_arch)
node24_pin "$arch"
dir=${1:-.cache/node24}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tgz=$dir/$NODE24_PACKAGE-$NODE24_VERSION.tgz

# The arch is part of the check: a directory copied from another machine is replaced.
if [ "$("$dir/bin/node" -p 'process.version + " " + process.arch' 2>/dev/null)" != "v$NODE24_VERSION $arch" ]; then
  npm_pack_pinned "$NODE24_PACKAGE@$NODE24_VERSION" "$NODE24_INTEGRITY" "$dir" "$(basename "$tgz")" >/dev/null
  mkdir -p "$dir/bin"
  tar -xzf "$tgz" -C "$dir/bin" --strip-components=2 package/bin/node
fi
echo "$dir/bin"
