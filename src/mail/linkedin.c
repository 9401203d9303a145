/*
 * linkedin.c: LinkedIn's notification mails (docs/records.md, "Mail").
 *
 * An invitation mail comes from invitations@linkedin.com with the sender's
 * name as display name; its text part reads, in one era's words or
 * another's:
 *
 *   Hi Paul,                                  greeting      } the note: the
 *   I'd like to join your LinkedIn network.   stock text    } stock sentence
 *                                                           } means "no note"
 *   Aisha Mensah                              the card: name,
 *   Lead Generation Specialist | B2B          headline,
 *   Accra, Ghana                              location,
 *   12 mutual connections                     mutual connections
 *
 *   Accept: https://www.linkedin.com/comm/people/invite-accept?...
 *   View Aisha Mensah's profile: https://www.linkedin.com/comm/in/aisha-mensah?...
 *   ... footer ...
 *
 * Older mails wrap it in "NAME requested to add you as a connection on
 * LinkedIn:" and rules of dashes and sign the stock note "- Aisha"; newer
 * ones put "NAME wants to connect" on top, and reminders add "NAME's
 * invitation is waiting for your response".  Message notifications
 * (messages-noreply@linkedin.com) show the same card, then the message,
 * then "Reply"/"View message" links.
 *
 * So the text is read as lines up to the first action line (Accept, View,
 * Reply): the card is found by the sender's name, the lines around it that
 * are LinkedIn's own words (banners, rules, template sentences) are
 * dropped, and what is left is the note.  A personal note is kept as
 * written, greeting included, as the export keeps it; an invitation with
 * only the stock sentence has no note (the field is missing, as for an
 * export row with an empty Message).
 */
#include "mailint.h"
#include "record.h"

#include <string.h>

#define MAX_LINES 4096 /* a notification is short: later lines are footers */
#define MAX_CARD 6     /* lines of a card after the name */

typedef struct line {
    const char *s;
    size_t n;
} line;

/* ---- comparing text ------------------------------------------------------ */

/*
 * fold() reads one character of s[i..n) for comparison: ASCII lower-cased,
 * U+2019 and U+2018 as an apostrophe; sets *adv to the bytes it took.
 */
static int fold(const char *s, size_t n, size_t i, size_t *adv)
{
    unsigned char c = (unsigned char)s[i];
    if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0x99 || (unsigned char)s[i + 2] == 0x98)) {
        *adv = 3;
        return '\'';
    }
    *adv = 1;
    return (unsigned char)dm_ascii_lower((char)c);
}

/* match_at() is 1 when `lit` (lower-case ASCII) occurs at s[i..n); *end is past it. */
static int match_at(const char *s, size_t n, size_t i, const char *lit, size_t *end)
{
    for (; *lit; lit++) {
        size_t adv;
        if (i >= n || fold(s, n, i, &adv) != (unsigned char)*lit)
            return 0;
        i += adv;
    }
    if (end)
        *end = i;
    return 1;
}

static int starts(line l, const char *lit)
{
    return match_at(l.s, l.n, 0, lit, NULL);
}

static int equals(line l, const char *lit)
{
    size_t end;
    return match_at(l.s, l.n, 0, lit, &end) && end == l.n;
}

/* find() is the offset of `lit` in the line, or -1. */
static long find(line l, const char *lit)
{
    for (size_t i = 0; i < l.n; i++)
        if (match_at(l.s, l.n, i, lit, NULL))
            return (long)i;
    return -1;
}

static int contains(line l, const char *lit)
{
    return find(l, lit) >= 0;
}

static int ends(line l, const char *lit)
{
    for (size_t i = 0; i < l.n; i++) {
        size_t end;
        if (match_at(l.s, l.n, i, lit, &end) && end == l.n)
            return 1;
    }
    return 0;
}

