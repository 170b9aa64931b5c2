#!/usr/bin/env bash
# Checks the include layering of STYLE.md ("The tree draws the data flow"):
#   - src/agent/ includes only base/, record/, agent/ and include/ (the
#     agent's own public header): it must not pull in the CLI's code;
#   - src/base/ and src/record/ include only base/ and record/: both
#     binaries link them;
#   - nothing in src/analyze, src/render, src/symbolize or src/cli includes
#     agent/: the CLI never links the agent.
# Each #include is resolved as the compiler would (the including file's
# directory, then src/, then include/), so "sys.h", "../agent/sys.h" and
# "agent/sys.h" are judged alike. Prints every violation; exits 1 if any.
# Usage: tools/check_layering.sh [SOURCE_ROOT]   (default: this repository)
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
root=$(cd "$root" && pwd)
src=$root/src
fail=0

# Prints the top-level directory the include resolves into (base, record,
# agent, ..., or "include" for include/), nothing when it resolves nowhere.
resolve() {
    local dir=$1 inc=$2 quoted=$3 cand
    local cands=()
    [ "$quoted" = 1 ] && cands+=("$dir/$inc")
    cands+=("$src/$inc" "$root/include/$inc")
    for cand in "${cands[@]}"; do
        if [ -f "$cand" ]; then
            cand=$(realpath -m "$cand")
            case $cand in
            "$src"/*) cand=${cand#"$src"/}; echo "${cand%%/*}" ;;
            "$root/include"/*) echo include ;;
            *) echo outside ;;
            esac
            return
        fi
    done
}

# check LAYER ALLOWED...: every include of src/LAYER must resolve into ALLOWED.
check() {
    local layer=$1
    shift
    local allowed=" $* "
    [ -d "$src/$layer" ] || return 0
    local f line inc quoted target
    while IFS= read -r -d '' f; do
        while IFS= read -r line; do
            local lineno=${line%%:*}
            local text=${line#*:}
            if [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
                inc=${BASH_REMATCH[1]} quoted=1
            elif [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
                inc=${BASH_REMATCH[1]} quoted=0
            else
                continue
            fi
            target=$(resolve "$(dirname "$f")" "$inc" "$quoted")
            [ -z "$target" ] && continue # a system header
            if [[ $allowed != *" $target "* ]]; then
                echo "layering: ${f#"$root"/}:$lineno includes \"$inc\" ($target/), but $layer/ may include only:$allowed" >&2
                fail=1
            fi
        done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f" || true)
    done < <(find "$src/$layer" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print0)
}

check agent base record agent include
check base base record
check record base record
for layer in analyze render symbolize cli; do
    # Anything but agent/.
    others=$(cd "$src" && find . -mindepth 1 -maxdepth 1 -type d ! -name agent -printf '%f ')
    check "$layer" $others include
done

if [ $fail -ne 0 ]; then
    echo "layering: violations found (see STYLE.md, 'The tree draws the data flow')" >&2
    exit 1
fi
echo "layering: ok"
