/* tok_json.c — a strict JSON reader and a json.dumps(indent=4, ensure_ascii=False) writer.
 *
 * Why not cJSON (which the app links anyway): the chat template prints tool schemas with
 * Python's json.dumps, and cJSON turns every number into a double, losing whether the
 * literal was `1` or `1.0` (Python prints those differently: 1 vs 1.0), and its printer
 * neither orders nor spaces things as Python does. Here every number keeps its literal
 * text, objects keep their key order with Python's duplicate-key rule, and the printer
 * reproduces Python byte for byte, so a rendered prompt matches the Jinja template.
 *
 * Reader: recursive descent over a buffer already checked to be UTF-8, with a depth cap
 * (TOK_JSON_MAX_DEPTH) so hostile input cannot exhaust the stack; errors name line:column.
 * Writer: the same recursion, bounded by the same depth, with a byte cap on the output.
 * Floats print as Python's repr(): the shortest digit string that reads back to the same
 * double (found by widening printf precision and checking with strtod, both run in the
 * "C" numeric locale of the calling thread), fixed notation for decimal exponents in
 * [-4, 16), else d.ddde±XX.
 */
#include "tokenizer/tok_json.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tok_json_parser {
    const char *s;
    size_t len, pos;
    char **why;
};

static int tok_json_value(struct tok_json_parser *p, int depth, struct tok_json **out);

/* ---- errors ------------------------------------------------------------------------------ */

