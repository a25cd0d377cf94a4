#!/usr/bin/env bash
# build/run.sh: run an xtask command, e.g. `build/run.sh build kube-apiserver`.
# Upstream runs a command in the build container; the xtask picks the route.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ $# -eq 0 ]]; then
  echo "usage: build/run.sh <cargo xtask command> [args...]  (e.g. build/run.sh build kube-apiserver)" >&2
  exit 2
fi
exec cargo xtask "$@"
