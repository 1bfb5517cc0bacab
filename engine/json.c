/* Strict RFC 8259 JSON reader for the engine (config.json, safetensors headers, shard index).
 *
 * Why not cJSON: DESIGN.md's module table allows engine/ only libc, pthreads and OpenBLAS;
 * cJSON belongs to app/ and tools/, and the tokenizer's reader is another module. So the
 * engine carries this small reader of its own.
 *
 * Data model: a recursive-descent parser over a byte range that is never assumed to be
 * NUL-terminated (safetensors headers are read straight from a mapping). Values are built on
 * one growable "pending" stack: a container's children are pushed as they are parsed and, when
 * the container closes, moved into one exact-size array. Every node, string and child array
 * lives in an arena owned by the document, so the tree is freed in one sweep and a failed
 * parse cannot leak. Recursion depth, input size and value count are capped (eng_json.h), so
 * memory stays proportional to the input and the C stack is bounded.
 *
 * Numbers: the grammar is checked by hand; the double comes from strtod under the "C" locale
 * (uselocale, so a program that called setlocale for curses still reads '.' as the point);
 * whether the value is an integer, and which, is decided exactly from the decimal digits.
 */
#include "engine/eng_json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_MIN_CHUNK  4096       /* first chunk: enough for a config.json */
#define ARENA_MAX_CHUNK  (1u << 20) /* chunk sizes double up to this */
#define NUMBER_MAX_CHARS 4096       /* RFC 8259 §9 lets a parser limit number length */
#define EXP_SATURATE     100000     /* exponents beyond this are out of range either way */

/* ---- arena -------------------------------------------------------------------------------- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[]; /* cap bytes */
};

struct eng_json_doc {
    struct arena_chunk *chunks; /* newest first */
    size_t n_chunks;
    struct eng_json root;
};

/* `n` bytes aligned for any value, or NULL when out of memory. */
static void *arena_alloc(struct eng_json_doc *doc, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0) n = align;
    struct arena_chunk *c = doc->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = ARENA_MIN_CHUNK;
        for (size_t i = 0; i < doc->n_chunks && cap < ARENA_MAX_CHUNK; i++)
            cap *= 2;
        if (cap < n) cap = n;
        if (cap > SIZE_MAX - sizeof *c) return NULL;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = doc->chunks;
        c->used = 0;
        c->cap = cap;
        doc->chunks = c;
        doc->n_chunks++;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

/* ---- the "C" numeric locale ------------------------------------------------------------- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale = (locale_t)0;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* ---- parser ------------------------------------------------------------------------------- */

struct pending {
    struct eng_json v;
    size_t key_pos; /* byte offset of the member's key, for duplicate-key messages */
};

struct parser {
    const uint8_t *s;
    size_t n, pos;
    struct eng_json_doc *doc;
    struct pending *stack; /* children of the containers being parsed */
    size_t stack_len, stack_cap;
    size_t n_values;
    char *sbuf; /* string decoding scratch */
    size_t sbuf_cap;
    bool failed;
    size_t err_pos;
    char msg[200];
};

static bool fail_at(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error and returns false. */
static bool fail_at(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed) return false;
    p->failed = true;
    p->err_pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    return false;
}

static bool nomem(struct parser *p)
{
    return fail_at(p, p->pos, "out of memory");
}

