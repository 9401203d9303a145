/*
 * builtin.c: the minimal internal ruleset that exercises the pipeline
 * until the rule language lands (issue 3 replaces it with rules/ files).
 *
 * A rule here is a PCRE2 pattern over the record's message (and subject)
 * or a fact about the record and its context.  Patterns are compiled once
 * with JIT; one match-data block serves every match; each match runs under
 * a match limit and a depth limit.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core.h"

#include <pcre2.h>
#include <string.h>

typedef enum test_kind {
    T_REGEX,      /* pattern matches message or subject */
    T_NO_NOTE,    /* an invitation without a note */
    T_SPINMAIL,   /* sponsored InMail marker */
    T_HISTORY,    /* we have talked before (joined on the URL) */
    T_CONNECTED,  /* already a connection */
    T_MY_COMPANY, /* the note names one of me's companies */
} test_kind;

typedef struct rule_def {
    const char *name;
    test_kind kind;
    double score;
    const char *describe;
    const char *pattern;
} rule_def;

/* Scores: >= 5 declines, <= -2 accepts (the defaults of the rule language). */
static const rule_def defs[] = {
    {"PITCH_LEAD_GEN", T_REGEX, 3, "Offers lead generation",
     "\\blead[- ]?gen(eration)?\\b|\\bqualified leads\\b"},
    {"PITCH_APPOINTMENTS", T_REGEX, 3, "Offers appointment setting",
     "\\bappointment[- ]setting\\b|\\bbook(ed)? (more )?(meetings|appointments)\\b"},
    {"PITCH_B2B", T_REGEX, 3, "Promises B2B sales opportunities",
     "\\bB2B (sales )?(opportunit(y|ies)|leads|pipeline)\\b"},
    {"PITCH_WEB_SERVICES", T_REGEX, 2.5, "Sells SEO, web design or app development",
     "\\b(SEO|search engine optimi[sz]ation|web ?design|website (re)?design|app "
     "development|mobile apps?|first page of google)\\b"},
    {"PITCH_OUTSOURCING", T_REGEX, 2.5, "Sells outsourcing or virtual assistants",
     "\\b(outsourc\\w*|virtual assistants?|offshore (team|staff)|dedicated developers)\\b"},
    {"PITCH_GROWTH", T_REGEX, 3, "Promises to grow or scale your business",
     "\\b(grow(ing)? your (business|practice|revenue|company)|scale your "
     "(revenue|business|company)|business coaching|(\\d+|more|new) (new )?clients (a|per|every) "
     "(month|week))\\b"},
    {"PITCH_QUICK_CALL", T_REGEX, 2, "Asks for a quick call",
     "\\b(quick|short|brief|15|20|30)[- ]?(min(ute)?s?[- ])?(call|chat|zoom)\\b"},
    {"PITCH_CALENDAR_LINK", T_REGEX, 2.5, "Carries a booking link",
     "calendly\\.com|\\bcal\\.com/|hubspot\\.com/meetings|\\bbook a (call|time|slot|meeting)\\b"},
    {"PITCH_I_HELP", T_REGEX, 2.5, "\"I help X do Y\" pitch",
     "\\bI help (\\w+[ ,]+){1,5}(to )?(get|grow|scale|increase|generate|achieve|land|win|"
     "double|triple)\\b"},
    {"TEMPLATE_REVIEWED_PROFILE", T_REGEX, 3, "Bot template: says it reviewed your profile",
     "\\b(reviewed|came across|stumbled (up)?on|went through|looked at) your "
     "(impressive |amazing |linkedin )?profile\\b"},
    {"TEMPLATE_ADD_NETWORK", T_REGEX, 2, "Bot template: wants to add you to a network",
     "\\b(add you to|expand(ing)?|grow(ing)?) my (professional )?network\\b"},
    {"TEMPLATE_EMPTY_FLATTERY", T_REGEX, 1.5, "Flattery with nothing specific",
     "\\b(pretty|very|really|quite) interesting\\b|\\bimpressive "
     "(background|profile|experience|journey)\\b"},
    {"TEMPLATE_PLACEHOLDER", T_REGEX, 5, "Unfilled template placeholder",
     "\\{\\{?\\s*[A-Za-z_]+\\s*\\}?\\}|%[A-Z_]{3,}%|\\[(first ?)?name\\]|"
     "^\\s*(hi|hello|dear|hey)\\s*[,!]"},
    {"WRONG_INDUSTRY_PRAISE", T_REGEX, 3, "Praises a business of a kind you may not run",
     "\\byour (amazing|awesome|great|wonderful|incredible) "
     "(dental|medical|chiropractic|law|veterinary|real estate|insurance) "
     "(practice|clinic|office|agency|firm)\\b"},
    {"SCAM_INVESTMENT", T_REGEX, 4, "Crypto or forex investment offer",
     "\\b(crypto(currency)?|bitcoin|forex|trading signals|passive income|guaranteed "
     "(returns?|profits?)|investment opportunit(y|ies))\\b"},
    {"SCAM_WORK_FROM_HOME", T_REGEX, 4, "Work-from-home income offer",
     "\\b(work(ing)? from home|earn \\$?\\d[\\d,]*k?\\s*(per|a|/) ?(day|week))\\b"},
    {"SPONSORED_INMAIL", T_SPINMAIL, 5, "Sponsored InMail", NULL},
    {"NO_NOTE", T_NO_NOTE, 0.5, "Invitation without a note", NULL},
    {"EXPLAINS_WHY", T_REGEX, -2.5, "The note explains how you know each other",
     "\\b(we (met|worked|spoke|talked|chatted|overlapped)|worked (together|with you)|your "
     "(talk|article|book|workshop|session|presentation|keynote|newsletter|podcast|course)|your "
     "[\\w '\"]{1,40}(workshop|session|talk|keynote|course|article)|former (colleague|coworker|co-worker|manager|student)|used to "
     "work|(at|from) the [\\w ]{0,40}(conference|summit|meetup|workshop|panel|forum|webinar))\\b"},
    {"NAMES_MY_COMPANY", T_MY_COMPANY, -3, "The note names a company you worked at", NULL},
    {"KNOWN_CONTACT", T_HISTORY, -3, "You have exchanged messages before", NULL},
    {"ALREADY_CONNECTED", T_CONNECTED, -4, "Already one of your connections", NULL},
};

