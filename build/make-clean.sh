#!/usr/bin/env bash
# build/make-clean.sh: remove everything this checkout generated.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo xtask clean "$@"