/* same() compares two texts case-insensitively (ASCII), apostrophes folded. */
static int same(line a, line b)
{
    size_t i = 0, j = 0;
    while (i < a.n && j < b.n) {
        size_t x, y;
        if (fold(a.s, a.n, i, &x) != fold(b.s, b.n, j, &y))
            return 0;
        i += x, j += y;
    }
    return i == a.n && j == b.n;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static line trim(const char *s, size_t n)
{
    while (n && is_space(*s))
        s++, n--;
    /* a no-break space (U+00A0) pads LinkedIn's plain text too */
    for (;;) {
        while (n && is_space(s[n - 1]))
            n--;
        if (n >= 2 && (unsigned char)s[n - 2] == 0xC2 && (unsigned char)s[n - 1] == 0xA0)
            n -= 2;
        else
            break;
    }
    while (n >= 2 && (unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0) {
        s += 2, n -= 2;
        while (n && is_space(*s))
            s++, n--;
    }
    return (line){s, n};
}

static line cstr(const char *s)
{
    return trim(s, strlen(s));
}

static size_t words(line l)
{
    size_t w = 0;
    int in = 0;
    for (size_t i = 0; i < l.n; i++) {
        int sp = is_space(l.s[i]);
        if (!sp && !in)
            w++;
        in = !sp;
    }
    return w;
}

/* ---- who sent it ------------------------------------------------------------ */

static int linkedin_domain(const char *addr, size_t *local)
{
    const char *at = strrchr(addr, '@');
    if (!at)
        return 0;
    *local = (size_t)(at - addr);
    line d = cstr(at + 1);
    return equals(d, "linkedin.com") || ends(d, ".linkedin.com");
}

static int invitation_subject(line s)
{
    return ends(s, "wants to connect") || contains(s, "add me to your linkedin network") ||
           starts(s, "invitation to connect") || contains(s, "would like to connect") ||
           contains(s, "invitation is waiting for your response") ||
           contains(s, "has invited you to connect") || starts(s, "invitation from ");
}

dm_kind dm_linkedin_kind(const dm_mail_view *v)
{
    size_t nlocal;
    if (!linkedin_domain(v->from_addr, &nlocal))
        return DM_KIND_EMAIL;
    line local = {v->from_addr, nlocal};
    if (starts(local, "invitations"))
        return DM_KIND_INVITATION;
    if (starts(local, "messages-noreply") || starts(local, "messaging-digest-noreply") ||
        starts(local, "inmail-hit-reply") || starts(local, "hit-reply"))
        return DM_KIND_MESSAGE;
    line text = {v->text, v->text_len};
    if (invitation_subject(cstr(v->subject)) || contains(text, "/invite-accept"))
        return DM_KIND_INVITATION;
    return DM_KIND_EMAIL;
}

/* ---- lines ---------------------------------------------------------------- */

typedef struct doc {
    line *l;
    size_t n;
    size_t action; /* the first action line, or n */
} doc;

static dm_status split(const char *text, size_t len, doc *d)
{
    size_t cap = 1;
    for (size_t i = 0; i < len && cap < MAX_LINES; i++)
        cap += text[i] == '\n';
    d->l = dm_malloc(cap * sizeof *d->l);
    d->n = 0;
    if (!d->l)
        return DM_ENOMEM;
    size_t i = 0;
    while (i <= len && d->n < cap) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        d->l[d->n++] = trim(text + i, e - i);
        i = e + 1;
    }
    return DM_OK;
}

static int is_url(line l)
{
    return starts(l, "http://") || starts(l, "https://");
}

static int is_action(line l)
{
    if (starts(l, "accept") || starts(l, "reply") || starts(l, "respond") || starts(l, "ignore:") ||
        contains(l, "/invite-accept") || contains(l, "/messaging/thread"))
        return 1;
    if (starts(l, "view ") && (contains(l, "profile") || contains(l, "invitation") ||
                               contains(l, "message") || contains(l, "conversation")))
        return 1;
    return is_url(l) && contains(l, "linkedin.com/comm/");
}

/* A rule of dashes and the like, or a banner naming LinkedIn. */
static int is_banner(line l)
{
    if (equals(l, "linkedin") || (l.n && l.s[0] == '[' && l.s[l.n - 1] == ']'))
        return 1;
    if (l.n < 3)
        return 0;
    for (size_t i = 0; i < l.n; i++)
        if (!strchr("-=_.*~ ", l.s[i]))
            return 0;
    return 1;
}

/* LinkedIn's own sentences around a note or a message. */
static int is_template(line l, line subject)
{
    return is_banner(l) || (subject.n && same(l, subject)) ||
           contains(l, "requested to add you as a connection") || ends(l, "wants to connect") ||
           contains(l, "wants to connect with you") || contains(l, "would like to connect") ||
           contains(l, "is waiting for your response") ||
           contains(l, "is awaiting your response") || contains(l, "you have a new invitation") ||
           contains(l, "you have an invitation") || contains(l, "new invitation") ||
           contains(l, "sent you a message") || contains(l, "sent you a new message") ||
           contains(l, "you have a new message") || contains(l, "just messaged you") ||
           starts(l, "new message from") || equals(l, "reminder") || equals(l, "reminder:");
}

static const char *const stock_sentences[] = {
    "i'd like to join your linkedin network",
    "i'd like to add you to my professional network on linkedin",
    "i'd like to add you to my professional network",
    "i'd like to connect with you on linkedin",
    "i would like to join your linkedin network",
};

/* is_greeting() is "Hi Paul," "Paul," "Dear Mr. Smith," and the like. */
static int is_greeting(line l)
{
    if (!l.n || (l.s[l.n - 1] != ',' && l.s[l.n - 1] != '!' && l.s[l.n - 1] != ':'))
        return 0;
    size_t w = words(l);
    return w <= 2 || (w <= 5 && (starts(l, "hi ") || starts(l, "hello ") || starts(l, "hey ") ||
                                 starts(l, "dear ") || starts(l, "good ")));
}

/* is_stock() is the stock sentence, alone or after a greeting on its line. */
static int is_stock(line l)
{
    while (l.n && (l.s[l.n - 1] == '.' || l.s[l.n - 1] == '!'))
        l.n--;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < sizeof stock_sentences / sizeof *stock_sentences; k++)
            if (equals(l, stock_sentences[k]))
                return 1;
        /* "Hi Paul, I'd like to ...": drop the greeting and look again */
        long c = find(l, ", ");
        if (pass || c < 0 || !is_greeting((line){l.s, (size_t)c + 1}))
            return 0;
        l = trim(l.s + c + 1, l.n - (size_t)c - 1);
    }
    return 0;
}

