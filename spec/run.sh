#!/usr/bin/env bash
# spec/run.sh: runs every test of ccproxy, from a fresh Debian 12 machine (as root) or a
# developer's checkout. It installs what the tests need (Debian packages, the npm packages of
# spec/e2e), builds warnings-as-errors, and runs, in order:
#   1. CTest on the release build: C unit tests, Lua specs of every rule and hook (inside the
#      real binary), functional specs (the real binary against a mock upstream on loopback;
#      the dashboard's in headless Chromium, whose screenshot lands in build/spec-output/);
#   2. the same CTest suite on an ASan+UBSan build;
#   3. the fuzz targets, briefly, over their seed corpora (clang, libFuzzer);
#   4. end-to-end tests with real clients: the Claude Code CLI and the official SDKs;
#   5. the conformance matrix: the real CLI straight at the mock and through ccproxy on each
#      kind of route, scenario by scenario (spec/conformance/).
# Options: --quick skips 2 and 3. Everything talks to loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

debs=(build-essential cmake pkg-config libuv1-dev libluajit2-5.1-dev libcjson-dev libssl-dev
      libyaml-dev libhiredis-dev libsqlite3-dev sqlite3 node-llhttp lua-busted lua-socket openssl
      curl clang libclang-rt-14-dev redis-server haproxy prometheus tmux chromium)
command -v node >/dev/null 2>&1 || debs+=(nodejs)
command -v npm >/dev/null 2>&1 || debs+=(npm)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=2
step() { echo; echo "== $*"; }

step "build (release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCPROXY_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
step "ctest: C unit tests, Lua specs, functional specs"
ctest --test-dir build --output-on-failure

if [ "$quick" = 0 ]; then
  step "build (ASan+UBSan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCCPROXY_SANITIZE=ON -DCCPROXY_WERROR=ON \
    >/dev/null
  cmake --build build-asan -j"$jobs"
  step "ctest under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure

  step "fuzz targets (10 s each)"
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCCPROXY_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$jobs"
  for f in build-fuzz/spec/fuzz_*; do
    name=$(basename "$f")
    corpus="spec/fuzz/corpus/${name#fuzz_}"
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    echo "-- $name"
    "$f" -max_total_time=10 -print_final_stats=0 "$work" 2>&1 | tail -n 1
    rm -rf "$work"
  done
fi

step "end-to-end: Claude Code CLI and the official SDKs"
cd "$root/spec/e2e"
npm ci --no-audit --no-fund --loglevel=error
CCPROXY_BIN="$root/build/ccproxy" npm test

step "conformance: Claude Code direct vs through ccproxy, scenario x route"
cd "$root"
CCPROXY_BIN="$root/build/ccproxy" node spec/conformance/run.mjs
