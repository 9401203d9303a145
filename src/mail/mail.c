/*
 * mail.c: one RFC 5322 message to a record (dm_mail_record), with GMime 3.
 *
 * GMime does the MIME work: the parse, transfer encodings (base64,
 * quoted-printable, uuencode), RFC 2047 encoded words, charsets to UTF-8
 * (iconv), dates.  doorman picks the text, cleans it and bounds it:
 *
 *   - The text is the message's text/plain part; in a multipart/alternative
 *     the text/plain alternative wins over the HTML one; in any other
 *     multipart the first part with text wins.  An HTML part chosen so
 *     (the mail has no text/plain) is turned into text by dm_html_to_text()
 *     and the record gets the html fact.  Attachments and attached messages
 *     (message/rfc822) are not read.
 *   - Every field is valid UTF-8 without NUL: text in no declared charset,
 *     or a charset iconv does not know, that is not UTF-8 is decoded by
 *     GMime's 8-bit guess; what still is not becomes U+FFFD.
 *   - Every field is at most DM_MAIL_MAX_TEXT (1 MiB) and cut there, like
 *     SpamAssassin's body_part_scan_size: a verdict reads the start of a
 *     mail.  The message itself is bounded by the caller (--max-message).
 *   - GMime nests multiparts up to 1024 deep and looks at every open
 *     boundary on each line, so a crafted message costs it depth x lines.
 *     It is given the message only up to the line that declares the 33rd
 *     boundary: the parts after it are not read, and the cost is bounded
 *     by 32 x lines (a 10 MiB hostile message in a fraction of a second).
 *
 * Threads: GMime is initialised once, under a lock, by the first call;
 * after that dm_mail_record() may run in many threads at once (each call
 * has its own GMime objects; GMime's shared caches lock themselves).
 * dm_mail_shutdown() releases GMime's global state, at exit, when no other
 * thread is in the mail API (LSan finds GMime's caches still reachable
 * without it; GMime 3.2 leaks if it is set up again after it).  GLib aborts the
 * process when it runs out of memory; the allocations that are doorman's
 * own go through the hooks and fail with DM_ENOMEM.
 */
#include "ingest/text.h"
#include "mailint.h"
#include "record.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <string.h>

#define MAX_BOUNDARIES 32 /* boundary declarations GMime is given */
#define MAX_DEPTH 64      /* multipart levels walked */

/* a pthread mutex rather than GLib's: thread sanitizers see it */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int initialised;

static void mail_init(void)
{
    pthread_mutex_lock(&init_lock);
    if (!initialised) {
        g_mime_init();
        initialised = 1;
    }
    pthread_mutex_unlock(&init_lock);
}

DM_API void dm_mail_shutdown(void)
{
    pthread_mutex_lock(&init_lock);
    if (initialised) {
        g_mime_shutdown();
        initialised = 0;
    }
    pthread_mutex_unlock(&init_lock);
}

/* ---- cleaning text --------------------------------------------------------- */

/* utf8_len() is the length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1, cp = c & 0x1Fu, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        need = 2, cp = c & 0x0Fu, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, cp = c & 0x07u, min = 0x10000;
    else
        return 0;
    if (n < need + 1)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need + 1;
}

/* put_fit() appends when it fits under b->max; *full says it did not. */
static dm_status put_fit(dm_buf *b, const char *p, size_t n, int *full)
{
    if (n > b->max - b->len) {
        *full = 1;
        return DM_OK;
    }
    return dm_buf_put(b, p, n);
}