static int tok_json_fail(const struct tok_json_parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int tok_json_fail(const struct tok_json_parser *p, size_t at, const char *fmt, ...)
{
    if (!p->why) return TOK_ERR_FORMAT;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* Columns count characters (not bytes) from 1, as an editor shows them. */
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        unsigned char c = (unsigned char)p->s[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    return tok_fail(p->why, TOK_ERR_FORMAT, "line %zu:%zu: %s", line, col, what);
}

/* Describes the character at `at` for an error message ("'x'", "U+00E9", "end of input"). */
static const char *tok_json_desc(const struct tok_json_parser *p, size_t at, char *buf, size_t size)
{
    if (at >= p->len) return "end of input";
    const unsigned char *s = (const unsigned char *)p->s + at;
    unsigned c = s[0];
    if (c > 0x20 && c < 0x7F) {
        snprintf(buf, size, "'%c'", (char)c);
        return buf;
    }
    /* The input is valid UTF-8 by now, so the lead byte tells the length. */
    uint32_t cp = c;
    if (c >= 0xF0)
        cp = (c & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
    else if (c >= 0xE0)
        cp = (c & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
    else if (c >= 0xC0)
        cp = (c & 0x1Fu) << 6 | (s[1] & 0x3Fu);
    snprintf(buf, size, "U+%04X", (unsigned)cp);
    return buf;
}

/* ---- nodes ------------------------------------------------------------------------------- */

static struct tok_json *tok_json_node(enum tok_json_type type)
{
    struct tok_json *j = calloc(1, sizeof *j);
    if (j) j->type = type;
    return j;
}

void tok_json_free(struct tok_json *j)
{
    if (!j) return;
    for (size_t i = 0; i < j->n; i++) {
        tok_json_free(j->vals[i]);
        if (j->keys) free(j->keys[i].s);
    }
    free(j->vals);
    free(j->keys);
    free(j->s);
    free(j);
}

/* ---- reader ------------------------------------------------------------------------------ */

static void tok_json_ws(struct tok_json_parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static bool tok_json_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

/* The value of 4 hex digits at `at`, or -1. */
static int32_t tok_json_hex4(const struct tok_json_parser *p, size_t at)
{
    if (at > p->len || p->len - at < 4) return -1;
    int32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        char c = p->s[at + i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static int tok_json_put_utf8(struct tok_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return tok_buf_append(b, u, n);
}

/* Reads the string starting at the '"' at p->pos into `b` (decoded UTF-8). */
static int tok_json_string(struct tok_json_parser *p, struct tok_buf *b)
{
    size_t start = p->pos++;
    char d[16];
    for (;;) {
        if (p->pos >= p->len) return tok_json_fail(p, start, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            /* An empty string still gets a NUL-terminated buffer. */
            return b->s ? TOK_OK : tok_buf_append(b, "", 0);
        }
        if (c < 0x20)
            return tok_json_fail(p, p->pos, "raw control character U+%04X in a string", c);
        if (c != '\\') {
            size_t end = p->pos + 1;
            while (end < p->len) {
                unsigned char e = (unsigned char)p->s[end];
                if (e == '"' || e == '\\' || e < 0x20) break;
                end++;
            }
            if (tok_buf_append(b, p->s + p->pos, end - p->pos) != TOK_OK) return TOK_ERR_NOMEM;
            p->pos = end;
            continue;
        }
        if (p->pos + 1 >= p->len) return tok_json_fail(p, start, "unterminated string");
        char e = p->s[p->pos + 1];
        char lit = 0;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': break;
        default:
            return tok_json_fail(p, p->pos, "invalid escape '\\' followed by %s",
                                 tok_json_desc(p, p->pos + 1, d, sizeof d));
        }
        if (e != 'u') {
            if (tok_buf_append(b, &lit, 1) != TOK_OK) return TOK_ERR_NOMEM;
            p->pos += 2;
            continue;
        }
        int32_t cp = tok_json_hex4(p, p->pos + 2);
        if (cp < 0) return tok_json_fail(p, p->pos, "invalid \\u escape (needs 4 hex digits)");
        size_t used = 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return tok_json_fail(p, p->pos, "lone low surrogate \\u%04X", (unsigned)cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* Only a following low-surrogate escape completes it. */
            int32_t lo = -1;
            if (p->pos + 7 < p->len && p->s[p->pos + 6] == '\\' && p->s[p->pos + 7] == 'u')
                lo = tok_json_hex4(p, p->pos + 8);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return tok_json_fail(p, p->pos, "lone high surrogate \\u%04X", (unsigned)cp);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            used = 12;
        }
        if (tok_json_put_utf8(b, (uint32_t)cp) != TOK_OK) return TOK_ERR_NOMEM;
        p->pos += used;
    }
}

static int tok_json_number(struct tok_json_parser *p, struct tok_json **out)
{
    size_t st = p->pos, i = st;
    const char *s = p->s;
    bool is_int = true;
    if (s[i] == '-') i++;
    if (i >= p->len || !tok_json_isdigit(s[i])) return tok_json_fail(p, st, "invalid number");
    size_t dstart = i;
    if (s[i] == '0') {
        i++;
        if (i < p->len && tok_json_isdigit(s[i]))
            return tok_json_fail(p, st, "number with a leading zero");
    } else {
        while (i < p->len && tok_json_isdigit(s[i]))
            i++;
    }
    size_t ndigits = i - dstart;
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || !tok_json_isdigit(s[i]))
            return tok_json_fail(p, i, "expected a digit after the decimal point");
        while (i < p->len && tok_json_isdigit(s[i]))
            i++;
        is_int = false;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->len || !tok_json_isdigit(s[i]))
            return tok_json_fail(p, i, "expected a digit in the exponent");
        while (i < p->len && tok_json_isdigit(s[i]))
            i++;
        is_int = false;
    }
    if (is_int && ndigits > TOK_JSON_MAX_INT_DIGITS)
        return tok_json_fail(p, st, "integer longer than %d digits", TOK_JSON_MAX_INT_DIGITS);
    struct tok_json *j = tok_json_node(TOK_JSON_NUMBER);
    struct tok_buf b = {0};
    if (!j || tok_buf_append(&b, s + st, i - st) != TOK_OK) {
        free(j);
        tok_buf_done(&b);
        return TOK_ERR_NOMEM;
    }
    j->s = b.s;
    j->len = b.len;
    j->is_int = is_int;
    p->pos = i;
    *out = j;
    return TOK_OK;
}

/* Appends `v` (and, for objects, `key`) to container `j`, growing it; on failure nothing
 * changes hands and the caller still owns v and key. */
static int tok_json_push(struct tok_json *j, size_t *cap, struct tok_json *v,
                         struct tok_json_key key)
{
    if (j->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        if (nc > SIZE_MAX / sizeof *j->keys) return TOK_ERR_NOMEM;
        struct tok_json **vals = realloc(j->vals, nc * sizeof *vals);
        if (!vals) return TOK_ERR_NOMEM;
        j->vals = vals;
        if (j->type == TOK_JSON_OBJECT) {
            struct tok_json_key *keys = realloc(j->keys, nc * sizeof *keys);
            if (!keys) return TOK_ERR_NOMEM;
            j->keys = keys;
        }
        *cap = nc;
    }
    if (j->type == TOK_JSON_OBJECT) j->keys[j->n] = key;
    j->vals[j->n++] = v;
    return TOK_OK;
}

static int tok_json_array(struct tok_json_parser *p, int depth, struct tok_json **out)
{
    char d[16];
    size_t cap = 0;
    int rc;
    struct tok_json *j = tok_json_node(TOK_JSON_ARRAY);
    if (!j) return TOK_ERR_NOMEM;
    p->pos++;
    tok_json_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        goto done;
    }
    for (;;) {
        struct tok_json *v = NULL;
        rc = tok_json_value(p, depth, &v);
        if (rc != TOK_OK) goto fail;
        rc = tok_json_push(j, &cap, v, (struct tok_json_key){0});
        if (rc != TOK_OK) {
            tok_json_free(v);
            goto fail;
        }
        tok_json_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            tok_json_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ']') {
                rc = tok_json_fail(p, p->pos, "trailing comma before ']'");
                goto fail;
            }
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            break;
        }
        rc = tok_json_fail(p, p->pos, "expected ',' or ']' in an array, found %s",
                           tok_json_desc(p, p->pos, d, sizeof d));
        goto fail;
    }
done:
    *out = j;
    return TOK_OK;
fail:
    tok_json_free(j);
    return rc;
}

