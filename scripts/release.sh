#!/usr/bin/env bash
# Makes the release artifacts of the commit HEAD (or --rev), as a release pipeline would publish them
# (docs/release.md):
#
#   bash scripts/release.sh                 # into dist/release/
#   bash scripts/release.sh --out DIR       # into DIR (replaced: it must be absent, empty or a release)
#   bash scripts/release.sh --tag           # the same, then an annotated tag vX.Y.Z on HEAD (not pushed)
#   bash scripts/release.sh --rev v0.2.0    # the artifacts of another commit (a release tag: again)
#   bash scripts/release.sh --bump          # only cut the release in the work tree: CHANGELOG.md's
#                                           # [Unreleased] under ## [X.Y.Z] - date, the version set in
#                                           # package.json, package-lock.json, Chart.yaml and the Argo
#                                           # CD example, deploy/ rendered again; commit it, then release
#
# The version is CHANGELOG.md's (scripts/release/changelog.ts); package.json, Chart.yaml's version and
# appVersion, the image tag and deploy/argocd-application.yaml must say it, else the script refuses
# naming each disagreement (--bump sets them). The artifacts are built from the commit (a clone
# of it), never from the work tree: uncommitted changes are not released.
#
#   cosmolet-X.Y.Z.tgz              the Helm chart (helm package, Helm 4 from its Go module)
#   cosmolet-image-X.Y.Z.oci.tar    the image (scripts/build-image.sh), podman save --format oci-archive
#   sbom.cdx.json, sbom.spdx.json   the image's SBOM: npm production dependencies, Debian packages,
#                                   Node.js, FRR's vtysh (scripts/release/sbom.ts)
#   cosign.pub                      the public key of the signature
#   SHA256SUMS                      sha256sum of every file above
#   SHA256SUMS.sigstore.json        cosign's signature over SHA256SUMS (a Sigstore bundle, no log entry)
#   SHA256SUMS.sig                  the same signature alone (ECDSA P-256 over SHA-256, base64)
#
# The signing key is generated on first use in $COSMOLET_RELEASE_KEY_DIR (default
# ~/.config/cosmolet/release-key), outside the repository; COSIGN_PASSWORD is its password (empty
# when unset). A real pipeline holds that key in its secret store. Environment: COSMOLET_IMAGE (the
# image's name, default localhost/cosmolet:X.Y.Z; its tag must be the version), COSMOLET_IMAGE_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

out=dist/release
bump=0
tag=0
rev=HEAD
while [ $# -gt 0 ]; do
  case "$1" in
    --out)
      [ $# -ge 2 ] || die "--out needs a directory"
      out=$2
      shift 2
      ;;
    --rev)
      [ $# -ge 2 ] || die "--rev needs a commit"
      rev=$2
      shift 2
      ;;
    --bump) bump=1 && shift ;;
    --tag) tag=1 && shift ;;
    -h | --help) usage 0 ;;
    *) printf 'error: unknown argument %s\n\n' "$1" >&2 && usage 2 ;;
  esac
done

versions() { node --import tsx scripts/release/versions.ts "$@"; }

if [ "$bump" = 1 ]; then
  [ "$tag" = 0 ] || die "--bump only edits the work tree: commit it, then run --tag"
  version=$(versions bump ${COSMOLET_IMAGE:+--image "$COSMOLET_IMAGE"})
  say "rendering deploy/ from the chart (its labels carry the chart version)"
  node --import tsx scripts/render-deploy.ts >&2
  files="CHANGELOG.md package.json package-lock.json charts/cosmolet/Chart.yaml deploy/"
  say "release $version cut in the work tree; review, commit and release it:"
  # shellcheck disable=SC2086
  git status --short -- $files >&2
  printf '    git add %s && git commit -m "release %s" -- %s\n' "$files" "$version" "$files" >&2
  printf '    bash scripts/release.sh --tag\n' >&2
  exit 0
fi

started=$(date +%s)
commit=$(git rev-parse --verify --quiet "$rev^{commit}") || die "$rev is not a commit"
# The version, checked against every place that states it, as committed.
if [ -n "${COSMOLET_IMAGE:-}" ]; then
  version=$(versions check --rev "$commit" --image "$COSMOLET_IMAGE") || exit 1
  image=$COSMOLET_IMAGE
else
  version=$(versions check --rev "$commit") || exit 1
  image=localhost/cosmolet:$version
fi
tag_name=v$version
if git rev-parse -q --verify "refs/tags/$tag_name" >/dev/null; then
  tagged=$(git rev-parse "$tag_name^{commit}")
  [ "$tagged" = "$commit" ] || die "$tag_name already tags $tagged, not $rev ($commit): a version is released once"
fi
if [ "$rev" = HEAD ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  say "the work tree has uncommitted changes: they are not part of the release (it is $commit)"
fi

# The output directory is replaced at the end: refuse one that holds anything but a release.
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/SHA256SUMS" ]; then
  die "$out is not empty and holds no release (no SHA256SUMS): name another --out"
fi

key_dir=${COSMOLET_RELEASE_KEY_DIR:-$HOME/.config/cosmolet/release-key}
mkdir -p "$key_dir"
case "$(cd "$key_dir" && pwd -P)/" in
  "$(pwd -P)/"*) die "the signing key directory $key_dir is inside the repository: keep private keys out of it" ;;
esac

command -v podman >/dev/null 2>&1 || say "podman is missing: scripts/build-image.sh installs it"
say "release $version of $commit: image $image"
helm_bin=$(bash scripts/go-tools.sh helm4)
cosign_bin=$(bash scripts/go-tools.sh cosign)