/* "unexpected 'x'", "unexpected byte 0x80" or "unexpected end of input" at the cursor. */
static bool unexpected(struct parser *p, const char *expecting)
{
    if (p->pos >= p->n)
        return fail_at(p, p->pos, "unexpected end of input, expected %s", expecting);
    uint8_t c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7f)
        return fail_at(p, p->pos, "unexpected '%c', expected %s", (char)c, expecting);
    return fail_at(p, p->pos, "unexpected byte 0x%02x, expected %s", c, expecting);
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->n) {
        uint8_t c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static bool count_value(struct parser *p)
{
    if (++p->n_values > ENG_JSON_MAX_VALUES)
        return fail_at(p, p->pos, "more than %u values", (unsigned)ENG_JSON_MAX_VALUES);
    return true;
}

static bool push(struct parser *p, const struct eng_json *v, size_t key_pos)
{
    if (p->stack_len == p->stack_cap) {
        size_t cap = p->stack_cap ? p->stack_cap * 2 : 64;
        struct pending *s = realloc(p->stack, cap * sizeof *s);
        if (!s) return nomem(p);
        p->stack = s;
        p->stack_cap = cap;
    }
    p->stack[p->stack_len].v = *v;
    p->stack[p->stack_len].key_pos = key_pos;
    p->stack_len++;
    return true;
}

static bool sbuf_reserve(struct parser *p, size_t n)
{
    if (n <= p->sbuf_cap) return true;
    size_t cap = p->sbuf_cap ? p->sbuf_cap : 256;
    while (cap < n)
        cap *= 2;
    char *b = realloc(p->sbuf, cap);
    if (!b) return nomem(p);
    p->sbuf = b;
    p->sbuf_cap = cap;
    return true;
}

/* Length of the well-formed UTF-8 sequence at s[0..avail), or 0 when it is not one
 * (Unicode 15 §3.9, table 3-7: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const uint8_t *s, size_t avail)
{
    uint8_t c = s[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (avail < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

static int hex4(const uint8_t *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
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

static size_t put_utf8(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at the cursor (which is on the opening quote): decoded into the arena. */
static bool parse_string(struct parser *p, const char **out, size_t *out_len)
{
    size_t start = ++p->pos, o = 0;
    /* Decoded text is never longer than the source, so one reservation of the rest of the
     * input would do; reserve as we go instead to keep short strings cheap. */
    for (;;) {
        if (p->pos >= p->n) return fail_at(p, start - 1, "unterminated string");
        if (!sbuf_reserve(p, o + 4)) return false;
        uint8_t c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return fail_at(p, p->pos, "control character 0x%02x in a string (escape it)", c);
        if (c == '\\') {
            if (p->n - p->pos < 2) return fail_at(p, p->n, "unterminated string");
            uint8_t e = p->s[p->pos + 1];
            char simple = 0;
            switch (e) {
            case '"': simple = '"'; break;
            case '\\': simple = '\\'; break;
            case '/': simple = '/'; break;
            case 'b': simple = '\b'; break;
            case 'f': simple = '\f'; break;
            case 'n': simple = '\n'; break;
            case 'r': simple = '\r'; break;
            case 't': simple = '\t'; break;
            case 'u': break;
            default:
                if (e >= 0x20 && e < 0x7f)
                    return fail_at(p, p->pos, "invalid escape '\\%c'", (char)e);
                return fail_at(p, p->pos, "invalid escape (byte 0x%02x after '\\')", e);
            }
            if (e != 'u') {
                p->sbuf[o++] = simple;
                p->pos += 2;
                continue;
            }
            size_t esc = p->pos;
            int u = p->n - p->pos >= 6 ? hex4(p->s + p->pos + 2) : -1;
            if (u < 0) return fail_at(p, esc, "invalid \\u escape (4 hex digits expected)");
            p->pos += 6;
            uint32_t cp = (uint32_t)u;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail_at(p, esc, "lone low surrogate \\u%04X", (unsigned)cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = (p->n - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u')
                             ? hex4(p->s + p->pos + 2)
                             : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail_at(p, esc, "high surrogate \\u%04X not followed by a low one",
                                   (unsigned)cp);
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
            }
            o += put_utf8(p->sbuf + o, cp);
            continue;
        }
        size_t k = utf8_len(p->s + p->pos, p->n - p->pos);
        if (k == 0) return fail_at(p, p->pos, "invalid UTF-8 in a string");
        memcpy(p->sbuf + o, p->s + p->pos, k);
        o += k;
        p->pos += k;
    }
    char *dst = arena_alloc(p->doc, o + 1);
    if (!dst) return nomem(p);
    if (o) memcpy(dst, p->sbuf, o);
    dst[o] = 0;
    *out = dst;
    *out_len = o;
    return true;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Decides from the digits whether the number is an integer within int64_t, exactly.
 * digits: the significand's digits (integer part then fraction) without the point;
 * e10: the decimal exponent applied to them. */
static bool exact_int(const uint8_t *int_d, size_t n_int, const uint8_t *frac_d, size_t n_frac,
                      long e10, bool neg, int64_t *out)
{
    /* The significand as one digit sequence: int_d then frac_d. */
    size_t total = n_int + n_frac, first = 0, last = total; /* significant range [first,last) */
#define DIGIT(i) ((i) < n_int ? int_d[i] : frac_d[(i)-n_int])
    while (first < total && DIGIT(first) == '0')
        first++;
    if (first == total) {
        *out = 0;
        return true;
    }
    while (DIGIT(last - 1) == '0') {
        last--;
        e10++;
    }
    if (e10 < 0) return false;                         /* a nonzero fractional digit remains */
    if ((long)(last - first) + e10 > 19) return false; /* at least 10^19 > INT64_MAX */
    uint64_t v = 0;
    for (size_t i = first; i < last; i++)
        v = v * 10 + (uint64_t)(DIGIT(i) - '0');
#undef DIGIT
    for (long i = 0; i < e10; i++) {
        if (v > UINT64_MAX / 10) return false;
        v *= 10;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

/* A number at the cursor: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool parse_number(struct parser *p, struct eng_json *v)
{
    size_t start = p->pos;
    const uint8_t *s = p->s;
    bool neg = false;
    if (p->pos < p->n && s[p->pos] == '-') {
        neg = true;
        p->pos++;
    }
    size_t int_start = p->pos;
    if (p->pos >= p->n || !is_digit(s[p->pos])) return unexpected(p, "a digit");
    if (s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->n && is_digit(s[p->pos]))
            return fail_at(p, p->pos, "leading zero in a number");
    } else {
        while (p->pos < p->n && is_digit(s[p->pos]))
            p->pos++;
    }
    size_t n_int = p->pos - int_start, frac_start = p->pos, n_frac = 0;
    if (p->pos < p->n && s[p->pos] == '.') {
        frac_start = ++p->pos;
        if (p->pos >= p->n || !is_digit(s[p->pos]))
            return unexpected(p, "a digit after the decimal point");
        while (p->pos < p->n && is_digit(s[p->pos]))
            p->pos++;
        n_frac = p->pos - frac_start;
    }
    long exp = 0;
    if (p->pos < p->n && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        bool eneg = false;
        if (p->pos < p->n && (s[p->pos] == '+' || s[p->pos] == '-')) eneg = s[p->pos++] == '-';
        if (p->pos >= p->n || !is_digit(s[p->pos])) return unexpected(p, "a digit in the exponent");
        while (p->pos < p->n && is_digit(s[p->pos])) {
            if (exp < EXP_SATURATE) exp = exp * 10 + (s[p->pos] - '0');
            p->pos++;
        }
        if (eneg) exp = -exp;
    }
    size_t len = p->pos - start;
    if (len > NUMBER_MAX_CHARS)
        return fail_at(p, start, "number longer than %d characters", NUMBER_MAX_CHARS);

    /* strtod needs a NUL-terminated copy: the input may end right after the number. */
    if (!sbuf_reserve(p, len + 1)) return false;
    memcpy(p->sbuf, s + start, len);
    p->sbuf[len] = 0;
    locale_t old = uselocale(c_locale);
    if (old == (locale_t)0) return fail_at(p, start, "cannot select the C locale");
    char *end = NULL;
    errno = 0;
    double d = strtod(p->sbuf, &end);
    int err = errno;
    uselocale(old);
    if (end != p->sbuf + len) return fail_at(p, start, "malformed number");
    if (err == ERANGE && isinf(d)) return fail_at(p, start, "number out of range");

    v->type = ENG_JSON_NUMBER;
    v->number = d;
    v->is_int = exact_int(s + int_start, n_int, s + frac_start, n_frac, exp - (long)n_frac, neg,
                          &v->integer);
    if (!v->is_int) v->integer = 0;
    return true;
}

static bool parse_value(struct parser *p, struct eng_json *v, unsigned depth);

/* Moves the pending children above `base` into an arena array owned by container `v`. */
static bool close_container(struct parser *p, struct eng_json *v, size_t base)
{
    size_t n = p->stack_len - base;
    v->len = n;
    v->kids = NULL;
    if (n) {
        v->kids = arena_alloc(p->doc, n * sizeof *v->kids);
        if (!v->kids) return nomem(p);
        for (size_t i = 0; i < n; i++)
            v->kids[i] = p->stack[base + i].v;
    }
    return true;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 offset basis and prime */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3u;
    return h;
}

/* Fails on the first member (in document order) whose key repeats an earlier one. The
 * members are the pending entries [base, stack_len). */
static bool check_duplicates(struct parser *p, size_t base)
{
    size_t n = p->stack_len - base;
    const struct pending *m = p->stack + base;
    size_t dup = SIZE_MAX;
    if (n <= 16) {
        for (size_t i = 1; i < n && dup == SIZE_MAX; i++)
            for (size_t j = 0; j < i; j++)
                if (m[i].v.key_len == m[j].v.key_len &&
                    memcmp(m[i].v.key, m[j].v.key, m[i].v.key_len) == 0) {
                    dup = i;
                    break;
                }
    } else {
        size_t cap = 32;
        while (cap < 2 * n)
            cap *= 2;
        size_t *slots = calloc(cap, sizeof *slots); /* member index + 1; 0 = empty */
        if (!slots) return nomem(p);
        for (size_t i = 0; i < n && dup == SIZE_MAX; i++) {
            for (size_t h = hash_bytes(m[i].v.key, m[i].v.key_len) & (cap - 1);;
                 h = (h + 1) & (cap - 1)) {
                if (!slots[h]) {
                    slots[h] = i + 1;
                    break;
                }
                const struct eng_json *o = &m[slots[h] - 1].v;
                if (o->key_len == m[i].v.key_len && memcmp(o->key, m[i].v.key, o->key_len) == 0) {
                    dup = i;
                    break;
                }
            }
        }
        free(slots);
    }
    if (dup == SIZE_MAX) return true;
    char q[80];
    return fail_at(p, m[dup].key_pos, "duplicate key %s",
                   eng_json_quote(q, sizeof q, m[dup].v.key, m[dup].v.key_len));
}

static bool parse_array(struct parser *p, struct eng_json *v, unsigned depth)
{
    size_t base = p->stack_len;
    p->pos++; /* '[' */
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ']') {
        p->pos++;
    } else {
        for (;;) {
            struct eng_json kid;
            if (!parse_value(p, &kid, depth + 1)) return false;
            if (!push(p, &kid, 0)) return false;
            skip_ws(p);
            if (p->pos < p->n && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->n && p->s[p->pos] == ']') {
                p->pos++;
                break;
            }
            return unexpected(p, "',' or ']'");
        }
    }
    v->type = ENG_JSON_ARRAY;
    bool ok = close_container(p, v, base);
    p->stack_len = base;
    return ok;
}

static bool parse_object(struct parser *p, struct eng_json *v, unsigned depth)
{
    size_t base = p->stack_len;
    p->pos++; /* '{' */
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != '"') return unexpected(p, "a string key");
            size_t key_pos = p->pos;
            const char *key;
            size_t key_len;
            if (!parse_string(p, &key, &key_len)) return false;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') return unexpected(p, "':'");
            p->pos++;
            struct eng_json kid;
            if (!parse_value(p, &kid, depth + 1)) return false;
            kid.key = key;
            kid.key_len = key_len;
            if (!push(p, &kid, key_pos)) return false;
            skip_ws(p);
            if (p->pos < p->n && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->n && p->s[p->pos] == '}') {
                p->pos++;
                break;
            }
            return unexpected(p, "',' or '}'");
        }
    }
    v->type = ENG_JSON_OBJECT;
    bool ok = check_duplicates(p, base) && close_container(p, v, base);
    p->stack_len = base;
    return ok;
}