struct tok_json_kidx {
    const char *s;
    size_t len, i;
};

static int tok_json_kidx_cmp(const void *a, const void *b)
{
    const struct tok_json_kidx *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Python's dict rule for repeated keys: the first occurrence keeps its position and takes
 * the last occurrence's value. Sorting (key, position) finds the repeats in O(n log n), so
 * an object with very many keys cannot make this quadratic. */
static int tok_json_dedupe(struct tok_json *j)
{
    if (j->n < 2) return TOK_OK;
    struct tok_json_kidx *ix = malloc(j->n * sizeof *ix);
    if (!ix) return TOK_ERR_NOMEM;
    for (size_t i = 0; i < j->n; i++)
        ix[i] = (struct tok_json_kidx){j->keys[i].s, j->keys[i].len, i};
    qsort(ix, j->n, sizeof *ix, tok_json_kidx_cmp);
    bool any = false;
    for (size_t a = 0, b; a < j->n; a = b) {
        for (b = a + 1; b < j->n; b++)
            if (ix[b].len != ix[a].len || memcmp(ix[b].s, ix[a].s, ix[a].len) != 0) break;
        if (b - a < 2) continue;
        any = true;
        size_t first = ix[a].i, last = ix[b - 1].i;
        struct tok_json *t = j->vals[first];
        j->vals[first] = j->vals[last];
        j->vals[last] = t; /* freed below with the other repeats */
        for (size_t k = a + 1; k < b; k++) {
            size_t at = ix[k].i;
            tok_json_free(j->vals[at]);
            j->vals[at] = NULL;
            free(j->keys[at].s);
            j->keys[at].s = NULL;
        }
    }
    free(ix);
    if (!any) return TOK_OK;
    size_t w = 0;
    for (size_t r = 0; r < j->n; r++) {
        if (!j->keys[r].s) continue;
        j->keys[w] = j->keys[r];
        j->vals[w] = j->vals[r];
        w++;
    }
    j->n = w;
    return TOK_OK;
}

static int tok_json_object(struct tok_json_parser *p, int depth, struct tok_json **out)
{
    char d[16];
    size_t cap = 0;
    int rc;
    struct tok_json *j = tok_json_node(TOK_JSON_OBJECT);
    if (!j) return TOK_ERR_NOMEM;
    p->pos++;
    tok_json_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        goto done;
    }
    for (;;) {
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            rc = tok_json_fail(p, p->pos, "expected a string key in an object, found %s",
                               tok_json_desc(p, p->pos, d, sizeof d));
            goto fail;
        }
        struct tok_buf kb = {0};
        rc = tok_json_string(p, &kb);
        if (rc != TOK_OK) {
            tok_buf_done(&kb);
            goto fail;
        }
        struct tok_json_key key = {kb.s, kb.len};
        tok_json_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') {
            free(key.s);
            rc = tok_json_fail(p, p->pos, "expected ':' after an object key, found %s",
                               tok_json_desc(p, p->pos, d, sizeof d));
            goto fail;
        }
        p->pos++;
        struct tok_json *v = NULL;
        rc = tok_json_value(p, depth, &v);
        if (rc == TOK_OK) rc = tok_json_push(j, &cap, v, key);
        if (rc != TOK_OK) {
            tok_json_free(v);
            free(key.s);
            goto fail;
        }
        tok_json_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            tok_json_ws(p);
            if (p->pos < p->len && p->s[p->pos] == '}') {
                rc = tok_json_fail(p, p->pos, "trailing comma before '}'");
                goto fail;
            }
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            break;
        }
        rc = tok_json_fail(p, p->pos, "expected ',' or '}' in an object, found %s",
                           tok_json_desc(p, p->pos, d, sizeof d));
        goto fail;
    }
    rc = tok_json_dedupe(j);
    if (rc != TOK_OK) goto fail;
