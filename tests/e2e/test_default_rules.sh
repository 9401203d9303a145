# test_default_rules.sh: the shipped ruleset, through the CLI as a user runs it:
# `doorman rules lint rules/` reports no error and no warning, `doorman rules test
# rules/` passes every in-rule example, and each default rule has both kinds.
source "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$tmp/config # no user rules
unset DOORMAN_RULES_DIR

run lint rules lint "$src/rules/"
expect_code lint 0
grep -q "no errors" "$tmp/lint.out" || fail "lint: no summary: $(cat "$tmp/lint.out")"
if grep -q "warning:" "$tmp/lint.err"; then
    fail "lint warns about the shipped rules: $(head -5 "$tmp/lint.err")"
else
    ok "lint: $(cat "$tmp/lint.out")"
fi

# one file of the shipped folder: read once, with its folder, not reported as duplicates
run lint_one rules lint "$src/rules/pitches.rules"
expect_code lint_one 0
if grep -q "duplicate" "$tmp/lint_one.err"; then
    fail "lint_one: duplicates reported: $(head -3 "$tmp/lint_one.err")"
else
    ok "lint_one: no duplicates"
fi
cmp -s "$tmp/lint.out" "$tmp/lint_one.out" && ok "lint_one: the same summary as the folder" ||
    fail "lint_one: $(cat "$tmp/lint_one.out"), the folder: $(cat "$tmp/lint.out")"

run test rules test "$src/rules/"
expect_code test 0
read -r passed _ failed _ <"$tmp/test.out"
nrules=$(grep -c '^rule ' "$src"/rules/*.rules | awk -F: '{s += $2} END {print s}')
if [ "${failed:-x}" != 0 ] || [ "${passed:-0}" -lt $((2 * nrules)) ]; then
    fail "rules test: $(cat "$tmp/test.out") for $nrules rules"
else
    ok "rules test: $passed passed, $failed failed, $nrules rules"
fi

# every rule block carries at least one `test hit` and one `test miss`
awk '
    /^rule / { name = $2; hit[name] = 0; miss[name] = 0; order[++n] = name }
    /^[ \t]+test hit/ { hit[name]++ }
    /^[ \t]+test miss/ { miss[name]++ }
    END { for (i = 1; i <= n; i++) if (!hit[order[i]] || !miss[order[i]]) print order[i] }
' "$src"/rules/*.rules >"$tmp/untested"
if [ -s "$tmp/untested" ]; then
    fail "rules without both a hit and a miss test: $(tr '\n' ' ' <"$tmp/untested")"
else
    ok "every one of the $nrules rules has a test hit and a test miss"
fi
finish
