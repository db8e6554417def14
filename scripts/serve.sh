#!/usr/bin/env bash
# Quick start, command 1: install what is needed, build (release) and run `chtlink serve`.
# Extra arguments go to `chtlink serve` (e.g. --set server.port=5002).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh release
exec build/release/src/cli/chtlink serve "$@"
