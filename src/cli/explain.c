/*
 * explain.c: `doorman explain`: why a text or a record gets its verdict:
 * every rule that fired, what it matched in the original text, the scores,
 * the total and how far it is from each threshold.
 */
#include "cli.h"
#include "output/output.h" /* dm_out_score(): scores as triage writes them */

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void explain_usage(FILE *fp)
{
    fputs("usage: doorman explain [OPTIONS] [--field FIELD] [--kind KIND] TEXT\n"
          "       doorman explain [OPTIONS] SOURCE... --id ID\n"
          "\n"
          "Show every rule that fires on a text (as the given field of a record of the given\n"
          "kind: the message of an invitation by default) or on the record with id ID from\n"
          "the sources, the text each matched, the scores, the total, the verdict and the\n"
          "distance to each threshold.\n"
          "\n"
          "options:\n"
          "      --field FIELD      the field TEXT is put in (default: message)\n"
          "      --kind KIND        the kind of record TEXT is: invitation (default),\n"
          "                         message or email\n"
          "      --text TEXT        the text (instead of the TEXT argument)\n"
          "      --id ID            the record to explain (with SOURCE)\n"
          "  -f, --format FORMAT    text (default) or json\n"
          "      --rules PATH       rules to layer on the defaults (repeatable)\n"
          "      --no-default-rules use only the --rules given\n"
          "      --messages         also read messages as records (to explain one)\n"
          "      --color WHEN       auto, always or never (NO_COLOR turns it off)\n"
          "  -h, --help             show this help\n",
          fp);
}

/* utf8_back()/utf8_fwd() keep a cut on a character boundary. */
static size_t utf8_back(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

static size_t utf8_fwd(const char *s, size_t len, size_t i)
{
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

/* print_clean() writes text with control characters shown as spaces. */
static void print_clean(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? ' ' : c, stdout);
    }
}

/* show_match() prints the match in its context: ...before [[match]] after... */
static void show_match(const dm_record *rec, const dm_hit *h, int color)
{
    const char *s = dm_record_get(rec, (dm_field)h->field);
    size_t len = dm_record_len(rec, (dm_field)h->field);
    if (!s || h->end > len || h->start > h->end)
        return;
    size_t from = h->start > 40 ? utf8_back(s, h->start - 40) : 0;
    size_t to = utf8_fwd(s, len, h->end + 40 < len ? h->end + 40 : len);
    printf("        %s: \"%s", dm_field_name((dm_field)h->field), from ? "..." : "");
    print_clean(s + from, h->start - from);
    fputs(color ? "\033[1;4m" : "[[", stdout);
    print_clean(s + h->start, h->end - h->start);
    fputs(color ? "\033[0m" : "]]", stdout);
    print_clean(s + h->end, to - h->end);
    printf("%s\"\n", to < len ? "..." : "");
}

static void print_text(const dm_ruleset *rs, const dm_record *rec, const dm_result *res,
                       int color)
{
    const char *id = dm_record_get(rec, DM_FIELD_ID);
    const char *src = dm_record_get(rec, DM_FIELD_SOURCE);
    const char *name = dm_record_get(rec, DM_FIELD_FROM_NAME);
    if (id)
        printf("record: %s%s%s%s\n", id, src ? "  (" : "", src ? src : "", src ? ")" : "");
    if (name)
        printf("from:   %s\n", name);
    if (res->nhits == 0)
        printf("no rule fired\n");
    for (size_t i = 0; i < res->nhits; i++) {
        const dm_hit *h = &res->hits[i];
        printf("  %+6g  %-28s %s\n", h->score, h->name, h->describe ? h->describe : "");
        if (h->field >= 0)
            show_match(rec, h, color);
    }
    for (size_t i = 0; i < res->nlimited; i++)
        printf("  warning: rule %s hit the PCRE2 match limit on this record and counts as "
               "not matched\n",
               res->limited[i]);
    double dec = dm_ruleset_decline_at(rs), acc = dm_ruleset_accept_at(rs);
    printf("score:  %g\nverdict: %s", res->score, dm_verdict_name(res->verdict));
    if (res->verdict == DM_VERDICT_DECLINE)
        printf(" (%g at or over decline_at %g)\n", res->score - dec, dec);
    else if (res->verdict == DM_VERDICT_ACCEPT)
        printf(" (%g at or under accept_at %g)\n", acc - res->score, acc);
    else
        printf(" (%g below decline_at %g, %g above accept_at %g)\n", dec - res->score, dec,
               res->score - acc, acc);
}