dm_status dm_mail_clean(dm_buf *b, const char *s, size_t n, int oneline)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    int full = 0;
    dm_status st = DM_OK;
    while (i < n && st == DM_OK && !full) {
        /* a run of bytes kept as they are */
        size_t r = i;
        while (r < n &&
               ((u[r] >= 0x20 && u[r] < 0x7F) || (!oneline && (u[r] == '\n' || u[r] == '\t'))))
            r++;
        if (r > i) {
            size_t k = r - i;
            if (k > b->max - b->len) {
                k = b->max - b->len;
                full = 1;
            }
            st = dm_buf_put(b, s + i, k);
            i = r;
            continue;
        }
        unsigned char c = u[i];
        if (c == '\r') {
            if (i + 1 < n && u[i + 1] == '\n' && !oneline) {
                i++; /* the LF follows */
                continue;
            }
            st = put_fit(b, oneline ? " " : "\n", 1, &full);
            i++;
        } else if (c == 0) {
            st = put_fit(b, "\xEF\xBF\xBD", 3, &full);
            i++;
        } else if (c < 0x80) { /* a control character (oneline), or DEL */
            st = put_fit(b, oneline ? " " : s + i, 1, &full);
            i++;
        } else {
            size_t k = utf8_len(u + i, n - i);
            if (k)
                st = put_fit(b, s + i, k, &full);
            else
                st = put_fit(b, "\xEF\xBF\xBD", 3, &full);
            i += k ? k : 1;
        }
    }
    return st;
}

/* ---- the parts of a message ---------------------------------------------------- */

/*
 * gmime_cut() is how much of the message GMime gets: all of it, or up to
 * the line declaring boundary number MAX_BOUNDARIES + 1.
 */
static size_t gmime_cut(const char *m, size_t n)
{
    static const char word[] = "boundary";
    size_t seen = 0;
    for (size_t i = 0; i + sizeof word - 1 <= n; i++) {
        if ((m[i] | 0x20) != 'b' || dm_ascii_ncasecmp(m + i, word, sizeof word - 1) != 0)
            continue;
        if (++seen > MAX_BOUNDARIES) {
            while (i > 0 && m[i - 1] != '\n')
                i--;
            return i;
        }
        i += sizeof word - 2;
    }
    return n;
}

static int is_attachment(GMimeObject *o)
{
    GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);
    return d && g_mime_content_disposition_is_attachment(d);
}

static int is_text(GMimeObject *o, const char *sub)
{
    if (!GMIME_IS_PART(o) || is_attachment(o))
        return 0;
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    if (ct && g_mime_content_type_is_type(ct, "text", sub))
        return 1;
    if (strcmp(sub, "plain") != 0 || (ct && g_mime_content_type_is_type(ct, "text", "*")))
        return 0;
    /* RFC 2045: a text Content-Type that cannot be read ("text plain") is
     * text/plain; GMime makes it application/octet-stream */
    const char *raw = g_mime_object_get_header(o, "Content-Type");
    while (raw && (*raw == ' ' || *raw == '\t'))
        raw++;
    return raw && dm_ascii_ncasecmp(raw, "text", 4) == 0 && raw[4] != '/';
}

/*
 * pick() is the part whose text stands for `o`: in a multipart/alternative
 * the text/plain alternative, else the first with text; in any other
 * multipart the first part with text.  NULL when there is none.
 */
static GMimeObject *pick(GMimeObject *o, int depth)
{
    if (!o || depth > MAX_DEPTH)
        return NULL;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        GMimeContentType *ct = g_mime_object_get_content_type(o);
        int alternative = ct && g_mime_content_type_is_type(ct, "multipart", "alternative");
        GMimeObject *best = NULL;
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            GMimeObject *c = pick(g_mime_multipart_get_part(mp, i), depth + 1);
            if (!c)
                continue;
            if (!alternative || is_text(c, "plain"))
                return c;
            if (!best)
                best = c;
        }
        return best;
    }
    return is_text(o, "plain") || is_text(o, "html") ? o : NULL;
}

/* first_html() is the first HTML part of the message (links of an HTML-only mail). */
static GMimeObject *first_html(GMimeObject *o, int depth)
{
    if (!o || depth > MAX_DEPTH)
        return NULL;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            GMimeObject *c = first_html(g_mime_multipart_get_part(mp, i), depth + 1);
            if (c)
                return c;
        }
        return NULL;
    }
    return is_text(o, "html") ? o : NULL;
}

