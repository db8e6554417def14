#!/usr/bin/env bash
# Rejects an #include of another module that the including module may not use, so the
# dependency graph stays the one in docs/architecture.md: dependencies point downward.
set -euo pipefail
cd "$(dirname "$0")/.."

allowed() {  # the modules a module may include, besides itself
  case "$1" in
    base) echo "" ;;
    net|store|script) echo "base" ;;
    queue) echo "base store net" ;;
    fhir) echo "base store queue net" ;;
    him) echo "base net store queue" ;;
    cht) echo "base net store queue script" ;;
    mediator) echo "base net queue store" ;;
    config) echo "base net store queue script fhir him cht mediator" ;;
    cli) echo "*" ;;
    *) echo "UNKNOWN" ;;
  esac
}

status=0
for dir in src/*/; do
  module=$(basename "$dir")
  ok=$(allowed "$module")
  if [ "$ok" = "UNKNOWN" ]; then
    echo "tools/check_includes.sh: module src/$module has no entry; add its allowed dependencies"
    status=1
    continue
  fi
  [ "$ok" = "*" ] && continue
  while IFS=: read -r file line text; do
    used=$(echo "$text" | sed -E 's/.*#include "([a-z_]+)\/.*/\1/')
    [ "$used" = "$module" ] && continue
    [ -d "src/$used" ] || continue
    case " $ok " in *" $used "*) ;; *)
      echo "$file:$line: module '$module' may not include '$used' (allowed: ${ok:-nothing})"
      status=1 ;;
    esac
  done < <(grep -rn --include='*.h' --include='*.cc' -E '^#include "[a-z_]+/' "$dir" || true)
done
exit $status
