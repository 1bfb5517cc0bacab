/* Growable id arrays and byte strings used across the tokenizer, plus the `why` helper.
 * Growth doubles; a size that would overflow is an out-of-memory error, never a wrap. */
#include "tokenizer/tok_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tok_ids_push(struct tok_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *ids->v) return TOK_ERR_NOMEM;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v) return TOK_ERR_NOMEM;
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return TOK_OK;
}

void tok_ids_done(struct tok_ids *ids)
{
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->cap = 0;
}

int tok_buf_reserve(struct tok_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) return TOK_ERR_NOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return TOK_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *s = realloc(b->s, cap);
    if (!s) return TOK_ERR_NOMEM;
    b->s = s;
    b->cap = cap;
    b->s[b->len] = 0; /* the promise of tokenizer.h: s is always NUL-terminated */
    return TOK_OK;
}

int tok_buf_append(struct tok_buf *b, const void *p, size_t n)
{
    if (tok_buf_reserve(b, n) != TOK_OK) return TOK_ERR_NOMEM;
    if (n) memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
    return TOK_OK;
}

int tok_buf_puts(struct tok_buf *b, const char *s)
{
    return tok_buf_append(b, s, strlen(s));
}

void tok_buf_done(struct tok_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

int tok_fail(char **why, int err, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
        va_end(ap);
        free(*why);
        *why = msg;
    }
    return err;
}

int tok_utf8_classify(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    int len;
    uint8_t lo = 0x80, hi = 0xBF; /* the second byte's range (RFC 3629 table) */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0)
        len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
        len = 3;
    else if (c == 0xED)
        len = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF)
        len = 3;
    else if (c == 0xF0)
        len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else if (c == 0xF4)
        len = 4, hi = 0x8F;
    else
        return -1;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return 0;
        uint8_t lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
        if (s[i] < lo_i || s[i] > hi_i) return -i;
    }
    return len;
}

size_t tok_utf8_valid_prefix(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) { /* ASCII: the common case, without the call */
            i++;
            continue;
        }
        int r = tok_utf8_classify(s + i, n - i);
        if (r <= 0) return i;
        i += (size_t)r;
    }
    return n;
}

int tok_utf8_check(const char *s, size_t n, char **why)
{
    size_t ok = tok_utf8_valid_prefix((const uint8_t *)s, n);
    if (ok != n)
        return tok_fail(why, TOK_ERR_INPUT, "invalid UTF-8 at byte %zu (0x%02x)", ok,
                        (unsigned)(uint8_t)s[ok]);
    return TOK_OK;
}