static int plain_charset(const char *cs)
{
    return !cs || g_ascii_strcasecmp(cs, "utf-8") == 0 || g_ascii_strcasecmp(cs, "utf8") == 0 ||
           g_ascii_strcasecmp(cs, "us-ascii") == 0 || g_ascii_strcasecmp(cs, "ascii") == 0;
}

/*
 * part_text() appends the decoded content of a text part to `b` as clean
 * UTF-8: transfer encoding undone, the charset converted, cut at b->max.
 */
static dm_status part_text(GMimeObject *o, dm_buf *b)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(o));
    if (!dw)
        return DM_OK;
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeStream *out = mem;
    const char *cs = g_mime_object_get_content_type_parameter(o, "charset");
    int converted = 0;
    if (!plain_charset(cs)) {
        GMimeFilter *f = g_mime_filter_charset_new(cs, "UTF-8");
        if (f) {
            out = g_mime_stream_filter_new(mem);
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(out), f);
            g_object_unref(f);
            converted = 1;
        }
    }
    g_mime_data_wrapper_write_to_stream(dw, out);
    g_mime_stream_flush(out);
    if (out != mem)
        g_object_unref(out);
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    const char *p = ba ? (const char *)ba->data : "";
    size_t n = ba ? ba->len : 0;
    dm_status st;
    if (!converted && dm_utf8_check(p, n) != n) {
        /* no charset, or one iconv does not know: GMime guesses */
        char *u = g_mime_utils_decode_8bit(NULL, p, n);
        st = dm_mail_clean(b, u ? u : p, u ? strlen(u) : n, 0);
        g_free(u);
    } else {
        st = dm_mail_clean(b, p, n, 0);
    }
    g_object_unref(mem);
    return st;
}

/* ---- the record ------------------------------------------------------------------- */

/* What one call decodes; every buffer is bounded by DM_MAIL_MAX_TEXT. */
typedef struct decoded {
    dm_buf from_name, from_addr, to, subject, sent_at, message_id, date_raw, text, html;
    unsigned facts;
} decoded;

static void decoded_init(decoded *d)
{
    dm_buf *bufs[] = {&d->from_name,  &d->from_addr, &d->to,   &d->subject, &d->sent_at,
                      &d->message_id, &d->date_raw,  &d->text, &d->html};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        dm_buf_init(bufs[i], DM_MAIL_MAX_TEXT);
    d->facts = 0;
}

static void decoded_free(decoded *d)
{
    dm_buf *bufs[] = {&d->from_name,  &d->from_addr, &d->to,   &d->subject, &d->sent_at,
                      &d->message_id, &d->date_raw,  &d->text, &d->html};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        dm_buf_free(bufs[i]);
}

/* clean_str() sets a header value: one line, runs of spaces made one, trimmed. */
static dm_status clean_str(dm_buf *b, const char *s)
{
    dm_buf_reset(b);
    if (!s)
        return DM_OK;
    dm_status st = dm_mail_clean(b, s, strlen(s), 1);
    if (st != DM_OK || !b->len)
        return st;
    size_t o = 0;
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != ' ' || (o && b->data[o - 1] != ' '))
            b->data[o++] = b->data[i];
    while (o && b->data[o - 1] == ' ')
        o--;
    b->len = o;
    b->data[o] = '\0';
    return DM_OK;
}

/*
 * raw_8bit_subject() decodes a Subject: written in raw 8-bit bytes (no RFC
 * 2047) with the charset of the body as GMime's first guess: spam in Big5 or
 * GB2312 declares its charset only there.
 */
static dm_status raw_8bit_subject(GMimeMessage *m, const char *charset, decoded *d)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
    GMimeHeader *h = hl ? g_mime_header_list_get_header(hl, "Subject") : NULL;
    const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
    if (!raw || plain_charset(charset))
        return DM_OK;
    int high = 0;
    for (const char *p = raw; *p && !high; p++)
        high = (unsigned char)*p >= 0x80;
    if (!high)
        return DM_OK;
    GMimeParserOptions *o = g_mime_parser_options_new();
    const char *charsets[] = {"UTF-8", charset, NULL};
    g_mime_parser_options_set_fallback_charsets(o, charsets);
    char *s = g_mime_utils_header_decode_text(o, raw);
    g_mime_parser_options_free(o);
    dm_status st = s ? clean_str(&d->subject, s) : DM_OK;
    g_free(s);
    return st;
}