static int is_signature(line l)
{
    return (starts(l, "- ") || starts(l, "-- ")) && words(l) <= 4;
}

static int mutual_count(line l, long *n)
{
    size_t i = 0;
    long v = 0;
    while (i < l.n && l.s[i] >= '0' && l.s[i] <= '9' && v < 100000000)
        v = v * 10 + (l.s[i++] - '0');
    if (i == 0)
        return 0;
    line rest = trim(l.s + i, l.n - i);
    if (equals(rest, "mutual connection") || equals(rest, "mutual connections") ||
        equals(rest, "shared connection") || equals(rest, "shared connections")) {
        *n = v;
        return 1;
    }
    return 0;
}

/* ---- the sender's name ----------------------------------------------------- */

/* Names LinkedIn puts in the From: display name that are not a person's. */
static int generic_name(line l)
{
    return l.n == 0 || starts(l, "linkedin") || contains(l, "noreply") || contains(l, "@");
}

/* name_from_display() is the display name without " via LinkedIn" and quotes. */
static line name_from_display(const char *display)
{
    line l = cstr(display);
    static const char via[] = " via linkedin";
    if (l.n > sizeof via - 1 && ends(l, via)) {
        long at = -1;
        for (long i = (long)l.n - 1; i >= 0 && at < 0; i--)
            if (match_at(l.s, l.n, (size_t)i, via, NULL))
                at = i;
        if (at > 0)
            l = trim(l.s, (size_t)at);
    }
    while (l.n >= 2 && (l.s[0] == '"' || l.s[0] == '\'') && l.s[l.n - 1] == l.s[0])
        l = trim(l.s + 1, l.n - 2);
    return l;
}

/* name_in() takes NAME out of "PRE NAME POST" in `l`, where it is. */
static int name_in(line l, const char *pre, const char *post, line *out)
{
    size_t b = 0;
    if (*pre && !match_at(l.s, l.n, 0, pre, &b))
        return 0;
    for (size_t i = b; i <= l.n; i++) {
        size_t end;
        if (match_at(l.s, l.n, i, post, &end) && (*post ? 1 : end == l.n) && i > b) {
            *out = trim(l.s + b, i - b);
            return out->n > 0 && words(*out) <= 6;
        }
    }
    return 0;
}

