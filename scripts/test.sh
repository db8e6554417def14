#!/usr/bin/env bash
# Quick start, command 2: install what is needed, build, and run every test: unit and
# integration tests on the release build, then all of them again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs=$(nproc)
started=$SECONDS

./scripts/build.sh release
echo "== release build ready after $((SECONDS - started)) s; running tests"
ctest --preset release -j "$jobs"

./scripts/build.sh asan
echo "== asan build ready after $((SECONDS - started)) s; running tests under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
ctest --preset asan -j "$jobs"
