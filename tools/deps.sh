#!/usr/bin/env bash
# Installs what leakscope needs to build and test on Debian/Ubuntu, and only
# what is missing: `dpkg -s` for each package first (fast when everything is
# there), then one `apt-get update` and one `apt-get install`. Without root
# it names the missing packages and fails instead of asking for a password.
set -euo pipefail

# Build: the toolchain and the libraries CMakeLists.txt asks pkg-config for.
pkgs=(cmake make gcc g++ pkg-config libunwind-dev libdw-dev libelf-dev libcmocka-dev zlib1g-dev)
# Test: real programs that tests/agent/test_real_programs.sh runs under the agent
# (nodejs may come from another repository as a newer version: any is fine),
# and the other allocators tests/agent/test_allocators.sh links programs with.
pkgs+=(python3 perl git sqlite3 nodejs redis-server redis-tools)
pkgs+=(libjemalloc2 libtcmalloc-minimal4)
# Fuzzing (tests/fuzz, make fuzz): clang and its libFuzzer/sanitizer runtimes.
pkgs+=(clang libclang-rt-dev)
# The HTML page in a real browser (tests/e2e/test_html.sh: Debian's Chromium,
# driven by playwright-core from the npm registry, never a downloaded
# browser) and the pprof export decoded by protoc-generated code.
pkgs+=(chromium protobuf-compiler python3-protobuf)
# The reachability scan is compared with valgrind's memcheck and LeakSanitizer
# (gcc's -fsanitize=leak runtime) on the same programs (tests/e2e/test_scan_compare.sh),
# and its "ptrace refused" path is run under strace (tests/agent/test_scan.sh).
pkgs+=(valgrind liblsan0 strace)

missing=()
if command -v dpkg >/dev/null 2>&1; then
    # npm comes with the machine's Node.js here; Debian's package only when it does not.
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
    for p in "${pkgs[@]}"; do
        # Installed means "Status: install ok installed", not merely known to dpkg.
        if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
            missing+=("$p")
        fi
    done
else
    # Not a Debian system: check the tools and the pkg-config modules instead.
    for t in cmake make gcc g++ pkg-config; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if command -v pkg-config >/dev/null 2>&1; then
        for m in libunwind libdw libelf cmocka zlib; do
            pkg-config --exists "$m" || missing+=("$m (pkg-config module)")
        done
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "deps: missing ${missing[*]}; install them with your package manager (no dpkg here)." >&2
        exit 1
    fi
    exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages ${missing[*]}: run 'sudo apt-get install ${missing[*]}' (or 'sudo make deps')." >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# playwright-core for the browser test, pinned by tests/browser/package-lock.json
# (--ignore-scripts: it must not download a browser of its own). Without it
# the test reports itself skipped.
browser=$(cd "$(dirname "$0")/../tests/browser" && pwd)
if [ ! -d "$browser/node_modules/playwright-core" ] && command -v npm >/dev/null 2>&1; then
    npm ci --prefix "$browser" --ignore-scripts --no-audit --no-fund >/dev/null 2>&1 ||
        echo "deps: npm ci in tests/browser failed: the browser test will be skipped" >&2
fi
exit 0
