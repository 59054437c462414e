#!/usr/bin/env bash
# Builds the container image localhost/cosmolet:<version> on a Debian machine, as root, from
# Debian's packages and the npm registry only (no container registry is needed):
#
#   1. installs what is missing: podman, buildah, runc, mmdebstrap, uidmap (apt);
#   2. makes or finds the Node.js 24 base images for this machine's architecture (x86_64 or
#      aarch64) with scripts/image-bases.sh: Debian bookworm minbase plus the official Node.js
#      binary from the npm package node-linux-<arch> (runtime base), plus npm (build base), from
#      tarballs checked against the integrities pinned in scripts/node24.env;
#   3. builds the project's Dockerfile on them with buildah (chroot isolation), the SBOM included;
#   4. prints the image size and what takes the space.
#
# The bases are tagged by a hash of their inputs and their tarballs are cached in
# $COSMOLET_IMAGE_CACHE (default .cache/image); buildah keeps the Dockerfile's layers. A rebuild
# with a warm cache needs no network: the registry is asked only when a pin or a cached tarball is
# missing, or when asked to with --refresh (COSMOLET_REFRESH_PINS=1: fetch the pinned tarballs
# again and check the registry still has the pinned integrities).
# Environment: COSMOLET_IMAGE (default localhost/cosmolet:<package version>).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pinned.sh

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

case "${1:-}" in
  "") ;;
  --refresh) export COSMOLET_REFRESH_PINS=1 ;;
  *) die "usage: $0 [--refresh]" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap and buildah build root filesystems): sudo $0"
node_arch >/dev/null || exit 1
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
bases=$(bash scripts/image-bases.sh "${COSMOLET_IMAGE_CACHE:-.cache/image}")
RUNTIME_BASE=$(sed -n 1p <<<"$bases")
BUILD_BASE=$(sed -n 2p <<<"$bases")

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
