/* Encoding: text -> ids, exactly as tiktoken encodes with the GLM-4 ranks.
 *
 * 1. The text must be valid UTF-8 (checked once; PCRE2 then runs with NO_UTF_CHECK).
 * 2. The pre-tokeniser regex splits it into pieces (leftmost-first alternation, as Rust's
 *    regex/fancy-regex does).
 * 3. A piece that is itself a token becomes that token (tiktoken's whole-piece rule, spec §1).
 * 4. Otherwise its bytes are merged pairwise, always the adjacent pair whose concatenation has
 *    the lowest rank, the leftmost on ties, until no pair is a token.
 *
 * Step 4 runs a linear scan for short pieces (the common case: a few bytes) and a binary heap
 * over a linked list for long ones (runs of spaces, long words), so a hostile 1 MB piece costs
 * O(n log n) rather than O(n²). Both give the same result; tests check them against each other.
 */
#include "tokenizer/tok_int.h"

#include <stdlib.h>
#include <string.h>

/* Pieces longer than this use the heap merge. Overridable for tests (tok_bpe_set_threshold). */
static size_t heap_threshold = 128;

void tok_bpe_set_threshold(size_t n)
{
    heap_threshold = n;
}

/* Scratch reused across pieces within one encode call. */
struct bpe_scratch {
    uint32_t *pos; /* part start offsets, len+1 */
    int32_t *rank; /* rank of the pair starting at part i */
    int32_t *prev, *next;
    uint64_t *heap; /* (rank << 32 | start) keys */
    size_t cap;
};

static int scratch_reserve(struct bpe_scratch *s, size_t n)
{
    if (n + 1 <= s->cap) return TOK_OK;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n + 1)
        cap *= 2;
    uint32_t *pos = realloc(s->pos, cap * sizeof *pos);
    if (pos) s->pos = pos;
    int32_t *rank = realloc(s->rank, cap * sizeof *rank);
    if (rank) s->rank = rank;
    int32_t *prev = realloc(s->prev, cap * sizeof *prev);
    if (prev) s->prev = prev;
    int32_t *next = realloc(s->next, cap * sizeof *next);
    if (next) s->next = next;
    uint64_t *heap = realloc(s->heap, 3 * cap * sizeof *heap); /* ≤ n + 2·merges pushes */
    if (heap) s->heap = heap;
    if (!pos || !rank || !prev || !next || !heap) return TOK_ERR_NOMEM;
    s->cap = cap;
    return TOK_OK;
}

static void scratch_done(struct bpe_scratch *s)
{
    free(s->pos);
    free(s->rank);
    free(s->prev);
    free(s->next);
    free(s->heap);
}

#define NO_RANK INT32_MAX

static inline int32_t pair_rank(const struct tok_vocab *v, const uint8_t *p, uint32_t a, uint32_t b)
{
    int32_t id = tok_lookup(v, p + a, b - a);
    return id < 0 ? NO_RANK : id;
}

/* Linear-scan merge (tiktoken's algorithm). */
static int merge_scan(const struct tok_vocab *v, const uint8_t *p, size_t n, struct bpe_scratch *s,
                      struct tok_ids *out)
{
    uint32_t *pos = s->pos;
    int32_t *rank = s->rank;
    size_t m = n + 1; /* number of boundaries */
    for (size_t i = 0; i < m; i++)
        pos[i] = (uint32_t)i;
    for (size_t i = 0; i + 2 < m; i++)
        rank[i] = pair_rank(v, p, pos[i], pos[i + 2]);
    if (m >= 2) rank[m - 2] = NO_RANK;
    rank[m - 1] = NO_RANK;
    while (m > 2) {
        int32_t best = NO_RANK;
        size_t bi = 0;
        for (size_t i = 0; i + 2 < m; i++) {
            if (rank[i] < best) best = rank[i], bi = i;
        }
        if (best == NO_RANK) break;
        /* Remove boundary bi+1; the part at bi now spans pos[bi]..pos[bi+2]. */
        memmove(pos + bi + 1, pos + bi + 2, (m - bi - 2) * sizeof *pos);
        memmove(rank + bi + 1, rank + bi + 2, (m - bi - 2) * sizeof *rank);
        m--;
        rank[bi] = bi + 2 < m ? pair_rank(v, p, pos[bi], pos[bi + 2]) : NO_RANK;
        if (bi > 0) rank[bi - 1] = pair_rank(v, p, pos[bi - 1], pos[bi + 1]);
    }
    for (size_t i = 0; i + 1 < m; i++) {
        int32_t id = tok_lookup(v, p + pos[i], pos[i + 1] - pos[i]);
        if (id < 0 || tok_ids_push(out, id) != TOK_OK)
            return id < 0 ? TOK_ERR_FORMAT : TOK_ERR_NOMEM;
    }
    return TOK_OK;
}

/* Heap merge: parts are a linked list by start offset; the heap holds (rank, start) of every
 * candidate pair, stale entries are skipped when popped. Ordering by (rank, start) picks the
 * same pair as the scan: lowest rank, leftmost on ties. */