/* first_mailbox() is the first mailbox of an address list, looking into a group. */
static InternetAddressMailbox *first_mailbox(InternetAddressList *l, int depth)
{
    int n = l ? internet_address_list_length(l) : 0;
    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(a))
            return INTERNET_ADDRESS_MAILBOX(a);
        if (INTERNET_ADDRESS_IS_GROUP(a) && depth < 2) {
            InternetAddressMailbox *m = first_mailbox(
                internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), depth + 1);
            if (m)
                return m;
        }
    }
    return NULL;
}

static dm_status read_headers(GMimeMessage *m, decoded *d)
{
    InternetAddressMailbox *from = first_mailbox(g_mime_message_get_from(m), 0);
    InternetAddressMailbox *to = first_mailbox(g_mime_message_get_to(m), 0);
    dm_status st = DM_OK;
    if (from) {
        st = clean_str(&d->from_name, internet_address_get_name(INTERNET_ADDRESS(from)));
        if (st == DM_OK)
            st = clean_str(&d->from_addr, internet_address_mailbox_get_addr(from));
    }
    if (st == DM_OK && to) {
        const char *name = internet_address_get_name(INTERNET_ADDRESS(to));
        st = clean_str(&d->to, name && *name ? name : internet_address_mailbox_get_addr(to));
    }
    if (st == DM_OK)
        st = clean_str(&d->subject, g_mime_message_get_subject(m));
    if (st == DM_OK)
        st = clean_str(&d->message_id, g_mime_message_get_message_id(m));
    if (st == DM_OK)
        st = clean_str(&d->date_raw, g_mime_object_get_header(GMIME_OBJECT(m), "Date"));
    GDateTime *dt = g_mime_message_get_date(m);
    if (st == DM_OK && dt) {
        GDateTime *utc = g_date_time_to_utc(dt);
        gchar *s = utc ? g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ") : NULL;
        char iso[40];
        /* text.c checks it as it checks every date of a record */
        if (s && dm_date_iso(s, iso, sizeof iso) == DM_OK)
            st = dm_buf_adds(&d->sent_at, iso);
        g_free(s);
        if (utc)
            g_date_time_unref(utc);
    }
    return st;
}

static int blank(const dm_buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != ' ' && b->data[i] != '\t' && b->data[i] != '\n')
            return 0;
    return 1;
}

/* html_text() makes the text of an HTML part (and keeps its source when asked). */
static dm_status html_text(GMimeObject *part, int want_html, decoded *d)
{
    dm_buf src;
    dm_buf_init(&src, 4 * DM_MAIL_MAX_TEXT);
    dm_status st = part_text(part, &src);
    if (st == DM_OK) {
        /* the text cannot outgrow its source: the limit is only a guard */
        dm_buf txt;
        dm_buf_init(&txt, 2 * src.len + 64);
        unsigned facts = 0;
        st = dm_html_to_text(src.data ? src.data : "", src.len, &txt, &facts);
        if (st == DM_OK)
            st = dm_mail_clean(&d->text, txt.data ? txt.data : "", txt.len, 0);
        if (st == DM_ETOOLARGE)
            st = DM_OK;
        d->facts |= facts | DM_FACT_HTML;
        dm_buf_free(&txt);
    }
    if (st == DM_OK && want_html)
        st = dm_mail_clean(&d->html, src.data ? src.data : "", src.len, 0);
    dm_buf_free(&src);
    return st;
}

