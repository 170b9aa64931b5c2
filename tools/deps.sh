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

missing=()
if command -v dpkg >/dev/null 2>&1; then
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

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages ${missing[*]}: run 'sudo apt-get install ${missing[*]}' (or 'sudo make deps')." >&2
    exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