/*
 * score_json() is a score as triage's JSON writes it (dm_out_score(): at
 * most 2 decimals, none when whole): 5, not 5.0.  The value is read back
 * from that text, and the dump keeps 15 digits, so 0.3 stays 0.3.
 */
static json_t *score_json(double v)
{
    char t[DM_OUT_SCORE_MAX];
    dm_out_score(v, t);
    if (!strchr(t, '.'))
        return json_integer((json_int_t)strtoll(t, NULL, 10));
    return json_real(strtod(t, NULL));
}

static json_t *explain_json(const dm_ruleset *rs, const dm_record *rec, const dm_result *res)
{
    json_t *o = json_object();
    json_t *rules = json_array();
    json_t *lim = json_array();
    const char *id = dm_record_get(rec, DM_FIELD_ID);
    const char *src = dm_record_get(rec, DM_FIELD_SOURCE);
    if (id)
        json_object_set_new(o, "id", json_string(id));
    if (src)
        json_object_set_new(o, "source", json_string(src));
    json_object_set_new(o, "score", score_json(res->score));
    json_object_set_new(o, "verdict", json_string(dm_verdict_name(res->verdict)));
    json_object_set_new(o, "decline_at", score_json(dm_ruleset_decline_at(rs)));
    json_object_set_new(o, "accept_at", score_json(dm_ruleset_accept_at(rs)));
    json_object_set_new(o, "to_decline", score_json(dm_ruleset_decline_at(rs) - res->score));
    json_object_set_new(o, "to_accept", score_json(res->score - dm_ruleset_accept_at(rs)));
    for (size_t i = 0; i < res->nhits; i++) {
        const dm_hit *h = &res->hits[i];
        json_t *r = json_object();
        json_object_set_new(r, "name", json_string(h->name));
        json_object_set_new(r, "score", score_json(h->score));
        if (h->describe)
            json_object_set_new(r, "describe", json_string(h->describe));
        if (h->field >= 0) {
            const char *s = dm_record_get(rec, (dm_field)h->field);
            json_object_set_new(r, "field", json_string(dm_field_name((dm_field)h->field)));
            json_object_set_new(r, "start", json_integer((json_int_t)h->start));
            json_object_set_new(r, "end", json_integer((json_int_t)h->end));
            if (s && h->end <= dm_record_len(rec, (dm_field)h->field)) {
                json_t *m = json_stringn(s + h->start, h->end - h->start);
                json_object_set_new(r, "match", m ? m : json_null());
            }
        }
        json_array_append_new(rules, r);
    }
    for (size_t i = 0; i < res->nlimited; i++)
        json_array_append_new(lim, json_string(res->limited[i]));
    json_object_set_new(o, "rules", rules);
    json_object_set_new(o, "limited", lim);
    return o;
}

static int explain_one(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx, int json,
                       int color)
{
    dm_result res;
    dm_result_init(&res);
    dm_error err;
    memset(&err, 0, sizeof err);
    if (dm_ruleset_explain(rs, rec, ctx, &res, &err) != DM_OK) {
        cli_error(&err, "error");
        dm_result_free(&res);
        return EXIT_INTERNAL;
    }
    if (json) {
        json_t *o = explain_json(rs, rec, &res);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        print_text(rs, rec, &res, color);
    }
    dm_result_free(&res);
    return EXIT_RAN;
}

