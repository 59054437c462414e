#!/usr/bin/env bash
# Builds the Go programs the tests and the lab run, from their own Go modules through the Go module
# proxy, into a cache outside the work tree keyed by the pins, and prints the bin directory:
#
#   bash scripts/go-tools.sh kube     # etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#   bash scripts/go-tools.sh helm3    # helm (the latest 3.x)
#   bash scripts/go-tools.sh helm4    # helm (4.x)
#   bash scripts/go-tools.sh cosign   # cosign (signs the release, scripts/release.sh)
#   bash scripts/go-tools.sh kube --cached   # the directory if built already, else exit 1
#
# The pins are tools/<name>/go.mod and go.sum (tools/versions.env names them for people; a unit test
# keeps the two equal). A second run with the same pins prints the cached directory at once.
# Progress goes to stderr; stdout is only the bin directory, so `bin=$(bash scripts/go-tools.sh kube)`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

name=${1:-}
cached_only=${2:-}
case "$name" in
  kube | helm3 | helm4 | cosign) ;;
  *)
    echo "usage: $0 kube|helm3|helm4|cosign [--cached]" >&2
    exit 2
    ;;
esac

command -v go >/dev/null 2>&1 || {
  echo "error: go is not installed (the Kubernetes control plane and Helm are built from their Go modules)" >&2
  exit 1
}

# shellcheck source=../tools/versions.env
. tools/versions.env
dir=tools/$name
# The key: the module's files, this script and the Go toolchain. Changing a pin builds anew.
key=$( (
  cd "$dir" && find . -type f | LC_ALL=C sort | xargs sha256sum
  sha256sum "$root/scripts/go-tools.sh" | cut -d' ' -f1
  go version
) | sha256sum | cut -c1-12)
cache=${COSMOLET_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cosmolet/tools}
out=$cache/$name-$key
if [ -f "$out/.complete" ]; then
  echo "$out/bin"
  exit 0
fi
# --cached: only say whether it is built (exit 1 when not), never build.
[ "$cached_only" = --cached ] && exit 1

started=$(date +%s)
echo "==> building $name from Go modules into $out (first time: minutes)" >&2
rm -rf "$out"
mkdir -p "$out/bin"
cd "$dir"
# -mod=readonly: the pins are go.mod and go.sum as committed; nothing is resolved anew.
export GOFLAGS="-mod=readonly -trimpath"
case "$name" in
  kube)
    minor=${KUBERNETES_VERSION#v1.}
    minor=${minor%%.*}
    ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
    ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
    go build -ldflags "$ldflags" -o "$out/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl >&2
    go build -ldflags "-s -w" -o "$out/bin/etcd" ./etcd >&2
    ;;
  helm3 | helm4)
    major=${name#helm}
    version_var=HELM${major}_VERSION
    ldflags="-s -w -X helm.sh/helm/v$major/internal/version.version=${!version_var}"
    if [ "$major" = 3 ]; then
      # Helm 3 takes the Kubernetes version it assumes (.Capabilities.KubeVersion of `helm template`,
      # the deprecation checks of `helm lint`) from ldflags that its Makefile derives from the
      # k8s.io/client-go it builds with; without them it assumes v1.20 and refuses any chart whose
      # kubeVersion needs more (ours: >=1.23). Helm 4 reads client-go's version from the build info.
      client_go=$(go list -m -f '{{.Version}}' k8s.io/client-go) # v0.<minor>.<patch>
      k8s_minor=$(echo "$client_go" | cut -d. -f2)
      for pkg in pkg/lint/rules pkg/chartutil; do
        ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
      done
    fi
    go build -ldflags "$ldflags" -o "$out/bin/helm" "helm.sh/helm/v$major/cmd/helm" >&2
    ;;
  cosign)
    go build -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
      -o "$out/bin/cosign" github.com/sigstore/cosign/v3/cmd/cosign >&2
    ;;
esac
echo "$(($(date +%s) - started))" >"$out/.build-seconds"
touch "$out/.complete"
echo "==> built $name in $(($(date +%s) - started)) s" >&2
# Older builds of the same tool are dropped so the cache does not grow with every pin change.
find "$cache" -maxdepth 1 -name "$name-*" ! -path "$out" -exec rm -rf {} +
echo "$out/bin"
