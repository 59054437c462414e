#!/usr/bin/env bash
# The first command: installs what is missing (FRR, GoBGP, iproute2, nftables, curl through apt;
# npm dependencies; the build), then starts the lab and shows its live view.
#   sudo bash scripts/lab.sh            (extra arguments go to `cosmolet lab up`, e.g. --detach)
#   sudo bash scripts/lab.sh --kube real   (a real etcd, kube-apiserver, controller-manager and
#                                          scheduler; built from their Go modules the first time)
# Ctrl-C leaves the lab running; `node dist/cli.js lab down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/cli.js lab up "$@"