done:
    *out = j;
    return TOK_OK;
fail:
    tok_json_free(j);
    return rc;
}

/* Parses one value at p->pos. `depth` counts the containers around it. */
static int tok_json_value(struct tok_json_parser *p, int depth, struct tok_json **out)
{
    char d[16];
    tok_json_ws(p);
    if (p->pos >= p->len) return tok_json_fail(p, p->pos, "unexpected end of input");
    char c = p->s[p->pos];
    if (c == '[' || c == '{') {
        if (depth >= TOK_JSON_MAX_DEPTH)
            return tok_json_fail(p, p->pos, "nesting deeper than %d levels", TOK_JSON_MAX_DEPTH);
        return c == '[' ? tok_json_array(p, depth + 1, out) : tok_json_object(p, depth + 1, out);
    }
    if (c == '"') {
        struct tok_buf b = {0};
        int rc = tok_json_string(p, &b);
        struct tok_json *j = rc == TOK_OK ? tok_json_node(TOK_JSON_STRING) : NULL;
        if (!j) {
            tok_buf_done(&b);
            return rc != TOK_OK ? rc : TOK_ERR_NOMEM;
        }
        j->s = b.s;
        j->len = b.len;
        *out = j;
        return TOK_OK;
    }
    if (c == '-' || tok_json_isdigit(c)) return tok_json_number(p, out);
    static const struct {
        const char *word;
        enum tok_json_type type;
    } words[] = {{"true", TOK_JSON_TRUE}, {"false", TOK_JSON_FALSE}, {"null", TOK_JSON_NULL}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i].word);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[i].word, n) == 0) {
            struct tok_json *j = tok_json_node(words[i].type);
            if (!j) return TOK_ERR_NOMEM;
            p->pos += n;
            *out = j;
            return TOK_OK;
        }
    }
    return tok_json_fail(p, p->pos, "unexpected %s where a value was expected",
                         tok_json_desc(p, p->pos, d, sizeof d));
}

