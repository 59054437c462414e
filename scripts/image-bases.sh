#!/usr/bin/env bash
# Makes the two Node.js 24 base images scripts/build-image.sh builds the Dockerfile on, as root, and
# prints their names (runtime base, then build base), one a line:
#
#   runtime base: Debian bookworm, variant minbase (mmdebstrap), plus the official Node.js binary
#                 from the npm package node-linux-<arch> for this machine (x64 or arm64);
#   build base:   the runtime base plus npm from the npm package npm.
#
# Each base is tagged by a hash of its inputs: the pinned packages and integrities
# (scripts/node24.env), the architecture, and the exact mmdebstrap, import and npm-layout arguments
# below (data, hashed as given). Change any of them and new bases are made; nothing else does. The
# root filesystem tarball and the npm tarballs are cached in DIR (default .cache/image) and checked
# against their pins, so with a warm cache the bases are remade without the network.
#   bash scripts/image-bases.sh [DIR]     # COSMOLET_REFRESH_PINS=1: ask the npm registry again
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node24.env
. scripts/pinned.sh
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
SECURITY_MIRROR=http://deb.debian.org/debian-security

say() { printf '==> %s\n' "$*" >&2; }
key() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }

arch=$(node_arch)
node24_pin "$arch"
CACHE=${1:-.cache/image}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
node_tgz=$NODE24_PACKAGE-$NODE24_VERSION.tgz
npm_tgz=npm-$NPM_VERSION.tgz
node_id="$NODE24_PACKAGE@$NODE24_VERSION"

# With a pin missing, the registry's integrity is the input (and the tarball is fetched now).
[ -n "$NODE24_INTEGRITY" ] || NODE24_INTEGRITY=$(npm_pack_pinned "$node_id" "" "$CACHE" "$node_tgz")
# Asked to refresh: both tarballs are fetched again and their pins checked with the registry even
# when the bases exist; after that the fresh cache serves.
if [ "${COSMOLET_REFRESH_PINS:-0}" = 1 ]; then
  npm_pack_pinned "$node_id" "$NODE24_INTEGRITY" "$CACHE" "$node_tgz" >/dev/null
  npm_pack_pinned "npm@$NPM_VERSION" "$NPM_INTEGRITY" "$CACHE" "$npm_tgz" >/dev/null
  say "the registry still publishes the pinned $node_id and npm@$NPM_VERSION"
  export COSMOLET_REFRESH_PINS=0
fi

# The root filesystem: Debian minbase plus the node binary (unpacked into $COSMOLET_NODE, outside
# the hashed text). Documentation, man pages and translations are left out (as in Debian's slim
# images); copyright files stay, and so do the dpkg settings, so later apt installs skip them too.
# merged-usr: /usr merged as in bookworm, without the usrmerge package (and the perl it pulls in).
# shellcheck disable=SC2016 # the hooks' $1 and $COSMOLET_NODE are mmdebstrap's to expand
rootfs_args=(
  --variant=minbase --format=tar --quiet
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --customize-hook='install -m 0755 "$COSMOLET_NODE/package/bin/node" "$1/usr/local/bin/node"'
  --customize-hook='install -D -m 0644 "$COSMOLET_NODE/package/LICENSE" "$1/usr/local/share/doc/node/LICENSE"'
  --customize-hook="echo '$node_id $NODE24_INTEGRITY' > \"\$1/usr/local/share/doc/node/SOURCE\""
  --customize-hook='chroot "$1" dpkg-query -W -f "\${Package}\t\${Version}\n" > "$1/usr/local/share/doc/node/base-packages.txt"'
)
sources=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main")
import_args=(
  --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change "LABEL=io.cosmolet.base.node=$node_id"
  --change 'CMD=["node"]'
)
# npm the way the official images lay it out: the package in NPM_HOME, bin links to its CLIs.
npm_home=usr/local/lib/node_modules/npm
npm_links=(npm=../lib/node_modules/npm/bin/npm-cli.js npx=../lib/node_modules/npm/bin/npx-cli.js)

runtime_key=$(key "$arch" "$node_id $NODE24_INTEGRITY" "${rootfs_args[@]}" "$SUITE" "${sources[@]}" "${import_args[@]}")
build_key=$(key "$runtime_key" "npm@$NPM_VERSION $NPM_INTEGRITY" "$npm_home" "${npm_links[@]}")
RUNTIME_BASE=localhost/cosmolet-base:node-$NODE24_VERSION-$arch-$SUITE-minbase-$runtime_key
BUILD_BASE=localhost/cosmolet-base:node-$NODE24_VERSION-$arch-npm-$NPM_VERSION-$SUITE-minbase-$build_key

if podman image exists "$RUNTIME_BASE" && podman image exists "$BUILD_BASE"; then
  say "base images present: $RUNTIME_BASE, $BUILD_BASE"
  printf '%s\n' "$RUNTIME_BASE" "$BUILD_BASE"
  exit 0
fi

if ! podman image exists "$RUNTIME_BASE"; then
  rootfs=$CACHE/rootfs-$runtime_key.tar
  if [ -f "$rootfs" ]; then
    say "using the cached root filesystem $rootfs"
  else
    npm_pack_pinned "$node_id" "$NODE24_INTEGRITY" "$CACHE" "$node_tgz" >/dev/null
    say "$node_id verified: $NODE24_INTEGRITY"
    export COSMOLET_NODE=$CACHE/node
    rm -rf "$COSMOLET_NODE" && mkdir -p "$COSMOLET_NODE"
    tar -xzf "$CACHE/$node_tgz" -C "$COSMOLET_NODE" package/bin/node package/LICENSE
    say "building the $SUITE minbase root filesystem with mmdebstrap"
    rm -f "$CACHE"/rootfs-*.tar
    mmdebstrap "${rootfs_args[@]}" "$SUITE" "$rootfs.tmp" "${sources[@]}"
    mv "$rootfs.tmp" "$rootfs"
  fi
  say "base packages ($SUITE minbase):"
  tar -xOf "$rootfs" ./usr/local/share/doc/node/base-packages.txt | column -t | sed 's/^/    /' >&2
  say "importing $RUNTIME_BASE"
  podman import --quiet "${import_args[@]}" "$rootfs" "$RUNTIME_BASE" >/dev/null
fi

say "making $BUILD_BASE (adds npm $NPM_VERSION)"
npm_pack_pinned "npm@$NPM_VERSION" "$NPM_INTEGRITY" "$CACHE" "$npm_tgz" >/dev/null
say "npm@$NPM_VERSION verified: $NPM_INTEGRITY"
ctr=$(buildah from --quiet "$RUNTIME_BASE")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
mkdir -p "$mnt/$npm_home"
tar -xzf "$CACHE/$npm_tgz" -C "$mnt/$npm_home" --strip-components=1 --no-same-owner
for link in "${npm_links[@]}"; do
  ln -s "${link#*=}" "$mnt/usr/local/bin/${link%%=*}"
done
buildah umount "$ctr" >/dev/null
buildah commit --quiet --rm "$ctr" "$BUILD_BASE" >/dev/null
trap - EXIT
printf '%s\n' "$RUNTIME_BASE" "$BUILD_BASE"