#define NDEFS (sizeof defs / sizeof defs[0])

struct dm_ruleset {
    pcre2_code *code[NDEFS];
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    double accept_at, decline_at;
};

DM_API void dm_ruleset_free(dm_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < NDEFS; i++)
        pcre2_code_free(rs->code[i]);
    pcre2_match_data_free(rs->md);
    pcre2_match_context_free(rs->mctx);
    dm_free(rs);
}

DM_API dm_status dm_ruleset_create_builtin(dm_ruleset **out, dm_error *err)
{
    dm_ruleset *rs = dm_calloc(1, sizeof *rs);
    if (!rs)
        return DM_ENOMEM;
    rs->accept_at = -2;
    rs->decline_at = 5;
    dm_status st = DM_OK;
    for (size_t i = 0; i < NDEFS && st == DM_OK; i++) {
        if (defs[i].kind != T_REGEX)
            continue;
        int ec;
        PCRE2_SIZE off;
        rs->code[i] = pcre2_compile((PCRE2_SPTR)defs[i].pattern, PCRE2_ZERO_TERMINATED,
                                    PCRE2_CASELESS | PCRE2_UTF |
                                        PCRE2_MATCH_INVALID_UTF,
                                    &ec, &off, NULL);
        if (!rs->code[i]) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(ec, msg, sizeof msg);
            st = dm_error_set(err, DM_EREGEX, "<builtin>", 0, (int)off + 1, "%s: %s",
                              defs[i].name, (const char *)msg);
            break;
        }
        pcre2_jit_compile(rs->code[i], PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    }
    if (st == DM_OK) {
        rs->md = pcre2_match_data_create(4, NULL);
        rs->mctx = pcre2_match_context_create(NULL);
        if (!rs->md || !rs->mctx)
            st = DM_ENOMEM;
        else {
            pcre2_set_match_limit(rs->mctx, 100000);
            pcre2_set_depth_limit(rs->mctx, 1000);
        }
    }
    if (st != DM_OK) {
        dm_ruleset_free(rs);
        return st;
    }
    *out = rs;
    return DM_OK;
}

DM_API double dm_ruleset_decline_at(const dm_ruleset *rs) { return rs->decline_at; }
DM_API double dm_ruleset_accept_at(const dm_ruleset *rs) { return rs->accept_at; }
DM_API size_t dm_ruleset_count(const dm_ruleset *rs)
{
    (void)rs;
    return NDEFS;
}