static bool literal(struct parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->n - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
        p->pos += n;
        return true;
    }
    return unexpected(p, "a value");
}

/* One value after optional whitespace; `depth` counts the containers around it. */
static bool parse_value(struct parser *p, struct eng_json *v, unsigned depth)
{
    memset(v, 0, sizeof *v);
    skip_ws(p);
    if (!count_value(p)) return false;
    if (p->pos >= p->n) return unexpected(p, "a value");
    switch (p->s[p->pos]) {
    case '{':
    case '[':
        if (depth >= ENG_JSON_MAX_DEPTH)
            return fail_at(p, p->pos, "nested deeper than %d levels", ENG_JSON_MAX_DEPTH);
        return p->s[p->pos] == '{' ? parse_object(p, v, depth) : parse_array(p, v, depth);
    case '"': v->type = ENG_JSON_STRING; return parse_string(p, &v->str, &v->len);
    case 't':
        v->type = ENG_JSON_BOOL;
        v->boolean = true;
        return literal(p, "true");
    case 'f': v->type = ENG_JSON_BOOL; return literal(p, "false");
    case 'n': v->type = ENG_JSON_NULL; return literal(p, "null");
    default:
        if (p->s[p->pos] == '-' || is_digit(p->s[p->pos])) return parse_number(p, v);
        return unexpected(p, "a value");
    }
}

