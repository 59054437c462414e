#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, then the two halves.
#   npm test           build, typecheck, lint and the unit tests: everything that needs no root
#                      (in-process: the API double, fake routers, helm and kubectl, no netns, no FRR)
#   npm run test:e2e   the end-to-end tests, as root: FRR, GoBGP and the real Kubernetes control plane
#                      built from its Go modules (real namespaces, real BGP sessions, a real
#                      kube-apiserver)
# Both run; either failing fails this script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --go-tools
npm test
npm run test:e2e