static line sender_name(const dm_mail_view *v, const doc *d)
{
    line l = name_from_display(v->from_name);
    if (!generic_name(l))
        return l;
    for (size_t i = 0; i < d->n; i++)
        if (starts(d->l[i], "view ") && (name_in(d->l[i], "view ", "'s profile", &l) ||
                                         name_in(d->l[i], "view ", "'s invitation", &l)))
            return l;
    static const struct {
        const char *pre, *post;
    } subj[] = {
        {"", " wants to connect"},       {"", " would like to connect"},
        {"reminder: ", "'s invitation"}, {"", "'s invitation"},
        {"invitation from ", ""},        {"", " has invited you"},
        {"new message from ", ""},       {"", " sent you a"},
        {"", " just messaged you"},      {"", " requested to add you"},
    };
    line s = cstr(v->subject);
    for (size_t k = 0; k < sizeof subj / sizeof *subj; k++)
        if (name_in(s, subj[k].pre, subj[k].post, &l))
            return l;
    for (size_t i = 0; i < d->n; i++)
        if (name_in(d->l[i], "", " requested to add you", &l) ||
            name_in(d->l[i], "", " wants to connect", &l))
            return l;
    return (line){"", 0};
}

/* looks_like_name() is a short line that is no sentence: "Aisha Mensah". */
static int looks_like_name(line l)
{
    size_t w = words(l);
    return w >= 1 && w <= 5 && l.n <= 64 && !strchr(".!?,:;", l.s[l.n - 1]);
}

/* is_name_line() is the card's first line: the name, maybe with ", MBA". */
static int is_name_line(line l, line name)
{
    if (!name.n || l.n < name.n)
        return 0;
    if (same(l, name))
        return 1;
    line head = {l.s, name.n};
    return same(head, name) && l.s[name.n] == ',';
}

/* ---- links ------------------------------------------------------------------ */

/* url_at() is the URL token starting at s[i] ("http..."), up to a delimiter. */
static line url_at(const char *s, size_t n, size_t i)
{
    size_t e = i;
    while (e < n && !strchr(" \t\r\n<>\"'()[]{}", s[e]) && s[e] != '\0')
        e++;
    return (line){s + i, e - i};
}

static int first_url(line l, line *out)
{
    long h = find(l, "http://");
    long hs = find(l, "https://");
    if (h < 0 || (hs >= 0 && hs < h))
        h = hs;
    if (h < 0)
        return 0;
    *out = url_at(l.s, l.n, (size_t)h);
    return 1;
}

static int profile_link(line u)
{
    return contains(u, "linkedin.com/in/") || contains(u, "linkedin.com/comm/in/") ||
           contains(u, "linkedin.com/profile/view") ||
           contains(u, "linkedin.com/comm/profile/view");
}

