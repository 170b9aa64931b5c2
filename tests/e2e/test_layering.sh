#!/usr/bin/env bash
# The include layering of STYLE.md holds (tools/check_layering.sh), and the
# checker itself still catches a violation: it is run once on a copy of the
# tree with a forbidden include planted in the agent and once in analyze/.
set -euo pipefail
src=${LK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
check=$src/tools/check_layering.sh

bash "$check" "$src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/agent" "$tmp/src/base" "$tmp/src/cli" "$tmp/src/analyze" "$tmp/include"
echo '/* ok */' >"$tmp/src/base/err.h"
echo '/* ok */' >"$tmp/src/agent/sys.h"
echo '/* ok */' >"$tmp/src/cli/cli.h"
printf '#include "sys.h"\n#include "base/err.h"\n#include <stdio.h>\n' >"$tmp/src/agent/a.c"
printf '#include "../base/err.h"\n' >"$tmp/src/analyze/m.c"
bash "$check" "$tmp" >/dev/null

printf '#include "../cli/cli.h"\n' >>"$tmp/src/agent/a.c"
if bash "$check" "$tmp" 2>/dev/null; then
    echo "test_layering: the checker missed agent/ including cli/" >&2
    exit 1
fi
sed -i '$d' "$tmp/src/agent/a.c"
printf '#include "agent/sys.h"\n' >>"$tmp/src/analyze/m.c"
if bash "$check" "$tmp" 2>/dev/null; then
    echo "test_layering: the checker missed analyze/ including agent/" >&2
    exit 1
fi
echo "test_layering: ok"