int tok_json_parse(const char *text, size_t len, struct tok_json **out, char **why)
{
    *out = NULL;
    if (len > TOK_JSON_MAX_INPUT)
        return tok_fail(why, TOK_ERR_RANGE, "JSON text of %zu bytes is over the %d-byte cap", len,
                        (int)TOK_JSON_MAX_INPUT);
    struct tok_json_parser p = {text ? text : "", text ? len : 0, 0, why};
    size_t ok = tok_utf8_valid_prefix((const uint8_t *)p.s, p.len);
    if (ok < p.len)
        return tok_json_fail(&p, ok, "invalid UTF-8 (byte 0x%02X at offset %zu)",
                             (unsigned char)p.s[ok], ok);
    struct tok_json *j = NULL;
    int rc = tok_json_value(&p, 0, &j);
    if (rc != TOK_OK) return rc;
    tok_json_ws(&p);
    if (p.pos < p.len) {
        char d[16];
        tok_json_free(j);
        return tok_json_fail(&p, p.pos, "unexpected %s after the JSON value",
                             tok_json_desc(&p, p.pos, d, sizeof d));
    }
    *out = j;
    return TOK_OK;
}

const struct tok_json *tok_json_get(const struct tok_json *obj, const char *key)
{
    if (!obj || obj->type != TOK_JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->keys[i].len == n && memcmp(obj->keys[i].s, key, n) == 0) return obj->vals[i];
    return NULL;
}

/* ---- numbers as Python prints them ------------------------------------------------------- */

/* Runs number conversions in the "C" numeric locale on this thread only, whatever the
 * application set with setlocale (a decimal comma would break both strtod and printf). */
struct tok_json_cloc {
    locale_t loc, old;
};

static int tok_json_cloc_begin(struct tok_json_cloc *c)
{
    c->loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!c->loc) return TOK_ERR_NOMEM;
    c->old = uselocale(c->loc);
    return TOK_OK;
}

static void tok_json_cloc_end(struct tok_json_cloc *c)
{
    uselocale(c->old);
    freelocale(c->loc);
}

/* Decimal digits of a non-negative double: value = dig[0].dig[1..n) x 10^exp. */
struct tok_json_dec {
    char dig[24];
    int n, exp;
};

/* Reads the output of printf("%.*e") in the C locale ("d.ddde+XX"). */
static void tok_json_dec_read(const char *s, struct tok_json_dec *d)
{
    d->n = 0;
    while (*s && *s != 'e') {
        if (tok_json_isdigit(*s) && d->n < (int)sizeof d->dig - 1) d->dig[d->n++] = *s;
        s++;
    }
    d->dig[d->n] = 0;
    d->exp = *s == 'e' ? atoi(s + 1) : 0;
}

static bool tok_json_dec_trip(const struct tok_json_dec *d, double want)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%c.%se%d", d->dig[0], d->dig + 1, d->exp);
    return strtod(buf, NULL) == want;
}

/* Adds `delta` (+1 or -1) to the last digit, keeping the digit count; false when that
 * would change the count (a carry out of the top, or a borrow into it). */
static bool tok_json_dec_step(struct tok_json_dec *d, int delta)
{
    for (int i = d->n - 1; i >= 0; i--) {
        int v = d->dig[i] - '0' + delta;
        if (v >= 0 && v <= 9) {
            d->dig[i] = (char)('0' + v);
            return !(i == 0 && v == 0);
        }
        d->dig[i] = delta > 0 ? '0' : '9';
    }
    return false;
}

/* Shortest digits that read back as `a` (finite, >= 0). The correctly rounded p-digit
 * decimal is the nearest one; next to a power of two the round-trip interval is lopsided,
 * so when the nearest fails a neighbour one unit away may still succeed at that length. */
static void tok_json_shortest(double a, struct tok_json_dec *d)
{
    char buf[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, a);
        tok_json_dec_read(buf, d);
        if (tok_json_dec_trip(d, a)) break;
        struct tok_json_dec up = *d, down = *d;
        if (tok_json_dec_step(&up, 1) && tok_json_dec_trip(&up, a)) {
            *d = up;
            break;
        }
        if (tok_json_dec_step(&down, -1) && tok_json_dec_trip(&down, a)) {
            *d = down;
            break;
        }
    }
    while (d->n > 1 && d->dig[d->n - 1] == '0')
        d->dig[--d->n] = 0;
}

