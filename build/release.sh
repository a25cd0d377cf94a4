#!/usr/bin/env bash
# Kubernetes muscle memory: build/release.sh runs the release. All logic lives
# in `cargo xtask release`; arguments pass through (e.g. --skip-tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo xtask release "$@"