static dm_status read_body(GMimeMessage *m, int want_html, decoded *d)
{
    GMimeObject *body = g_mime_message_get_mime_part(m);
    GMimeObject *part = pick(body, 0);
    dm_status st = DM_OK;
    if (part)
        st = raw_8bit_subject(m, g_mime_object_get_content_type_parameter(part, "charset"), d);
    if (st == DM_OK && !part && body && GMIME_IS_MULTIPART(body)) {
        /* a multipart whose boundary never comes: its text is all "prologue" */
        const char *pro = g_mime_multipart_get_prologue(GMIME_MULTIPART(body));
        size_t n = pro ? strlen(pro) : 0;
        if (n && dm_looks_html(pro, n)) {
            dm_buf txt;
            dm_buf_init(&txt, 2 * n + 64);
            unsigned facts = 0;
            st = dm_html_to_text(pro, n, &txt, &facts);
            if (st == DM_OK)
                st = dm_mail_clean(&d->text, txt.data ? txt.data : "", txt.len, 0);
            d->facts |= facts | DM_FACT_HTML;
            dm_buf_free(&txt);
        } else if (n) {
            st = dm_mail_clean(&d->text, pro, n, 0);
        }
        if (st == DM_ETOOLARGE)
            st = DM_OK;
        return st;
    }
    if (st != DM_OK)
        return st;
    if (part && is_text(part, "html")) {
        st = html_text(part, want_html, d);
    } else if (part) {
        st = part_text(part, &d->text);
        /* an empty text/plain alternative (Outlook sends them) gives way to the HTML */
        GMimeObject *alt;
        if (st == DM_OK && blank(&d->text) && (alt = first_html(body, 0)) != NULL) {
            dm_buf_reset(&d->text);
            return html_text(alt, want_html, d);
        }
        if (st == DM_OK && d->text.len && strstr(d->text.data, DM_SPINMAIL_MARKER))
            d->facts |= DM_FACT_SPINMAIL;
        GMimeObject *h = want_html ? first_html(body, 0) : NULL;
        if (st == DM_OK && h)
            st = part_text(h, &d->html);
    }
    return st;
}

/* trim_text() drops the blank lines and spaces around a body. */
static void trim_text(dm_buf *b)
{
    if (!b->len)
        return;
    size_t s = 0, e = b->len;
    while (s < e && (b->data[s] == ' ' || b->data[s] == '\t' || b->data[s] == '\n'))
        s++;
    while (e > s && (b->data[e - 1] == ' ' || b->data[e - 1] == '\t' || b->data[e - 1] == '\n'))
        e--;
    memmove(b->data, b->data + s, e - s);
    b->len = e - s;
    b->data[b->len] = '\0';
}

static const char *str(const dm_buf *b)
{
    return b->data ? b->data : "";
}

static dm_status set_buf(dm_record *rec, dm_field f, const dm_buf *b)
{
    return b->len ? dm_record_set(rec, f, b->data, b->len) : DM_OK;
}

/* email_fill() makes the record of any mail that is not LinkedIn's. */
static dm_status email_fill(const decoded *d, const char *source, dm_record *rec)
{
    dm_status st =
        set_buf(rec, DM_FIELD_FROM_NAME, d->from_name.len ? &d->from_name : &d->from_addr);
    if (st == DM_OK && d->from_addr.len) {
        /* the address, so that rules and readers see who wrote */
        dm_buf url;
        dm_buf_init(&url, DM_MAIL_MAX_TEXT + 8);
        st = dm_buf_adds(&url, "mailto:");
        if (st == DM_OK)
            st = dm_buf_add(&url, d->from_addr.data, d->from_addr.len);
        if (st == DM_OK)
            st = set_buf(rec, DM_FIELD_FROM_URL, &url);
        dm_buf_free(&url);
    }
    if (st == DM_OK)
        st = set_buf(rec, DM_FIELD_MESSAGE, &d->text);
    if (st == DM_OK) {
        /* the id: the Message-ID, else the sender @ the time, else where it was read */
        if (d->message_id.len)
            st = dm_record_set(rec, DM_FIELD_ID, d->message_id.data, d->message_id.len);
        else if (d->from_addr.len && d->sent_at.len)
            st = dm_record_set_id(rec, d->from_addr.data, d->sent_at.data);
        else if (source && *source)
            st = dm_record_set(rec, DM_FIELD_ID, source, strlen(source));
    }
    return st;
}

