/* Decoding: ids -> UTF-8, incrementally.
 *
 * A token is a byte string that may end in the middle of a character (GLM-4 splits rare CJK
 * characters and emoji over several tokens), so the stream keeps at most 3 bytes of an
 * incomplete but so-far-valid sequence in `pend` and emits only whole characters. Bytes that
 * can never become valid are replaced at once by U+FFFD, one per maximal invalid subpart (the
 * Unicode "substitution of maximal subparts" practice, which Python's errors="replace" also
 * follows); what is still held at flush becomes one U+FFFD. The output therefore does not
 * depend on how the input was split, and a one-shot decode is just feed-all-then-flush.
 */
#include "tokenizer/tok_int.h"

#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

void tok_stream_init(struct tok_stream *st)
{
    st->npend = 0;
}

int tok_stream_feed_bytes(struct tok_stream *st, const uint8_t *p, size_t n, struct tok_buf *out)
{
    /* Worst case every byte becomes U+FFFD (3 bytes). */
    if (n > (SIZE_MAX - 16) / 3 || tok_buf_reserve(out, 3 * (n + st->npend)) != TOK_OK)
        return TOK_ERR_NOMEM;
    if (n == 0) return TOK_OK;
    /* First resolve held bytes by extending them from the input. */
    if (st->npend > 0) {
        uint8_t tmp[8];
        size_t take = n < 4 ? n : 4;
        memcpy(tmp, st->pend, st->npend);
        memcpy(tmp + st->npend, p, take);
        int r = tok_utf8_classify(tmp, st->npend + take);
        if (r == 0) { /* still incomplete: all input joins the held bytes */
            memcpy(st->pend + st->npend, p, take);
            st->npend += (uint32_t)take;
            return TOK_OK;
        }
        /* Held bytes are a valid prefix, so whatever decided the sequence (its last byte or
         * the offending one) comes from the input: used >= npend. */
        size_t used = r > 0 ? (size_t)r : (size_t)-r;
        if (r > 0)
            tok_buf_append(out, tmp, used);
        else
            tok_buf_append(out, REPLACEMENT, 3);
        if (used < st->npend) used = st->npend;
        p += used - st->npend;
        n -= used - st->npend;
        st->npend = 0;
    }
    size_t i = 0, run = 0; /* run: start of pending plain (valid) bytes to copy */
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int r = tok_utf8_classify(p + i, n - i);
        if (r > 0) {
            i += (size_t)r;
            continue;
        }
        tok_buf_append(out, p + run, i - run);
        if (r == 0) { /* incomplete at the end of the input: hold it */
            memcpy(st->pend, p + i, n - i);
            st->npend = (uint32_t)(n - i);
            return TOK_OK;
        }
        tok_buf_append(out, REPLACEMENT, 3);
        i += (size_t)-r;
        run = i;
    }
    tok_buf_append(out, p + run, n - run);
    return TOK_OK;
}

int tok_stream_feed(struct tok_stream *st, const struct tok_vocab *v, int32_t id,
                    struct tok_buf *out)
{
    if (id < 0 || id >= v->n_ids) return TOK_ERR_RANGE;
    if (v->kind[id] == TOK_KIND_RESERVED) return TOK_OK;
    if (v->kind[id] == TOK_KIND_SPECIAL) {
        const char *text = tok_special_text(v, id);
        /* Held bytes before a special token can no longer complete. */
        if (tok_stream_flush(st, out) != TOK_OK) return TOK_ERR_NOMEM;
        return text ? tok_buf_puts(out, text) : TOK_OK;
    }
    return tok_stream_feed_bytes(st, v->blob + v->off[id], v->off[id + 1] - v->off[id], out);
}

int tok_stream_flush(struct tok_stream *st, struct tok_buf *out)
{
    if (st->npend == 0) return TOK_OK;
    /* Held bytes are always one valid incomplete prefix: one U+FFFD. */
    st->npend = 0;
    return tok_buf_append(out, REPLACEMENT, 3);
}

int tok_decode(const struct tok_vocab *v, const int32_t *ids, size_t n, struct tok_buf *out,
               char **why)
{
    struct tok_stream st;
    tok_stream_init(&st);
    for (size_t i = 0; i < n; i++) {
        int rc = tok_stream_feed(&st, v, ids[i], out);
        if (rc == TOK_ERR_RANGE)
            return tok_fail(why, rc, "token id %ld out of range (vocabulary has %d ids)",
                            (long)ids[i], (int)v->n_ids);
        if (rc) return tok_fail(why, rc, "out of memory");
    }
    if (tok_stream_flush(&st, out) != TOK_OK) return tok_fail(why, TOK_ERR_NOMEM, "out of memory");
    return TOK_OK;
}
