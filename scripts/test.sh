#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, then lint, typecheck, unit and
# end-to-end tests (the e2e tests need root, FRR and GoBGP: real namespaces, real BGP sessions).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
