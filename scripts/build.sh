#!/usr/bin/env bash
# Configures and builds one preset (release, debug or asan): scripts/build.sh release
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
# Let ccache share results between clones in different folders (CI builds a fresh clone).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