/* find_profile_url() finds the sender's profile link in the text, else in the HTML. */
static int find_profile_url(const dm_mail_view *v, const doc *d, line *out)
{
    for (size_t i = 0; i < d->n; i++) {
        line l = d->l[i];
        if (!starts(l, "view ") || !contains(l, "profile"))
            continue;
        if (first_url(l, out))
            return 1;
        /* "View Aisha's profile" with the link on the next line */
        size_t j = i + 1;
        while (j < d->n && !d->l[j].n)
            j++;
        if (j < d->n && is_url(d->l[j])) {
            *out = url_at(d->l[j].s, d->l[j].n, 0);
            return 1;
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        line l = d->l[i];
        for (long h; (h = find(l, "http")) >= 0; l = trim(l.s + h + 4, l.n - (size_t)h - 4)) {
            line u = url_at(l.s, l.n, (size_t)h);
            if (profile_link(u) && (starts(u, "http://") || starts(u, "https://"))) {
                *out = u;
                return 1;
            }
        }
    }
    /* an HTML-only mail: the links are in href="..." */
    line h = {v->html, v->html_len};
    while (h.n) {
        long at = find(h, "http");
        if (at < 0)
            break;
        line u = url_at(h.s, h.n, (size_t)at);
        if (profile_link(u) && (starts(u, "http://") || starts(u, "https://"))) {
            *out = u;
            return 1;
        }
        h = (line){h.s + at + 4, h.n - (size_t)at - 4};
    }
    return 0;
}

dm_status dm_linkedin_url(const char *url, size_t len, dm_buf *out)
{
    line u = trim(url, len);
    size_t i = 0;
    long sch = find(u, "://");
    size_t host = sch >= 0 ? (size_t)sch + 3 : 0;
    i = host;
    while (i < u.n && u.s[i] != '/' && u.s[i] != '?' && u.s[i] != '#')
        i++;
    line h = {u.s + host, i - host};
    size_t path = i;
    while (i < u.n && u.s[i] != '?' && u.s[i] != '#')
        i++;
    line p = {u.s + path, i - path};
    line q = {"", 0};
    if (i < u.n && u.s[i] == '?') {
        size_t qs = ++i;
        while (i < u.n && u.s[i] != '#')
            i++;
        q = (line){u.s + qs, i - qs};
    }
    /* HTML keeps "&amp;" in links */
    if (equals(h, "linkedin.com") || ends(h, ".linkedin.com")) {
        if (starts(p, "/comm/"))
            p = (line){p.s + 5, p.n - 5};
        if (starts(p, "/in/")) {
            size_t k = 4;
            while (k < p.n && p.s[k] != '/')
                k++;
            if (k > 4) {
                dm_status st = dm_buf_adds(out, "https://www.linkedin.com/in/");
                return st == DM_OK ? dm_buf_add(out, p.s + 4, k - 4) : st;
            }
        }
        if (equals(p, "/profile/view")) {
            for (size_t k = 0; k + 3 <= q.n; k++) {
                if ((k == 0 || q.s[k - 1] == '&' || q.s[k - 1] == ';') &&
                    match_at(q.s, q.n, k, "id=", NULL)) {
                    size_t e = k + 3;
                    while (e < q.n && q.s[e] != '&')
                        e++;
                    dm_status st = dm_buf_adds(out, "https://www.linkedin.com/profile/view?id=");
                    return st == DM_OK ? dm_buf_add(out, q.s + k + 3, e - k - 3) : st;
                }
            }
        }
    }
    while (p.n > 1 && p.s[p.n - 1] == '/')
        p.n--;
    dm_status st = dm_buf_add(out, u.s, (size_t)(h.s - u.s) + h.n);
    return st == DM_OK ? dm_buf_add(out, p.s, p.n == 1 && p.s[0] == '/' ? 0 : p.n) : st;
}

/* ---- the record --------------------------------------------------------------- */

enum lclass { L_BLANK, L_TEMPLATE, L_STOCK, L_GREETING, L_SIGNATURE, L_TEXT };

static enum lclass classify(line l, line subject)
{
    if (!l.n)
        return L_BLANK;
    if (is_template(l, subject))
        return L_TEMPLATE;
    if (is_stock(l))
        return L_STOCK;
    if (is_greeting(l))
        return L_GREETING;
    if (is_signature(l))
        return L_SIGNATURE;
    return L_TEXT;
}

/* count_text() counts the lines of [from, to) that are someone's own words. */
static size_t count_text(const doc *d, size_t from, size_t to, line subject)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += classify(d->l[i], subject) == L_TEXT;
    return n;
}

static size_t count_stock(const doc *d, size_t from, size_t to, line subject)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += classify(d->l[i], subject) == L_STOCK;
    return n;
}

/*
 * add_lines() appends the lines [from, to) that are not LinkedIn's words to
 * `b`, runs of blank lines made one.
 */
static dm_status add_lines(const doc *d, size_t from, size_t to, line subject, dm_buf *b)
{
    dm_status st = DM_OK;
    int blank = 0;
    for (size_t i = from; i < to && st == DM_OK; i++) {
        enum lclass c = classify(d->l[i], subject);
        if (c == L_TEMPLATE || c == L_STOCK)
            continue;
        if (c == L_BLANK) {
            blank = b->len > 0;
            continue;
        }
        if (blank)
            st = dm_buf_add(b, "\n\n", 2);
        else if (b->len)
            st = dm_buf_addc(b, '\n');
        blank = 0;
        if (st == DM_OK)
            st = dm_buf_add(b, d->l[i].s, d->l[i].n);
    }
    return st;
}

static dm_status set_line(dm_record *rec, dm_field f, line l)
{
    return l.n ? dm_record_set(rec, f, l.s, l.n) : DM_OK;
}