/* Formats "line:col: msg" for the recorded error into a malloc'd string. */
static void set_why(const struct parser *p, char **why)
{
    if (!why) return;
    size_t line = 1, col = 1, end = p->err_pos < p->n ? p->err_pos : p->n;
    for (size_t i = 0; i < end; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else if ((p->s[i] & 0xc0) != 0x80) {
            col++; /* count characters, not UTF-8 continuation bytes */
        }
    }
    size_t cap = strlen(p->msg) + 48;
    char *w = malloc(cap);
    if (!w) return;
    snprintf(w, cap, "%zu:%zu: %s", line, col, p->msg);
    *why = w;
}

struct eng_json_doc *eng_json_parse(const char *text, size_t len, char **why)
{
    struct parser p = {.s = (const uint8_t *)text, .n = len};
    struct eng_json_doc *doc = NULL;
    if (why) *why = NULL;
    if (!text && len) {
        fail_at(&p, 0, "no input");
        goto out;
    }
    if (len > ENG_JSON_MAX_BYTES) {
        fail_at(&p, 0, "document of %zu bytes (at most %u)", len, (unsigned)ENG_JSON_MAX_BYTES);
        goto out;
    }
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale == (locale_t)0) {
        fail_at(&p, 0, "cannot create the C locale");
        goto out;
    }
    doc = calloc(1, sizeof *doc);
    if (!doc) {
        fail_at(&p, 0, "out of memory");
        goto out;
    }
    p.doc = doc;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) p.pos = 3; /* RFC 8259 §8.1 */
    if (!parse_value(&p, &doc->root, 0)) goto out;
    skip_ws(&p);
    if (p.pos < p.n) unexpected(&p, "the end after the value");
