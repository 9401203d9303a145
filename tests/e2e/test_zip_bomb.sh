#!/usr/bin/env bash
# test_zip_bomb.sh DOORMAN SOURCE_DIR: a zip whose Invitations.csv inflates to
# 300 MiB of one byte (about 300 KiB compressed) is refused quickly, with a
# message about the size limit, exit 3, and small memory.  Needs zip (zipnote).
# The 300 MiB never touch the disk: zip reads them from a pipe into an entry
# named "-", which zipnote then renames.
. "$(dirname "$0")/lib.sh"
command -v zip >/dev/null && command -v zipnote >/dev/null ||
    { echo "FAIL: zip and zipnote are needed"; exit 1; }
cd "$tmp" || exit 1

head -c 300M /dev/zero | tr '\0' 'a' | zip -q -1 bomb.zip - || { echo "FAIL: zip"; exit 1; }
printf '@ -\n@=Invitations.csv\n' | zipnote -w bomb.zip || { echo "FAIL: zipnote"; exit 1; }
unzip -l bomb.zip | grep -qE '^ *314572800 .* Invitations.csv$' ||
    { echo "FAIL: bomb.zip is not what the test expects:"; unzip -l bomb.zip; exit 1; }
[ "$(stat -c %s bomb.zip)" -lt $((4 << 20)) ] || fail "bomb.zip is not small: $(stat -c %s bomb.zip) bytes"

for fmt in jsonl table; do
    start=$(date +%s%N)
    rss=$(peak_rss_kb "$doorman" triage bomb.zip --format "$fmt" 3>"bomb-$fmt.out" 4>"bomb-$fmt.err")
    ms=$((($(date +%s%N) - start) / 1000000))
    cp "$tmp/rss.code" "bomb-$fmt.code"
    sanitizer_check "bomb-$fmt"
    expect_code "bomb-$fmt" 3
    expect_err "bomb-$fmt" "doorman: bomb.zip:Invitations.csv: error: entry is 314572800 bytes uncompressed, over the limit of 268435456; refusing it (zip bomb?)"
    [ "$ms" -lt 5000 ] && ok "bomb-$fmt: refused in $ms ms" || fail "bomb-$fmt: took $ms ms to refuse"
    expect_rss "bomb-$fmt" "$rss" 65536 "$ms"
done
grep -q '^0 records: 0 accept, 0 review, 0 decline$' bomb-table.out ||
    fail "bomb-table: no records should come out of the bomb: $(cat bomb-table.out)"
[ -s bomb-jsonl.out ] && fail "bomb-jsonl: wrote records: $(head -c 200 bomb-jsonl.out)"

# With --max-entry above its size the entry is read, but as one 300 MiB
# field: reported and skipped at --max-field, without holding it in memory.
start=$(date +%s%N)
rss=$(peak_rss_kb "$doorman" triage bomb.zip --max-entry 512M --format jsonl 3>big.out 4>big.err)
ms=$((($(date +%s%N) - start) / 1000000))
cp "$tmp/rss.code" big.code
sanitizer_check big
expect_code big 3
expect_err big "doorman: bomb.zip:Invitations.csv: error: no header doorman knows in the first 16 rows"
expect_rss big "$rss" 65536 "$ms"

finish
