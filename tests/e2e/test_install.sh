#!/usr/bin/env bash
# test_install.sh DOORMAN SOURCE_DIR: `cmake --install` lays out the library, the header,
# doorman.pc and the CLI, and a program built with pkg-config against them links and runs.
set -u
doorman=$1
build=$(dirname "$doorman")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$tmp/inst" >/dev/null || fail "cmake --install"
for f in bin/doorman include/doorman.h share/man/man1/doorman.1; do
    [ -f "$tmp/inst/$f" ] || fail "missing $f"
done
lib=$(find "$tmp/inst" -name 'libdoorman.so.*' | head -1)
[ -n "$lib" ] || fail "no libdoorman.so"
pc=$(find "$tmp/inst" -name doorman.pc | head -1)
[ -n "$pc" ] || fail "no doorman.pc"
libdir=$(dirname "$lib")

# Only dm_ symbols are exported from the shared library.
others=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^dm_' | grep -v '^_' || true)
[ -z "$others" ] || fail "symbols exported beyond dm_*: $others"
nm -D --defined-only "$lib" | grep -q ' dm_source_open$' || fail "dm_source_open not exported"

cat >"$tmp/use.c" <<'C'
#include <doorman.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    dm_record *r;
    if (dm_record_create(&r) != DM_OK)
        return 1;
    dm_record_set(r, DM_FIELD_FROM_NAME, "Ada", 3);
    int ok = strcmp(dm_record_get(r, DM_FIELD_FROM_NAME), "Ada") == 0 &&
             strcmp(dm_verdict_name(dm_verdict_for(6, -2, 5)), "decline") == 0;
    dm_record_free(r);
    printf("%s %s\n", dm_version(), ok ? "ok" : "wrong");
    return ok ? 0 : 1;
}
C
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-prefix --cflags --libs doorman) ||
    fail "pkg-config doorman"
# a sanitizer build's library needs its runtime in the program too
san=""
ldd "$lib" | grep -q libasan && san="-fsanitize=address,undefined"
cc $san "$tmp/use.c" $flags -o "$tmp/use" || fail "compiling against the installed library"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/use") || fail "the program failed: $out"
[ "$out" = "$("$doorman" --version | cut -d' ' -f2) ok" ] || fail "unexpected output: $out"
echo "install ok: $out"