/* Appends repr(float(lit)); infinities as "Infinity" (json.dumps) or "inf" (str). */
static int tok_json_put_float(struct tok_buf *out, const char *lit, bool json_inf)
{
    struct tok_json_cloc cl;
    if (tok_json_cloc_begin(&cl) != TOK_OK) return TOK_ERR_NOMEM;
    double v = strtod(lit, NULL);
    bool neg = signbit(v) != 0;
    double a = neg ? -v : v;
    struct tok_json_dec d = {{0}, 0, 0};
    if (!isinf(a)) tok_json_shortest(a, &d);
    tok_json_cloc_end(&cl);
    if (isinf(a)) {
        const char *s = json_inf ? (neg ? "-Infinity" : "Infinity") : (neg ? "-inf" : "inf");
        return tok_buf_puts(out, s);
    }
    /* Longest case: "-0.0000" + 17 digits, or 17 digits + 15 zeros + ".0". */
    char buf[64];
    size_t k = 0;
    if (neg) buf[k++] = '-';
    if (d.exp >= -4 && d.exp < 16) {
        int point = d.exp + 1; /* digits before the decimal point */
        if (point <= 0) {
            buf[k++] = '0';
            buf[k++] = '.';
            for (int i = 0; i < -point; i++)
                buf[k++] = '0';
            for (int i = 0; i < d.n; i++)
                buf[k++] = d.dig[i];
        } else if (point < d.n) {
            for (int i = 0; i < d.n; i++) {
                if (i == point) buf[k++] = '.';
                buf[k++] = d.dig[i];
            }
        } else {
            for (int i = 0; i < d.n; i++)
                buf[k++] = d.dig[i];
            for (int i = d.n; i < point; i++)
                buf[k++] = '0';
            buf[k++] = '.';
            buf[k++] = '0';
        }
    } else {
        buf[k++] = d.dig[0];
        if (d.n > 1) {
            buf[k++] = '.';
            for (int i = 1; i < d.n; i++)
                buf[k++] = d.dig[i];
        }
        int e = d.exp < 0 ? -d.exp : d.exp;
        k += (size_t)snprintf(buf + k, sizeof buf - k, "e%c%02d", d.exp < 0 ? '-' : '+', e);
    }
    return tok_buf_append(out, buf, k);
}

/* Appends int(lit) as Python prints it: the literal, but "-0" is "0". */
static int tok_json_put_int(struct tok_buf *out, const char *lit, size_t len)
{
    if (len > 1 && lit[0] == '-' && strspn(lit + 1, "0") == len - 1) return tok_buf_puts(out, "0");
    return tok_buf_append(out, lit, len);
}

static int tok_json_put_number(struct tok_buf *out, const struct tok_json *j, bool json_inf)
{
    return j->is_int ? tok_json_put_int(out, j->s, j->len)
                     : tok_json_put_float(out, j->s, json_inf);
}

bool tok_json_truthy(const struct tok_json *j)
{
    if (!j) return false;
    switch (j->type) {
    case TOK_JSON_NULL:
    case TOK_JSON_FALSE: return false;
    case TOK_JSON_TRUE: return true;
    case TOK_JSON_STRING: return j->len > 0;
    case TOK_JSON_ARRAY:
    case TOK_JSON_OBJECT: return j->n > 0;
    case TOK_JSON_NUMBER: break;
    }
    /* Zero when every mantissa digit is 0; a float can also underflow to 0.0 (1e-400). */
    bool nonzero = false;
    for (size_t i = 0; i < j->len && j->s[i] != 'e' && j->s[i] != 'E'; i++)
        if (j->s[i] >= '1' && j->s[i] <= '9') nonzero = true;
    if (!nonzero || j->is_int) return nonzero;
    struct tok_json_cloc cl;
    if (tok_json_cloc_begin(&cl) != TOK_OK) return true; /* cannot tell; it is not 0 literally */
    double v = strtod(j->s, NULL);
    tok_json_cloc_end(&cl);
    return v != 0.0;
}