dm_status dm_linkedin_fill(const dm_mail_view *v, dm_record *rec, unsigned *facts)
{
    doc d;
    dm_buf note, url;
    dm_buf_init(&note, DM_MAIL_MAX_TEXT);
    dm_buf_init(&url, DM_MAIL_MAX_TEXT);
    dm_status st = split(v->text, v->text_len, &d);
    int invitation = dm_record_kind(rec) == DM_KIND_INVITATION;
    line subject = cstr(v->subject);
    if (st != DM_OK)
        goto out;
    d.action = d.n;
    for (size_t i = 0; i < d.n && d.action == d.n; i++)
        if (is_action(d.l[i]))
            d.action = i;

    line name = sender_name(v, &d);
    /* the card: the last name line above the links for an invitation (its
     * note comes first), the first for a message (the message follows it) */
    size_t card = d.action;
    for (size_t i = 0; i < d.action; i++)
        if (is_name_line(d.l[i], name)) {
            card = i;
            if (!invitation)
                break;
        }
    if (card == d.action && invitation) {
        /* no line names the sender: the card is the last paragraph above the
         * links, when it is not LinkedIn's words and something comes before */
        size_t e = d.action, b;
        while (e > 0 && !d.l[e - 1].n)
            e--;
        for (b = e; b > 0 && d.l[b - 1].n;)
            b--;
        if (e - b >= 2 && e - b <= MAX_CARD + 1 && classify(d.l[b], subject) == L_TEXT &&
            looks_like_name(d.l[b]) &&
            count_text(&d, 0, b, subject) + count_stock(&d, 0, b, subject) > 0) {
            card = b;
            if (!name.n)
                name = d.l[b];
        }
    }
    line headline = {"", 0};
    long mutual = -1;
    size_t after = card; /* the first line after the card */
    if (card < d.action) {
        size_t i = card + 1;
        for (; i < d.action && i <= card + MAX_CARD && d.l[i].n; i++) {
            long m;
            if (mutual_count(d.l[i], &m))
                mutual = m;
            else if (!headline.n && i == card + 1 && !is_url(d.l[i]))
                headline = d.l[i];
        }
        after = i;
    }
    /* the note: around the card, LinkedIn's words dropped */
    size_t before = card < d.action ? card : d.action;
    if (invitation) {
        if (count_text(&d, 0, before, subject))
            st = add_lines(&d, 0, before, subject, &note);
        if (st == DM_OK && count_text(&d, after, d.action, subject)) {
            if (note.len)
                st = dm_buf_add(&note, "\n\n", 2);
            if (st == DM_OK)
                st = add_lines(&d, after, d.action, subject, &note);
        }
    } else {
        if (card < d.action)
            st = add_lines(&d, after, d.action, subject, &note);
        else
            st = add_lines(&d, 0, d.action, subject, &note);
    }
    if (st == DM_ETOOLARGE) /* bounded like every mail field: cut, not refused */
        st = DM_OK;

    line u;
    if (st == DM_OK && find_profile_url(v, &d, &u))
        st = dm_linkedin_url(u.s, u.n, &url);
    if (st == DM_ETOOLARGE) {
        dm_buf_reset(&url);
        st = DM_OK;
    }
    if (!url.len && !invitation)
        *facts |= DM_FACT_NO_URL;

    if (st == DM_OK)
        st = set_line(rec, DM_FIELD_FROM_NAME, name);
    if (st == DM_OK)
        st = set_line(rec, DM_FIELD_FROM_HEADLINE, headline);
    if (st == DM_OK && url.len)
        st = dm_record_set(rec, DM_FIELD_FROM_URL, url.data, url.len);
    if (st == DM_OK && note.len)
        st = dm_record_set(rec, DM_FIELD_MESSAGE, note.data, note.len);
    if (mutual >= 0)
        dm_record_set_mutual(rec, mutual);
    if (st == DM_OK) {
        /* the id, as the export makes it: the profile URL (else the name) @ the time */
        char *who = url.len ? url.data : dm_strndup(name.s, name.n);
        if (!who)
            st = DM_ENOMEM;
        else if (*v->sent_at && *who)
            st = dm_record_set_id(rec, who, v->sent_at);
        if (who && who != url.data)
            dm_free(who);
    }
out:
    dm_free(d.l);
    dm_buf_free(&note);
    dm_buf_free(&url);
    return st;
}
