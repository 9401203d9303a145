# test_milter.sh: doorman-milter driven by the real miltertest (Lua scripts in
# tests/milter/) over loopback TCP and a unix socket in a temporary folder:
# headers added with the right verdicts, forged ones deleted, aborted and
# broken sessions survived, --on-decline reject/tempfail/quarantine, --max-size.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/milter/lib.sh
. "$src/tests/milter/lib.sh"

# ---- the examples the docs show --------------------------------------------------
# examples/postfix-milter.cf and sendmail-milter.mc name the milter's socket the way
# each MTA writes it; both must name the one the milter's command line listens on,
# and docs/integration.md must show the same lines.
pf=$src/examples/postfix-milter.cf
sm=$src/examples/sendmail-milter.mc
example_args=$(sed -n 's/^#   doorman-milter -p \([^ ]*\) \(.*\)$/\1 \2/p' "$pf")
read -r example_sock example_opts <<<"$example_args"
eport=${example_sock#inet:}
eport=${eport%@*}
ehost=${example_sock#*@}
if [ -n "$example_sock" ] && [ "$example_sock" = "inet:$eport@$ehost" ] &&
    grep -qx "smtpd_milters = inet:$ehost:$eport" "$pf" &&
    grep -qx "non_smtpd_milters = inet:$ehost:$eport" "$pf" &&
    grep -qx "milter_default_action = accept" "$pf" && grep -qx "milter_protocol = 6" "$pf"; then
    ok "postfix example: the milters name $example_sock, default action accept, protocol 6"
else
    fail "postfix example: the milter lines do not match the command line '$example_args'"
fi
if grep -q "^dnl   doorman-milter -p $example_sock $example_opts\$" "$sm" &&
    grep -q "^INPUT_MAIL_FILTER(\`doorman', \`S=$example_sock," "$sm" && ! grep -q "F=" <(grep -v '^dnl' "$sm"); then
    ok "sendmail example: S=$example_sock, no F= flag"
else
    fail "sendmail example: INPUT_MAIL_FILTER does not match '$example_sock'"
fi
{ grep -v '^#' "$pf"; grep -v '^dnl' "$sm"; } | grep . | while read -r line; do
    grep -qxF -- "$line" "$src/docs/integration.md" || echo "$line"
done >"$tmp/undocumented"
if [ -s "$tmp/undocumented" ]; then
    fail "docs/integration.md does not show these lines of the examples:"
    cat "$tmp/undocumented"
else
    ok "docs/integration.md shows the examples' lines"
fi

# ---- the default milter, started as the example says (its port made free) ------------
# shellcheck disable=SC2086 # the example's options, word by word
start_milter main inet ${example_opts//\/run\/doorman-milter.pid/$tmp/main.pid} || finish
if [ "$(cat "$tmp/main.pid" 2>/dev/null)" = "${milter_pid[main]}" ]; then
    ok "main: --pidfile holds the milter's pid"
else
    fail "main: --pidfile holds '$(cat "$tmp/main.pid" 2>/dev/null)', not ${milter_pid[main]}"
fi
mt headers headers.lua
mt forged forged.lua
mt abort abort.lua

# a client that leaves mid-body, then garbage on the socket: the daemon serves on
mt midbody midbody.lua
port=${sock#inet:}
port=${port%@*}
junk() { # junk BYTES: connect, write, hang up
    { exec 3<>"/dev/tcp/127.0.0.1/$port" && printf '%b' "$1" >&3; } 2>/dev/null
    exec 3>&-
}
junk 'GET / HTTP/1.0\r\n\r\n'                # not the milter protocol at all
junk '\x7f\xff\xff\xffO'                     # a 2 GiB packet announced
junk '\x00\x00\x00\x01Z'                     # a command libmilter does not know
junk '\x00\x00\x00\x0dO\x00\x00\x00\x06'     # option negotiation cut short
junk ''                                      # connect and hang up at once
sleep 0.2
if alive main; then ok "main: alive after a mid-body disconnect and garbage"; else fail "main: died"; fi
mt after-garbage headers.lua

# a message's log line names the queue id, the verdict and the rules
if grep -q "TESTQID: verdict=decline score=[0-9.]* rules=[A-Z_,]*PITCH_I_HELP" "$tmp/main.log"; then
    ok "main: logs one line per message"
else
    fail "main: no log line for the pitch; the log:"
    cat "$tmp/main.log"
fi

# ---- --on-decline: reject on a unix socket (with --max-size), tempfail, quarantine -----
start_milter reject "unix:$tmp/reject.sock" --on-decline reject --max-size 6K || finish
mt reject decline_action.lua action=reject
mt oversize oversize.lua

# (this one also knows who "me" is, and the history of conversations)
start_milter tempfail inet --on-decline tempfail --profile "$src/examples/export" || finish
mt tempfail decline_action.lua action=tempfail profile=1

start_milter quarantine inet --on-decline quarantine --rulesets 1 || finish
mt quarantine decline_action.lua action=quarantine

# ---- without -f: a daemon, found by its --pidfile (stopped with the others) -------------
"$milter" -p "unix:$tmp/daemon.sock" --pidfile "$tmp/daemon.pid" 2>"$tmp/daemon.log"
code=$?
for _ in $(seq 1 100); do [ -s "$tmp/daemon.pid" ] && break; sleep 0.05; done
dpid=$(cat "$tmp/daemon.pid" 2>/dev/null)
if [ "$code" -eq 0 ] && [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
    milter_pid[daemon]=$dpid # killed on exit if the test stops early
    ok "daemon: the command returned 0, the daemon runs as pid $dpid"
    sock=unix:$tmp/daemon.sock
    mt daemon headers.lua
else
    fail "daemon: exit $code, pid '$dpid'; stderr: $(cat "$tmp/daemon.log")"
fi

# every milter still serves; then all stop together
sock=${milter_sock[main]}
mt main-again headers.lua
[ -n "${milter_pid[daemon]:-}" ] && kill -TERM "$dpid"
stop_milter main reject tempfail quarantine
if [ -n "${milter_pid[daemon]:-}" ]; then
    for _ in $(seq 1 150); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$dpid" 2>/dev/null; then
        fail "daemon: still running 15 s after SIGTERM"
    else
        unset "milter_pid[daemon]"
        ok "daemon: stopped on SIGTERM"
        [ -e "$tmp/daemon.pid" ] && fail "daemon: pid file left" || ok "daemon: pid file removed"
    fi
fi
[ -e "$tmp/main.pid" ] && fail "main: the pid file is left after a clean stop" ||
    ok "main: the pid file is removed at a clean stop"

# ---- start-up errors are told on stderr, with the usage exit code ---------------------
"$milter" -f 2>"$tmp/nosock.err"
code=$?
[ "$code" -eq 2 ] && grep -q "no socket" "$tmp/nosock.err" && ok "no -p: exit 2" ||
    fail "no -p: exit $code: $(cat "$tmp/nosock.err")"
"$milter" -f -p inet:1@127.0.0.1 --on-decline bounce 2>"$tmp/badopt.err"
code=$?
[ "$code" -eq 2 ] && grep -q "on-decline" "$tmp/badopt.err" && ok "bad --on-decline: exit 2" ||
    fail "bad --on-decline: exit $code: $(cat "$tmp/badopt.err")"
printf 'rule BROKEN {\n' >"$tmp/broken.rules"
"$milter" -f -p "unix:$tmp/x.sock" --rules "$tmp/broken.rules" 2>"$tmp/badrules.err"
code=$?
[ "$code" -eq 4 ] && grep -q "broken.rules:" "$tmp/badrules.err" && ok "bad rules: exit 4, named" ||
    fail "bad rules: exit $code: $(cat "$tmp/badrules.err")"

finish
