#!/usr/bin/env bash
# The first command: installs what is missing (FRR, GoBGP, iproute2, nftables, curl through apt;
# npm dependencies; the build), then starts the lab and shows its live view.
#   sudo bash scripts/lab.sh            (extra arguments go to `cosmolet lab up`, e.g. --detach)
# Ctrl-C leaves the lab running; `node dist/cli.js lab down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/cli.js lab up "$@"