static int regex_hit(dm_ruleset *rs, size_t i, const char *s, size_t len)
{
    if (!s)
        return 0;
    int rc = pcre2_match(rs->code[i], (PCRE2_SPTR)s, len, 0, 0, rs->md, rs->mctx);
    return rc >= 0; /* a limit hit counts as no match */
}

/*
 * company_len() is the length of a company's name without a legal suffix
 * ("Keystone Valve & Fitting Co." is named "Keystone Valve & Fitting").
 */
static size_t company_len(const char *name)
{
    static const char *const suffixes[] = {" co.", " co", " inc.", " inc", " llc", " ltd.",
                                           " ltd", " gmbh", " corp.", " corp", " corporation",
                                           " company", " plc"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n > sl + 3 && dm_ascii_casecmp(name + n - sl, suffixes[i]) == 0) {
            n -= sl;
            while (n && (name[n - 1] == ',' || name[n - 1] == ' '))
                n--;
            break;
        }
    }
    return n;
}

/* ASCII case-insensitive search for `word` in `s` on word boundaries. */
static int names_word(const char *s, const char *word)
{
    size_t wl = company_len(word);
    if (!s || wl < 3)
        return 0;
    for (const char *p = s; *p; p++) {
        if (dm_ascii_ncasecmp(p, word, wl) != 0)
            continue;
        int before = p == s || !((p[-1] >= 'A' && p[-1] <= 'Z') || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                 (p[-1] >= '0' && p[-1] <= '9'));
        char a = p[wl];
        int after = !((a >= 'A' && a <= 'Z') || (a >= 'a' && a <= 'z') || (a >= '0' && a <= '9'));
        if (before && after)
            return 1;
    }
    return 0;
}

static int test(dm_ruleset *rs, size_t i, const dm_record *rec, const dm_context *ctx)
{
    const char *msg = dm_record_get(rec, DM_FIELD_MESSAGE);
    switch (defs[i].kind) {
    case T_REGEX:
        return regex_hit(rs, i, msg, dm_record_len(rec, DM_FIELD_MESSAGE)) ||
               regex_hit(rs, i, dm_record_get(rec, DM_FIELD_SUBJECT),
                         dm_record_len(rec, DM_FIELD_SUBJECT));
    case T_NO_NOTE:
        return dm_record_kind(rec) == DM_KIND_INVITATION && (!msg || !*msg);
    case T_SPINMAIL:
        return (dm_record_facts(rec) & DM_FACT_SPINMAIL) != 0;
    case T_HISTORY: {
        const dm_history *h = dm_record_history(rec);
        return h && !dm_history_weak(h) && dm_history_messages(h) > 0 &&
               dm_history_messages(h) > dm_history_incoming(h); /* I wrote back */
    }
    case T_CONNECTED:
        return (dm_record_facts(rec) & DM_FACT_CONNECTED) != 0;
    case T_MY_COMPANY:
        for (size_t k = 0; ctx && k < dm_me_company_count(ctx); k++)
            if (names_word(msg, dm_me_company(ctx, k, NULL)))
                return 1;
        return 0;
    }
    return 0;
}

static dm_status add_hit(dm_result *res, const rule_def *d)
{
    if (res->nhits == res->cap) {
        size_t nc = res->cap ? res->cap * 2 : 8;
        dm_hit *p = dm_realloc(res->hits, nc * sizeof *p);
        if (!p)
            return DM_ENOMEM;
        res->hits = p;
        res->cap = nc;
    }
    res->hits[res->nhits++] = (dm_hit){d->name, d->score, d->describe, -1, 0, 0};
    res->score += d->score;
    return DM_OK;
}

DM_API dm_status dm_ruleset_eval(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx,
                                 dm_result *res, dm_error *err)
{
    res->nhits = 0;
    res->score = 0;
    for (size_t i = 0; i < NDEFS; i++) {
        if (test(rs, i, rec, ctx) && add_hit(res, &defs[i]) != DM_OK)
            return dm_error_set(err, DM_ENOMEM, NULL, 0, 0, "out of memory");
    }
    res->verdict = dm_verdict_for(res->score, rs->accept_at, rs->decline_at);
    return DM_OK;
}