int tok_json_str(const struct tok_json *j, struct tok_buf *out)
{
    switch (j->type) {
    case TOK_JSON_NULL: return tok_buf_puts(out, "None");
    case TOK_JSON_FALSE: return tok_buf_puts(out, "False");
    case TOK_JSON_TRUE: return tok_buf_puts(out, "True");
    case TOK_JSON_STRING: return tok_buf_append(out, j->s, j->len);
    case TOK_JSON_NUMBER: return tok_json_put_number(out, j, false);
    case TOK_JSON_ARRAY:
    case TOK_JSON_OBJECT: break;
    }
    return TOK_ERR_INPUT;
}

/* ---- writer ------------------------------------------------------------------------------ */

struct tok_json_out {
    struct tok_buf *b;
    size_t max;
};

static int tok_json_emit(struct tok_json_out *o, const char *s, size_t n)
{
    if (o->b->len > o->max || n > o->max - o->b->len) return TOK_ERR_RANGE;
    return tok_buf_append(o->b, s, n);
}

static int tok_json_indent(struct tok_json_out *o, int level)
{
    static const char spaces[] = "                                                                ";
    size_t n = (size_t)level * 4;
    while (n > 0) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        int rc = tok_json_emit(o, spaces, k);
        if (rc != TOK_OK) return rc;
        n -= k;
    }
    return TOK_OK;
}

/* A JSON string as json.dumps(ensure_ascii=False) writes it: \" \\ \n \r \t \b \f, other
 * characters below U+0020 as \u00xx (lower-case hex), everything else as is. */
static int tok_json_emit_string(struct tok_json_out *o, const char *s, size_t n)
{
    int rc = tok_json_emit(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; rc == TOK_OK && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        char esc[8];
        size_t k = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default: k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c); break;
        }
        rc = tok_json_emit(o, s + run, i - run);
        if (rc == TOK_OK) rc = tok_json_emit(o, esc, k);
        run = i + 1;
    }
    if (rc == TOK_OK) rc = tok_json_emit(o, s + run, n - run);
    if (rc == TOK_OK) rc = tok_json_emit(o, "\"", 1);
    return rc;
}

static int tok_json_emit_value(struct tok_json_out *o, const struct tok_json *j, int level)
{
    int rc = TOK_OK;
    switch (j->type) {
    case TOK_JSON_NULL: return tok_json_emit(o, "null", 4);
    case TOK_JSON_FALSE: return tok_json_emit(o, "false", 5);
    case TOK_JSON_TRUE: return tok_json_emit(o, "true", 4);
    case TOK_JSON_STRING: return tok_json_emit_string(o, j->s, j->len);
    case TOK_JSON_NUMBER: {
        struct tok_buf nb = {0};
        rc = tok_json_put_number(&nb, j, true);
        if (rc == TOK_OK) rc = tok_json_emit(o, nb.s, nb.len);
        tok_buf_done(&nb);
        return rc;
    }
    case TOK_JSON_ARRAY:
    case TOK_JSON_OBJECT: break;
    }
    bool obj = j->type == TOK_JSON_OBJECT;
    if (j->n == 0) return tok_json_emit(o, obj ? "{}" : "[]", 2);
    rc = tok_json_emit(o, obj ? "{\n" : "[\n", 2);
    for (size_t i = 0; rc == TOK_OK && i < j->n; i++) {
        if (i > 0) rc = tok_json_emit(o, ",\n", 2);
        if (rc == TOK_OK) rc = tok_json_indent(o, level + 1);
        if (rc == TOK_OK && obj) rc = tok_json_emit_string(o, j->keys[i].s, j->keys[i].len);
        if (rc == TOK_OK && obj) rc = tok_json_emit(o, ": ", 2);
        if (rc == TOK_OK) rc = tok_json_emit_value(o, j->vals[i], level + 1);
    }
    if (rc == TOK_OK) rc = tok_json_emit(o, "\n", 1);
    if (rc == TOK_OK) rc = tok_json_indent(o, level);
    if (rc == TOK_OK) rc = tok_json_emit(o, obj ? "}" : "]", 1);
    return rc;
}

int tok_json_dump(const struct tok_json *j, struct tok_buf *out, size_t max_len)
{
    struct tok_json_out o = {out, max_len};
    return tok_json_emit_value(&o, j, 0);
}
