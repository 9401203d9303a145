#!/usr/bin/env bash
# test_stdin_live.sh DOORMAN SOURCE_DIR: `producer | doorman triage - | consumer`
# with a producer that writes a record and waits: the suggestion for each
# record comes out while standard input is still open (docs/output.md: jsonl
# is "written as each record arrives"), not when the input ends.
. "$(dirname "$0")/lib.sh"
cd "$tmp" || exit 1
mkfifo in.fifo out.fifo || { echo "FAIL: mkfifo"; exit 1; }
# Read-write opens of a FIFO do not block; fd 5 is the producer, fd 6 the consumer.
exec 5<>in.fifo 6<>out.fifo
timeout 20 "$doorman" triage - --format jsonl <in.fifo >out.fifo 2>live.err 5>&- 6>&- &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

for i in 1 2 3; do
    printf '{"from":{"name":"Person %d"},"message":"We met at the Erie summit"}\n' "$i" >&5
    if IFS= read -r -t 5 -u 6 line; then
        case $line in
        *"\"source\":\"<stdin>:$i\""*) ok "record $i came out while stdin was open" ;;
        *) fail "record $i: unexpected line: ${line:0:200}" ;;
        esac
    else
        fail "record $i: no suggestion within 5 s of writing the record (output held until EOF?)"
        break
    fi
done
exec 5>&- # end of input
wait "$pid"
echo $? >live.code
sanitizer_check live
expect_code live 0
rest=0
while IFS= read -r -t 1 -u 6 line; do rest=$((rest + 1)); done
echo "($rest more lines after the end of input)"
exec 6>&-
finish