work=$(mktemp -d "${TMPDIR:-/tmp}/cosmolet-release.XXXXXX")
ctr=
cleanup() {
  [ -z "$ctr" ] || podman rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
stage=$work/release
mkdir -p "$stage" "$work/sbom"

# The source: the commit, in a clone that shares this repository's objects.
git clone --quiet --shared --no-checkout "$root" "$work/src"
git -C "$work/src" checkout --quiet --detach "$commit"

# The image, built from that clone; its labels must name the version and the commit.
say "building the image (scripts/build-image.sh; log: .cache/release-build-image.log)"
mkdir -p .cache
t=$(date +%s)
if ! COSMOLET_IMAGE=$image COSMOLET_IMAGE_CACHE=${COSMOLET_IMAGE_CACHE:-$root/.cache/image} \
  bash "$work/src/scripts/build-image.sh" >.cache/release-build-image.log 2>&1; then
  tail -30 .cache/release-build-image.log >&2
  die "scripts/build-image.sh failed (.cache/release-build-image.log)"
fi
say "image built in $(($(date +%s) - t)) s"
label() { podman image inspect --format "{{index .Labels \"org.opencontainers.image.$1\"}}" "$image"; }
[ "$(label version)" = "$version" ] || die "the image $image is labelled version $(label version), not $version"
[ "$(label revision)" = "${commit:0:12}" ] || die "the image $image is labelled revision $(label revision), not ${commit:0:12}"

say "packaging the chart"
"$helm_bin/helm" lint --strict "$work/src/charts/cosmolet" >/dev/null
"$helm_bin/helm" package "$work/src/charts/cosmolet" --destination "$stage" >/dev/null
chart=$stage/cosmolet-$version.tgz
[ -f "$chart" ] || die "helm package did not write $chart"

say "saving the image as an OCI archive"
archive=$stage/cosmolet-image-$version.oci.tar
podman save --quiet --format oci-archive -o "$archive" "$image"
digest=$(tar -xOf "$archive" index.json | node -e \
  'const i = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(i.manifests[0].digest)')

say "writing the SBOMs"
ctr=$(podman create --quiet "$image")
podman cp "$ctr:/usr/share/cosmolet/sbom/." "$work/sbom/"
podman cp "$ctr:/usr/lib/os-release" "$work/sbom/os-release"
# Present when the image is built on scripts/build-image.sh's bases (the npm package node came from).
podman cp "$ctr:/usr/local/share/doc/node/SOURCE" "$work/sbom/node-SOURCE" 2>/dev/null || true
podman rm "$ctr" >/dev/null
ctr=
(cd "$work/src" && node scripts/product-manifest.mjs . && npm sbom --omit=dev --sbom-format spdx --package-lock-only) >"$work/npm.spdx.json"
created=$(date -u -d "@$(git show -s --format=%ct "$commit")" +%Y-%m-%dT%H:%M:%SZ)
node --import tsx scripts/release/sbom.ts --in "$work/sbom" --npm-spdx "$work/npm.spdx.json" \
  --image "$image" --digest "$digest" --created "$created" --out "$stage"

say "signing SHA256SUMS with cosign"
export COSIGN_PASSWORD=${COSIGN_PASSWORD-}
if [ ! -f "$key_dir/cosign.key" ]; then
  say "generating the signing key pair in $key_dir (first use)"
  chmod 0700 "$key_dir"
  (cd "$key_dir" && "$cosign_bin/cosign" generate-key-pair >/dev/null 2>&1)
fi
cp "$key_dir/cosign.pub" "$stage/cosign.pub"
(cd "$stage" && sha256sum -- *.tgz *.oci.tar sbom.cdx.json sbom.spdx.json cosign.pub >SHA256SUMS)
# Offline: no transparency log, no signing configuration fetched (both flags are deprecated in cosign
# 3 in favour of a signing configuration, which cosign then tries to refresh over the network).
"$cosign_bin/cosign" sign-blob --yes --key "$key_dir/cosign.key" --tlog-upload=false \
  --use-signing-config=false --bundle "$stage/SHA256SUMS.sigstore.json" "$stage/SHA256SUMS" \
  >"$work/sign.log" 2>&1 || {
  cat "$work/sign.log" >&2
  die "cosign sign-blob failed"
}
# The bundle's signature alone (base64 DER ECDSA), for checking without cosign.
node -e 'const b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  process.stdout.write(b.messageSignature.signature + "\n")' "$stage/SHA256SUMS.sigstore.json" \
  >"$stage/SHA256SUMS.sig"

# What docs/release.md documents, on what is about to be published.
say "verifying"
(
  cd "$stage"
  "$cosign_bin/cosign" verify-blob --key cosign.pub --bundle SHA256SUMS.sigstore.json \
    --insecure-ignore-tlog=true SHA256SUMS >"$work/verify.log" 2>&1 || {
    cat "$work/verify.log" >&2
    die "cosign verify-blob refused the signature"
  }
  openssl dgst -sha256 -verify cosign.pub -signature <(base64 -d SHA256SUMS.sig) SHA256SUMS >/dev/null ||
    die "openssl refused the signature"
  sha256sum --quiet -c SHA256SUMS || die "sha256sum -c SHA256SUMS failed"
)

# Published files are world-readable (cosign writes its bundle 0600).
chmod 0644 "$stage"/*
[ -d "$out" ] && rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$stage" "$out"

if [ "$tag" = 1 ]; then
  if git rev-parse -q --verify "refs/tags/$tag_name" >/dev/null; then
    say "$tag_name already tags $commit"
  else
    git tag -a "$tag_name" -m "cosmolet $version" "$commit"
    say "tagged $tag_name (not pushed: git push origin $tag_name)"
  fi
fi

say "release $version in $out ($(($(date +%s) - started)) s):"
(cd "$out" && du -h -- * | sed 's/^/    /') >&2
