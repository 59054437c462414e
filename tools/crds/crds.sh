#!/usr/bin/env bash
# Prints the CRD files of the Prometheus Operator kinds the chart renders (ServiceMonitor,
# PrometheusRule), one path a line, from the Go module pinned in tools/crds/prometheus-operator.env:
#
#   bash tools/crds/crds.sh
#
# The module lands in the go command's module cache (read-only, shared with every other build);
# nothing is written to the work tree. Exits 1 with the reason on stderr when go is missing, the
# download fails, or the module's hash is not the pinned one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=prometheus-operator.env
. "$here/prometheus-operator.env"
module=$PROMETHEUS_OPERATOR_MODULE@$PROMETHEUS_OPERATOR_VERSION

command -v go >/dev/null 2>&1 || {
  echo "error: go is not installed (the CRDs come from $module)" >&2
  exit 1
}
# Outside any module, with no flags from the environment: `go mod download MODULE@VERSION` needs
# neither, and a go.mod above the current directory must not change what it resolves.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! json=$(cd "$tmp" && GOFLAGS= GO111MODULE=on go mod download -json "$module" 2>&1); then
  echo "error: go mod download $module failed:" >&2
  echo "$json" >&2
  exit 1
fi
field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\{0,1\}$/\\1/p" <<<"$json" | head -n1; }
sum=$(field Sum)
dir=$(field Dir)
if [ "$sum" != "$PROMETHEUS_OPERATOR_SUM" ]; then
  echo "error: $module has hash '$sum', the pin says $PROMETHEUS_OPERATOR_SUM" >&2
  exit 1
fi
for kind in servicemonitors prometheusrules; do
  f=$dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml
  [ -f "$f" ] || {
    echo "error: $module has no $f" >&2
    exit 1
  }
  echo "$f"
done
