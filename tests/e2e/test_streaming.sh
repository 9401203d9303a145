#!/usr/bin/env bash
# test_streaming.sh DOORMAN SOURCE_DIR: a generated Invitations.csv of
# 200,000 incoming rows goes through in bounded memory (peak RSS under 64 MiB)
# in every format, and every row comes out, in order, with the right verdict.
. "$(dirname "$0")/lib.sh"
cd "$tmp" || exit 1
rows=200000
limit_kib=65536

# Three kinds of rows in turn: a pitch (decline), no note (review), a note
# that says where we met (accept).  Row N is on line N + 1.
{
    echo 'From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl'
    seq 1 "$rows" | awk '{
        n = $1
        if (n % 3 == 1) note = "\"Hi Morgan, we provide lead generation and appointment setting for analysts. Book a call: https://calendly.com/p" n "\""
        else if (n % 3 == 2) note = ""
        else note = "\"We met at the Toledo data meetup, row " n ", and talked about forecasting.\""
        printf "Person %d,Morgan Reyes,\"2/10/26, 9:15 AM\",%s,INCOMING,https://www.linkedin.com/in/p-%d,https://www.linkedin.com/in/morgan-reyes-sc\n", n, note, n
    }'
} >Invitations.csv
[ "$(wc -l <Invitations.csv)" -eq $((rows + 1)) ] || { echo "FAIL: generator"; exit 1; }
declines=$(((rows + 2) / 3)) reviews=$(((rows + 1) / 3)) accepts=$((rows / 3))

for fmt in jsonl csv json table; do
    start=$(date +%s%N)
    rss=$(peak_rss_kb "$doorman" triage Invitations.csv --format "$fmt" --width 100 \
        3>"$fmt.out" 4>"$fmt.err")
    ms=$((($(date +%s%N) - start) / 1000000))
    cat "$tmp/rss.code" >"$fmt.code"
    sanitizer_check "$fmt"
    expect_code "$fmt" 0
    [ -s "$fmt.err" ] && fail "$fmt: unexpected stderr: $(head -3 "$fmt.err")"
    expect_rss "$fmt" "$rss" "$limit_kib" "$ms"
done

# jsonl: one line per row, in input order, each verdict as the row's kind says.
n=$(wc -l <jsonl.out)
[ "$n" -eq "$rows" ] && ok "jsonl: $n lines" || fail "jsonl: $n lines, want $rows"
head -1 jsonl.out | grep -q '"source":"Invitations.csv:2","verdict":"decline"' ||
    fail "jsonl: first line is not row 1 (line 2) declined: $(head -c 200 jsonl.out)"
tail -1 jsonl.out | grep -q "\"source\":\"Invitations.csv:$((rows + 1))\"" ||
    fail "jsonl: last line is not line $((rows + 1)): $(tail -1 jsonl.out | head -c 200)"
got=$(grep -o '"source":"Invitations.csv:[0-9]*","verdict":"[a-z]*"' jsonl.out |
    awk -F'[:",]+' '{ k = ($4 - 1) % 3; want = k == 1 ? "decline" : k == 2 ? "review" : "accept"
                      if ($6 != want || $4 != NR + 1) bad++ } END { print NR, bad + 0 }')
[ "$got" = "$rows 0" ] && ok "jsonl: every row in order with its verdict" ||
    fail "jsonl: rows/out-of-order-or-wrong-verdict = $got, want '$rows 0'"

# json: the summary counts them all.
want="\"summary\": {\"total\":$rows,\"accept\":$accepts,\"review\":$reviews,\"decline\":$declines,\"skipped\":0}}"
tail -1 json.out | grep -qF "$want" && ok "json: $want" ||
    fail "json: summary is $(tail -1 json.out), want $want"
[ "$(grep -c '^{"id":' json.out)" -eq "$rows" ] || fail "json: $(grep -c '^{"id":' json.out) records, want $rows"

# csv: a header and one CRLF row per record.
n=$(grep -c $'\r$' csv.out)
[ "$n" -eq $((rows + 1)) ] && ok "csv: $n CRLF lines" || fail "csv: $n CRLF lines, want $((rows + 1))"

# table: a header, a line per record, the summary.
want="$rows records: $accepts accept, $reviews review, $declines decline"
tail -1 table.out | grep -qxF "$want" && ok "table: $want" || fail "table: last line $(tail -1 table.out)"
[ "$(wc -l <table.out)" -eq $((rows + 2)) ] || fail "table: $(wc -l <table.out) lines, want $((rows + 2))"

finish
