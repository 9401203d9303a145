#!/usr/bin/env bash
# test_mail_parity.sh DOORMAN SOURCE_DIR: mail mode and batch mode give the
# same verdict for the same request.  examples/export is triaged in batch;
# then LinkedIn notification mails for six of its senders
# (tests/data/mail-filter/parity: a pitch, a pitch whose sender pitched
# before, a no-note stranger, a no-note contact and a note whose verdicts
# come from the history, a note naming a past employer of "me") go through
# `doorman mail` with the user's profile given as --profile (the folder,
# the zip), as the config file's `profile =` and as inline config lines.
# The export has no headlines: the mails carry ones no rule reads as a pitch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail-lib.sh"
command -v zip >/dev/null || { echo "FAIL: zip is not installed"; exit 1; }
export XDG_CONFIG_HOME=$tmp/xdg-empty
export_dir=$src/examples/export
parity=$mails/parity

run batch triage "$export_dir" --format jsonl
expect_code batch 0

# batch_line NAME: "verdict score" of the batch record from NAME
batch_line() {
    grep -F "\"from\":{\"name\":\"$1\"" "$tmp/batch.out" |
        sed -n 's/.*"verdict":"\([a-z]*\)","score":\([-0-9.]*\),.*/\1 \2/p'
}

declare -A sender=(
    [brandon-kessler]="Brandon Kessler" [aisha-mensah]="Aisha Mensah"
    [kyle-brandt]="Kyle Brandt" [priya-raman]="Priya Raman"
    [teresa-okafor]="Teresa Okafor" [jose-ramirez-ortega]="José Ramírez Ortega"
)

# compare LABEL ARGS...: each parity mail through `doorman mail --check ARGS`
# and through the passthrough filter gives the batch verdict and score
compare() {
    local label=$1 f base want got
    shift
    for f in "$parity"/*.eml; do
        base=$(basename "$f" .eml)
        want=$(batch_line "${sender[$base]}")
        [ -n "$want" ] || { fail "$label: no batch record from ${sender[$base]}"; continue; }
        mrun "$label-$base-check" "$f" --check "$@"
        got=$(cat "$tmp/$label-$base-check.out")
        [ "$got" = "$want" ] && ok "$label: ${sender[$base]}: '$got' as in batch" ||
            { fail "$label: ${sender[$base]}: mail says '$got', batch '$want'"; cat "$tmp/$label-$base-check.err"; }
        mrun "$label-$base" "$f" "$@"
        got="$(header_of "$tmp/$label-$base.out" X-Doorman-Verdict) $(header_of "$tmp/$label-$base.out" X-Doorman-Score)"
        [ "$got" = "$want" ] || fail "$label: ${sender[$base]}: the headers say '$got', batch '$want'"
    done
}

# the verdicts differ among themselves: the comparison means something
[ "$(for n in "${sender[@]}"; do batch_line "$n" | cut -d' ' -f1; done | sort -u | wc -l)" = 3 ] ||
    fail "batch: the six senders do not cover accept, review and decline"

compare folder --profile "$export_dir"

cp -r "$export_dir" "$tmp/export"
(cd "$tmp/export" && zip -q -X ../export.zip ./*.csv) || fail "zip"
compare zip --profile "$tmp/export.zip"

# the config file: `profile =` relative to the config's folder, read from
# --config and from the default place ($XDG_CONFIG_HOME/doorman/config)
mkdir -p "$tmp/xdg/doorman"
printf '# the user of examples/\nprofile = ../../export\n' >"$tmp/xdg/doorman/config"
compare config --config "$tmp/xdg/doorman/config"
config_home=$tmp/xdg compare xdg

# without the profile, me and the history are missing: the verdicts that
# hang on them change (so the runs above did use it)
for base in jose-ramirez-ortega priya-raman; do
    mrun "none-$base" "$parity/$base.eml" --check
    want=$(batch_line "${sender[$base]}")
    [ -s "$tmp/none-$base.out" ] && [ "$(cat "$tmp/none-$base.out")" != "$want" ] &&
        ok "none: ${sender[$base]}: '$(cat "$tmp/none-$base.out")' without the profile, '$want' with it" ||
        fail "none: ${sender[$base]}: the same '$want' without the profile"
done

# me inline, without an export: what hangs on me alone (José names a past
# employer; he has no history) is as in batch
cat >"$tmp/inline.config" <<'EOF'
name = Gideon Marsh
headline = Frontline Leadership Consultant | Developing Supervisors Who Lead Change That Lasts
industry = Business Consulting and Services
company = Ironwood Leadership Partners
past-company = Ridgeline Staffing Solutions
past-company = Keystone Valve & Fitting Co.
EOF
mrun inline "$parity/jose-ramirez-ortega.eml" --check --config "$tmp/inline.config"
want=$(batch_line "José Ramírez Ortega")
[ "$(cat "$tmp/inline.out")" = "$want" ] && ok "inline: José Ramírez Ortega: '$want' as in batch" ||
    fail "inline: José Ramírez Ortega: mail says '$(cat "$tmp/inline.out")', batch '$want'"
# me alone from the export's two profile files (cheaper than the whole
# export for a large messages.csv): José as in batch
mrun me-files "$parity/jose-ramirez-ortega.eml" --check --profile "$export_dir/Profile.csv" \
    --profile "$export_dir/Positions.csv"
[ "$(cat "$tmp/me-files.out")" = "$want" ] && ok "me-files: José Ramírez Ortega: '$want' as in batch" ||
    fail "me-files: José Ramírez Ortega: mail says '$(cat "$tmp/me-files.out")', batch '$want'"
# --profile replaces the config's profile lines; the inline lines stay
mrun inline-profile "$parity/priya-raman.eml" --check --config "$tmp/inline.config" --profile "$export_dir"
want=$(batch_line "Priya Raman")
[ "$(cat "$tmp/inline-profile.out")" = "$want" ] && ok "inline-profile: Priya Raman: '$want' as in batch" ||
    fail "inline-profile: Priya Raman: mail says '$(cat "$tmp/inline-profile.out")', batch '$want'"

finish