int cmd_explain(int argc, char **argv)
{
    enum { OPT_FIELD = 256, OPT_KIND, OPT_ID, OPT_RULES, OPT_NODEF, OPT_TEXT, OPT_MESSAGES,
           OPT_COLOR };
    static const struct option longopts[] = {
        {"field", required_argument, NULL, OPT_FIELD},
        {"kind", required_argument, NULL, OPT_KIND},
        {"id", required_argument, NULL, OPT_ID},
        {"text", required_argument, NULL, OPT_TEXT},
        {"format", required_argument, NULL, 'f'},
        {"rules", required_argument, NULL, OPT_RULES},
        {"no-default-rules", no_argument, NULL, OPT_NODEF},
        {"messages", no_argument, NULL, OPT_MESSAGES},
        {"color", required_argument, NULL, OPT_COLOR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int field = DM_FIELD_MESSAGE, kind = -1, json = 0, defaults = 1, messages = 0, color = -1;
    int field_given = 0;
    const char *id = NULL, *text = NULL;
    const char **rules = calloc((size_t)argc + 1, sizeof *rules);
    size_t nrules = 0;
    int c, rc = EXIT_RAN;
    if (!rules)
        return EXIT_INTERNAL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FIELD:
            field = dm_field_lookup(optarg);
            field_given = 1;
            if (field < 0) {
                cli_msg("unknown field '%s'", optarg);
                rc = EXIT_USAGE;
            }
            break;
        case OPT_KIND:
            kind = dm_kind_lookup(optarg);
            if (kind < 0) {
                cli_msg("unknown kind '%s' (kinds: invitation, message, email)", optarg);
                rc = EXIT_USAGE;
            }
            break;
        case OPT_ID: id = optarg; break;
        case OPT_TEXT: text = optarg; break;
        case OPT_RULES: rules[nrules++] = optarg; break;
        case OPT_NODEF: defaults = 0; break;
        case OPT_MESSAGES: messages = 1; break;
        case OPT_COLOR:
            color = strcmp(optarg, "always") == 0 ? 1 : strcmp(optarg, "never") == 0 ? 0 : -1;
            if (color < 0 && strcmp(optarg, "auto") != 0) {
                cli_msg("--color takes auto, always or never");
                rc = EXIT_USAGE;
            }
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "text") != 0) {
                cli_msg("explain's formats are text and json");
                rc = EXIT_USAGE;
            }
            break;
        case 'h':
            explain_usage(stdout);
            free(rules);
            return EXIT_RAN;
        case ':':
        default:
            cli_bad_option(c, argv[optind - 1], "doorman explain");
            rc = EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    if (rc == EXIT_RAN && !id && !text) {
        if (nargs == 1)
            text = argv[optind], nargs = 0;
        else {
            cli_msg("explain needs a TEXT, or SOURCE... and --id ID; see 'doorman explain "
                    "--help'");
            rc = EXIT_USAGE;
        }
    }
    if (rc == EXIT_RAN && id && nargs == 0) {
        cli_msg("--id needs at least one SOURCE to look in");
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_RAN && text && nargs > 0) {
        cli_msg("give a TEXT or SOURCE... --id ID, not both");
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_RAN && id && kind >= 0) {
        cli_msg("--kind goes with a TEXT: the record with --id has its own kind");
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_RAN && id && field_given) {
        cli_msg("--field goes with a TEXT: the record with --id has its own fields");
        rc = EXIT_USAGE;
    }
    if (color < 0)
        color = isatty(STDOUT_FILENO);
    if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
        color = 0;
    dm_ruleset *rs = NULL;
    dm_context *ctx = NULL;
    dm_record *rec = NULL;
    if (rc == EXIT_RAN)
        rc = cli_load_rules(rules, nrules, defaults, 0, &rs);
    if (rc == EXIT_RAN && (dm_context_create(&ctx) != DM_OK || dm_record_create(&rec) != DM_OK))
        rc = EXIT_INTERNAL;
    if (rc == EXIT_RAN && text) {
        dm_record_set_kind(rec, kind >= 0 ? (dm_kind)kind : DM_KIND_INVITATION);
        dm_record_set(rec, (dm_field)field, text, strlen(text));
        rc = explain_one(rs, rec, ctx, json, color);
    } else if (rc == EXIT_RAN) {
        rc = cli_find_record(argv + optind, nargs, messages, ctx, rec, id);
        if (rc == EXIT_RAN)
            rc = explain_one(rs, rec, ctx, json, color);
    }
    dm_record_free(rec);
    dm_context_free(ctx);
    dm_ruleset_free(rs);
    free(rules);
    return rc;
}
