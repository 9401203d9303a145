#!/usr/bin/env bash
# test_rules_cache.sh DOORMAN SOURCE_DIR: the compiled-rules cache seen from the command line
# (docs/rules.md, "The compiled-rules cache"). doorman triage and doorman mail give exactly
# what they give without it, from a cold cache, a warm one, a damaged one, and after a rule
# or list file changed; the file is private; DOORMAN_NO_CACHE leaves none.
set -u
doorman=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$tmp/xdg"
cp -r "$src/rules" "$tmp/rules"
export XDG_CONFIG_HOME=$tmp/xdg DOORMAN_RULES_DIR=$tmp/rules XDG_CACHE_HOME=$tmp/cache
cache=$tmp/cache/doorman
mails=("$src"/tests/data/mail/linkedin/*.eml)

# run NAME: triage the example export (messages too) and each mail, into $tmp/NAME.*
run() {
    "$doorman" triage "$src/examples/export" --messages --format jsonl >"$tmp/$1.triage" ||
        fail "$1: triage"
    : >"$tmp/$1.mail"
    for m in "${mails[@]}"; do
        "$doorman" mail --check <"$m" >>"$tmp/$1.mail"
        [ $? -le 2 ] || fail "$1: mail --check $m"
    done
}
same() { # same A B: A's output is B's
    cmp -s "$tmp/$1.triage" "$tmp/$2.triage" || { diff "$tmp/$1.triage" "$tmp/$2.triage" | head; fail "$1: triage differs from $2"; }
    cmp -s "$tmp/$1.mail" "$tmp/$2.mail" || { diff "$tmp/$1.mail" "$tmp/$2.mail" | head; fail "$1: mail differs from $2"; }
}
files() { ls "$cache" 2>/dev/null | grep -c '^rules-.*\.cache$'; }

DOORMAN_NO_CACHE=1 run fresh
[ ! -e "$cache" ] || fail "DOORMAN_NO_CACHE wrote $cache"
[ "$(wc -l <"$tmp/fresh.triage")" -ge 41 ] || fail "the export gave too few records"

run cold
same cold fresh
[ "$(files)" -ge 1 ] || fail "no cache file in $cache"
for f in "$cache"/rules-*.cache; do
    [ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), not 600"
done
[ "$(stat -c %a "$cache")" = 700 ] || fail "$cache has mode $(stat -c %a "$cache"), not 700"
ls -A "$cache" | grep -q '^\.rules-' && fail "a temporary file was left in $cache"
run warm
same warm fresh

# damaged files: truncated, bytes changed, empty, not a cache at all
for how in truncate flip empty junk; do
    for f in "$cache"/rules-*.cache; do
        case $how in
        truncate) head -c "$(($(stat -c %s "$f") / 2))" "$f" >"$f.tmp" && mv "$f.tmp" "$f" ;;
        flip) printf '\377\377\377\377' | dd of="$f" bs=1 seek=5000 conv=notrunc status=none ;;
        empty) : >"$f" ;;
        junk) head -c 4096 /dev/urandom >"$f" ;;
        esac
    done
    run "$how"
    same "$how" fresh
done

# a rule file changes: the next run sees it; then a list file
sed -i 's/^set decline_at 5$/set decline_at 50/' "$tmp/rules/00-settings.rules"
grep -q '^set decline_at 50$' "$tmp/rules/00-settings.rules" || fail "could not edit the settings"
DOORMAN_NO_CACHE=1 run fresh2
run changed
same changed fresh2
cmp -s "$tmp/changed.triage" "$tmp/warm.triage" && fail "a changed rule file gave the cached verdicts"
echo "zyxwv gathering" >"$tmp/rules/lists/events.list" # "we met at the ... summit" no more
DOORMAN_NO_CACHE=1 run fresh3
run changed2
same changed2 fresh3
cmp -s "$tmp/changed2.triage" "$tmp/changed.triage" && fail "a changed list file gave the cached verdicts"
run warm2
same warm2 fresh3

echo "cache: cold, warm, 4 kinds of damage and 2 changes give the verdicts of a fresh load"
