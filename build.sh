#!/usr/bin/env bash
# build.sh: the README's quick start.
#   ./build.sh demo   install what is missing, build, triage the bundled example export
#   ./build.sh test   install what is missing, build, run every test (normal and sanitizer builds)
#   ./build.sh bench  build in release mode and run the benchmark
set -euo pipefail
cd "$(dirname "$0")"

# build: the libraries; test: also the real mail programs the tests drive
PACKAGES="build-essential cmake pkg-config libpcre2-dev libjansson-dev libcurl4-openssl-dev
libzip-dev libcmocka-dev libutf8proc-dev libgmime-3.0-dev libmilter-dev libsqlite3-dev zip unzip"
TEST_PACKAGES="procmail maildrop miltertest dovecot-imapd dovecot-sieve python3 openssl"

install_missing() { # install_missing PACKAGE...
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "build.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    echo "build.sh: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { # build DIR [cmake options...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DDOORMAN_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)" >/dev/null
}

case "${1:-demo}" in
demo)
    install_missing $PACKAGES
    build build
    ./build/doorman triage examples/export --format table
    ;;
test)
    install_missing $PACKAGES $TEST_PACKAGES
    build build
    build build-asan -DDOORMAN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    echo "== sanitizer build (address, undefined) =="
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j2
    echo "== normal build =="
    ctest --test-dir build --output-on-failure -j2
    ;;
bench)
    install_missing $PACKAGES
    build build-release -DCMAKE_BUILD_TYPE=Release
    cmake --build build-release --target bench
    ;;
*)
    echo "usage: ./build.sh demo|test|bench" >&2
    exit 2
    ;;
esac