out:
    free(p.stack);
    free(p.sbuf);
    if (p.failed) {
        set_why(&p, why);
        eng_json_free(doc);
        return NULL;
    }
    return doc;
}

void eng_json_free(struct eng_json_doc *doc)
{
    if (!doc) return;
    struct arena_chunk *c = doc->chunks;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

const struct eng_json *eng_json_root(const struct eng_json_doc *doc)
{
    return doc ? &doc->root : NULL;
}

const struct eng_json *eng_json_get(const struct eng_json *obj, const char *key)
{
    if (!obj || obj->type != ENG_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->len; i++)
        if (obj->kids[i].key_len == n && memcmp(obj->kids[i].key, key, n) == 0)
            return &obj->kids[i];
    return NULL;
}

const struct eng_json *eng_json_at(const struct eng_json *v, size_t i)
{
    if (!v || (v->type != ENG_JSON_ARRAY && v->type != ENG_JSON_OBJECT) || i >= v->len) return NULL;
    return &v->kids[i];
}

const char *eng_json_type_name(enum eng_json_type type)
{
    switch (type) {
    case ENG_JSON_NULL: return "null";
    case ENG_JSON_BOOL: return "boolean";
    case ENG_JSON_NUMBER: return "number";
    case ENG_JSON_STRING: return "string";
    case ENG_JSON_ARRAY: return "array";
    case ENG_JSON_OBJECT: return "object";
    }
    return "?";
}

char *eng_json_quote(char *dst, size_t cap, const char *s, size_t len)
{
    if (!cap) return dst;
    char tmp[72];
    size_t n = len > 64 ? 64 : len, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        tmp[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    tmp[o] = 0;
    snprintf(dst, cap, "'%s%s'", tmp, len > n ? "..." : "");
    return dst;
}