static dm_status fill(const decoded *d, const char *source, dm_record *rec)
{
    dm_mail_view v = {
        .from_name = str(&d->from_name),
        .from_addr = str(&d->from_addr),
        .to = str(&d->to),
        .subject = str(&d->subject),
        .sent_at = str(&d->sent_at),
        .text = str(&d->text),
        .text_len = d->text.len,
        .html = str(&d->html),
        .html_len = d->html.len,
    };
    dm_kind kind = dm_linkedin_kind(&v);
    dm_record_set_kind(rec, kind);
    unsigned facts = d->facts;
    dm_status st =
        kind == DM_KIND_EMAIL ? email_fill(d, source, rec) : dm_linkedin_fill(&v, rec, &facts);
    if (st == DM_OK && kind != DM_KIND_EMAIL && !dm_record_get(rec, DM_FIELD_ID)) {
        if (d->message_id.len)
            st = dm_record_set(rec, DM_FIELD_ID, d->message_id.data, d->message_id.len);
        else if (source && *source)
            st = dm_record_set(rec, DM_FIELD_ID, source, strlen(source));
    }
    if (st == DM_OK)
        st = set_buf(rec, DM_FIELD_SUBJECT, &d->subject);
    if (st == DM_OK)
        st = set_buf(rec, DM_FIELD_TO, &d->to);
    if (st == DM_OK)
        st = set_buf(rec, DM_FIELD_SENT_AT, &d->sent_at);
    if (st == DM_OK && !d->sent_at.len && d->date_raw.len)
        /* a date GMime cannot read is kept as written, as the export keeps one */
        st = dm_record_add_extra(rec, "Date", d->date_raw.data, d->date_raw.len);
    dm_record_add_facts(rec, facts);
    return st;
}

/* from_linkedin() is 1 when the raw From: names a linkedin.com sender (HTML worth keeping). */
static int from_linkedin(const decoded *d)
{
    const char *at = strrchr(str(&d->from_addr), '@');
    if (!at)
        return 0;
    size_t n = strlen(at + 1);
    return (n >= 12 && dm_ascii_casecmp(at + 1 + n - 12, "linkedin.com") == 0);
}

DM_API dm_status dm_mail_record(const char *msg, size_t len, const char *source, dm_record *rec,
                                dm_error *err)
{
    if (!rec || (!msg && len))
        return dm_error_set(err, DM_EINVAL, source, 0, 0, "no message or no record given");
    dm_record_clear(rec);
    dm_record_set_kind(rec, DM_KIND_EMAIL);
    dm_status st = dm_record_set(rec, DM_FIELD_DIRECTION, "incoming", 8);
    if (st == DM_OK && source)
        st = dm_record_set(rec, DM_FIELD_SOURCE, source, strlen(source));
    if (st != DM_OK)
        return dm_error_set(err, st, source, 0, 0, "%s", dm_strerror(st));
    size_t env = len ? dm_mail_envelope(msg, len) : 0;
    msg += env, len -= env;
    decoded d;
    decoded_init(&d);
    if (len) {
        mail_init();
        GMimeStream *stream = g_mime_stream_mem_new_with_buffer(msg, gmime_cut(msg, len));
        GMimeParser *parser = g_mime_parser_new_with_stream(stream);
        g_object_unref(stream);
        g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
        GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
        g_object_unref(parser);
        if (m) {
            st = read_headers(m, &d);
            if (st == DM_OK)
                st = read_body(m, from_linkedin(&d), &d);
            g_object_unref(m);
        }
        trim_text(&d.text);
    }
    if (st == DM_OK)
        st = fill(&d, source, rec);
    decoded_free(&d);
    if (st != DM_OK)
        return dm_error_set(err, st, source, 0, 0, "cannot read the mail: %s", dm_strerror(st));
    return DM_OK;
}
