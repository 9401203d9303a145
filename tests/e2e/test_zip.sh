#!/usr/bin/env bash
# test_zip.sh DOORMAN SOURCE_DIR: the export as a zip, made on the fly from
# examples/export: the same suggestions as the folder, a top folder inside the
# zip, a bad row named by zip and entry, a truncated zip, --max-entry, and an
# entry whose header lies about its size.  Needs zip.
. "$(dirname "$0")/lib.sh"
command -v zip >/dev/null || { echo "FAIL: zip is not installed"; exit 1; }

cp -r "$src/examples/export" "$tmp/export"
rm -f "$tmp/export/EXPECTED.md"
cd "$tmp" || exit 1
(cd export && zip -q -X ../export.zip ./*.csv) || { echo "FAIL: zip"; exit 1; }

# The zip and the folder give the same records, but for the source prefix.
for fmt in jsonl csv json; do
    run "folder-$fmt" triage export --format "$fmt"
    run "zip-$fmt" triage export.zip --format "$fmt"
    expect_code "zip-$fmt" 0
    [ -s "$tmp/zip-$fmt.err" ] && fail "zip-$fmt: unexpected stderr: $(cat "$tmp/zip-$fmt.err")"
    n=$(grep -c 'export.zip:Invitations.csv:' "zip-$fmt.out")
    [ "$n" -eq 41 ] || fail "zip-$fmt: $n records name export.zip:Invitations.csv, want 41"
    sed 's#export/Invitations.csv:#export.zip:Invitations.csv:#' "folder-$fmt.out" >"folder-$fmt.want"
    if cmp -s "folder-$fmt.want" "zip-$fmt.out"; then
        ok "zip-$fmt: same output as the folder but for the source prefix"
    else
        fail "zip-$fmt: output differs from the folder's:"
        diff "folder-$fmt.want" "zip-$fmt.out" | head -20
    fi
done
# the folder run really is the export with its context (not an empty run)
grep -q '"name":"KNOWN_CONTACT"' folder-jsonl.out || fail "folder-jsonl: no KNOWN_CONTACT: context not joined"

# A zip with a top folder, as a hand-made archive has: found all the same.
mkdir -p top/Basic_LinkedInDataExport_02-14-2026
cp export/*.csv top/Basic_LinkedInDataExport_02-14-2026/
(cd top && zip -q -r -X ../top.zip Basic_LinkedInDataExport_02-14-2026) || fail "zip top"
run top triage top.zip --format jsonl
expect_code top 0
sed 's#export/Invitations.csv:#top.zip:Basic_LinkedInDataExport_02-14-2026/Invitations.csv:#' \
    folder-jsonl.out >top.want
if cmp -s top.want top.out; then
    ok "top: a zip with a top folder gives the folder's records"
else
    fail "top: output differs from the folder's:"
    diff top.want top.out | head -20
fi

# A bad row inside a zip entry is named ZIP:ENTRY:LINE, skipped and counted.
mkdir bad
cp export/*.csv bad/
printf 'Broken Row,Gideon Marsh,"2/1/26, 9:00 AM","note" x,INCOMING,,\n' >>bad/Invitations.csv
(cd bad && zip -q -X ../bad.zip ./*.csv) || fail "zip bad"
run bad triage bad.zip --format json
expect_code bad 0
expect_err bad 'doorman: bad.zip:Invitations.csv:49:49: error: '
expect_err bad "after closing quote at column 49; row skipped"
grep -q '"skipped":1}}$' bad.out || fail "bad: summary does not count 1 skipped row: $(tail -1 bad.out)"
grep -q '"total":41,' bad.out || fail "bad: summary total is not 41: $(tail -1 bad.out)"

# A truncated zip (a download cut short) is refused, naming the zip.
size=$(stat -c %s export.zip)
for cut in $((size / 2)) $((size - 10)) 100; do
    head -c "$cut" export.zip >cut.zip
    run "cut-$cut" triage cut.zip --format jsonl
    expect_code "cut-$cut" 3
    expect_err "cut-$cut" "doorman: cut.zip: cannot open the zip"
    [ -s "cut-$cut.out" ] && fail "cut-$cut: wrote records from a truncated zip"
done

# --max-entry: every entry over it is refused, before it is read.
run max-entry triage export.zip --max-entry 1K --format jsonl
expect_code max-entry 3
expect_err max-entry "over the limit of 1024; refusing it"
grep -qE '^doorman: export\.zip:[A-Za-z]+\.csv: ' max-entry.err ||
    fail "max-entry: the message does not name the zip and the entry: $(cat max-entry.err)"
[ -s max-entry.out ] && fail "max-entry: wrote records"
run max-entry-ok triage export.zip --max-entry 64K --format jsonl
expect_code max-entry-ok 0
[ "$(wc -l <max-entry-ok.out)" -eq 41 ] || fail "max-entry-ok: $(wc -l <max-entry-ok.out) records, want 41"

# An entry whose headers claim 1000 bytes but that inflates to ~3.9 MB: the
# bytes actually read are counted, so --max-entry 1M still stops it.
mkdir lie
{
    head -1 export/Invitations.csv
    yes 'Ann Lee,Morgan Reyes,"2/10/26, 9:15 AM",,INCOMING,https://www.linkedin.com/in/ann-lee,https://www.linkedin.com/in/morgan-reyes-sc' |
        head -n 30000
} >lie/Invitations.csv
(cd lie && zip -q -X ../lie.zip Invitations.csv) || fail "zip lie"
rm -rf lie
le32() { # le32 N: N as 4 little-endian bytes
    printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))"
    printf "\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"
}
zsize=$(stat -c %s lie.zip)
cdoff=$(od -A n -t u4 -j $((zsize - 22 + 16)) -N 4 lie.zip | tr -d ' ')
# the uncompressed size: local header offset 22, central directory header offset 24
le32 1000 | dd of=lie.zip bs=1 seek=22 conv=notrunc status=none
le32 1000 | dd of=lie.zip bs=1 seek=$((cdoff + 24)) conv=notrunc status=none
claimed=$(od -A n -t u4 -j $((cdoff + 24)) -N 4 lie.zip | tr -d ' ')
[ "$claimed" = 1000 ] || fail "lie: could not patch the central directory (reads $claimed)"
run lie triage lie.zip --max-entry 1M --format jsonl
expect_code lie 3
expect_err lie "doorman: lie.zip:Invitations.csv:"
expect_err lie "larger than the limit of 1048576 bytes; refusing it"
n=$(wc -l <lie.out)
if [ "$n" -gt 0 ] && [ "$n" -lt 30000 ]; then
    ok "lie: stopped after $n of 30000 rows"
else
    fail "lie: $n records written, want some but fewer than 30000"
fi

finish