static void heap_push(uint64_t *h, size_t *n, uint64_t key)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent] <= key) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = key;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= last) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static int merge_heap(const struct tok_vocab *v, const uint8_t *p, size_t n, struct bpe_scratch *s,
                      struct tok_ids *out)
{
    /* Parts are identified by their start offset (0..n-1); end of part i = next[i] or n. */
    int32_t *prev = s->prev, *next = s->next, *rank = s->rank;
    uint64_t *heap = s->heap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = (int32_t)i + 1; /* == n for the last part */
    }
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t end = (uint32_t)next[next[i]];
        rank[i] = pair_rank(v, p, (uint32_t)i, end);
        if (rank[i] != NO_RANK) heap_push(heap, &hn, ((uint64_t)rank[i] << 32) | i);
    }
    if (n) rank[n - 1] = NO_RANK;
    while (hn) {
        uint64_t key = heap_pop(heap, &hn);
        int32_t r = (int32_t)(key >> 32);
        uint32_t i = (uint32_t)key;
        if (rank[i] != r) continue; /* stale: the pair changed since it was pushed */
        /* Merge part i with its successor j. */
        int32_t j = next[i];
        int32_t k = next[j]; /* part after the merged one, or n */
        next[i] = k;
        if ((size_t)k < n) prev[k] = (int32_t)i;
        rank[j] = -1; /* j no longer exists */
        if ((size_t)k < n) {
            uint32_t end = (uint32_t)((size_t)next[k] <= n ? next[k] : (int32_t)n);
            rank[i] = pair_rank(v, p, i, end);
            if (rank[i] != NO_RANK) heap_push(heap, &hn, ((uint64_t)rank[i] << 32) | i);
        } else {
            rank[i] = NO_RANK;
        }
        if (prev[i] >= 0) {
            uint32_t a = (uint32_t)prev[i];
            rank[a] = pair_rank(v, p, a, (uint32_t)k);
            if (rank[a] != NO_RANK) heap_push(heap, &hn, ((uint64_t)rank[a] << 32) | a);
        }
    }
    for (size_t i = 0; i < n; i = (size_t)next[i]) {
        int32_t id = tok_lookup(v, p + i, (size_t)next[i] - i);
        if (id < 0 || tok_ids_push(out, id) != TOK_OK)
            return id < 0 ? TOK_ERR_FORMAT : TOK_ERR_NOMEM;
    }
    return TOK_OK;
}

static int encode_piece(const struct tok_vocab *v, const uint8_t *p, size_t n,
                        struct bpe_scratch *s, struct tok_ids *out)
{
    int32_t id = tok_lookup(v, p, n);
    if (id >= 0) return tok_ids_push(out, id);
    if (scratch_reserve(s, n) != TOK_OK) return TOK_ERR_NOMEM;
    return n > heap_threshold ? merge_heap(v, p, n, s, out) : merge_scan(v, p, n, s, out);
}

/* Encodes ordinary text that is already known to be valid UTF-8. */
static int encode_valid(const struct tok_vocab *v, const uint8_t *text, size_t len,
                        pcre2_match_data *md, struct bpe_scratch *s, struct tok_ids *out,
                        char **why)
{
    size_t at = 0;
    while (at < len) {
        int rc = v->jit ? pcre2_jit_match(v->re, text, len, at, 0, md, NULL)
                        : pcre2_match(v->re, text, len, at, PCRE2_NO_UTF_CHECK, md, NULL);
        size_t start, end;
        if (rc > 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            start = ov[0];
            end = ov[1];
        } else if (rc == PCRE2_ERROR_NOMATCH) {
            start = end = len;
        } else {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return tok_fail(why, TOK_ERR_INPUT, "pre-tokeniser failed at byte %zu: %s", at,
                            (const char *)msg);
        }
        /* The pattern covers every character, so a gap never occurs; should one, its bytes
         * are still encoded rather than dropped. */
        if (start > at) {
            int e = encode_piece(v, text + at, start - at, s, out);
            if (e) return tok_fail(why, e, "encoding failed at byte %zu", at);
        }
        if (end == start) break;
        int e = encode_piece(v, text + start, end - start, s, out);
        if (e) return tok_fail(why, e, "encoding failed at byte %zu", start);
        at = end;
    }
    return TOK_OK;
}

int tok_encode(const struct tok_vocab *v, const char *text, size_t len, struct tok_ids *out,
               char **why)
{
    int rc = tok_utf8_check(text, len, why);
    if (rc) return rc;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(v->re, NULL);
    if (!md) return tok_fail(why, TOK_ERR_NOMEM, "out of memory");
    struct bpe_scratch s = {0};
    rc = encode_valid(v, (const uint8_t *)text, len, md, &s, out, why);
    scratch_done(&s);
    pcre2_match_data_free(md);
    return rc;
}

int tok_encode_special(const struct tok_vocab *v, const char *text, size_t len, struct tok_ids *out,
                       char **why)
{
    int rc = tok_utf8_check(text, len, why);
    if (rc) return rc;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(v->re, NULL);
    if (!md) return tok_fail(why, TOK_ERR_NOMEM, "out of memory");
    struct bpe_scratch s = {0};
    size_t seg = 0, i = 0;
    while (i < len && rc == TOK_OK) {
        /* The longest special token starting at i, if any (tiktoken's special regex is an
         * alternation of escaped specials; none of GLM-4's is a prefix of another). */
        size_t best_len = 0;
        int32_t best_id = -1;
        for (size_t k = 0; k < v->n_special; k++) {
            size_t sl = strlen(v->special[k].text);
            if (sl > best_len && sl <= len - i && memcmp(text + i, v->special[k].text, sl) == 0) {
                best_len = sl;
                best_id = v->special[k].id;
            }
        }
        if (best_id < 0) {
            i++;
            continue;
        }
        if (i > seg) rc = encode_valid(v, (const uint8_t *)text + seg, i - seg, md, &s, out, why);
        if (rc == TOK_OK && tok_ids_push(out, best_id) != TOK_OK)
            rc = tok_fail(why, TOK_ERR_NOMEM, "out of memory");
        i += best_len;
        seg = i;
    }
    if (rc == TOK_OK && seg < len)
        rc = encode_valid(v, (const uint8_t *)text + seg, len - seg, md, &s, out, why);
    scratch_done(&s);
    pcre2_match_data_free(md);
    return rc;
}
