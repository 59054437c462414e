#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, then lint, typecheck, unit and
# end-to-end tests (the e2e tests need root, FRR, GoBGP and the real Kubernetes control plane built
# from its Go modules: real namespaces, real BGP sessions, a real kube-apiserver).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --go-tools
npm test
