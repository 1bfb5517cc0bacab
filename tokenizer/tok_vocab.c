/* The GLM-4 vocabulary: token bytes by id, a hash from bytes to id (= tiktoken rank), the
 * special tokens, and the compiled pre-tokeniser.
 *
 * Data model: ordinary tokens live in one byte blob (`blob`, offsets `off[id]..off[id+1]`);
 * ids whose `kind` is not TOK_KIND_NORMAL (specials, reserved padding) own no bytes there.
 * `table` is an open-addressing hash (linear probing, power-of-two size, ≤ 50% full) of
 * ordinary token ids keyed by their bytes. For tiktoken-style BPE the merge priority of a byte
 * string is its id, so the ranks file, a GGUF token list and a tokenizer.json vocabulary all
 * reduce to the same structure. Immutable after load; shared read-only between threads.
 *
 * Loaders here: tiktoken ranks files and GGUF token lists. tokenizer.json and
 * tokenizer_config.json (JSON) are read in tok_hf.c.
 */
#include "tokenizer/tok_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The GLM-4 pre-tokenisation pattern (spec/glm4-chat.md §1), as tiktoken runs it with Rust's
 * regex semantics. `\s` is spelled out as Unicode White_Space because PCRE2 10.42's \s with
 * PCRE2_UCP also matches U+180E, which Rust's \s does not. */
#define WS                                                                                         \
    "\\t\\n\\x0b\\f\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}"               \
    "\\x{202f}\\x{205f}\\x{3000}"
static const char GLM4_PATTERN[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
                                   "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
                                   "|\\p{N}{1,3}"
                                   "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
                                   "|[" WS "]*[\\r\\n]+"
                                   "|[" WS "]+(?![^" WS "])"
                                   "|[" WS "]+";

/* GLM-4 special tokens by id (spec §1; tokenizer_config.json added_tokens_decoder). */
static const struct {
    int32_t id;
    const char *text;
} GLM4_SPECIALS[] = {
    {151329, "<|endoftext|>"},
    {151330, "[MASK]"},
    {151331, "[gMASK]"},
    {151332, "[sMASK]"},
    {151333, "<sop>"},
    {151334, "<eop>"},
    {151335, "<|system|>"},
    {151336, "<|user|>"},
    {151337, "<|assistant|>"},
    {151338, "<|observation|>"},
    {151339, "<|begin_of_image|>"},
    {151340, "<|end_of_image|>"},
    {151341, "<|begin_of_video|>"},
    {151342, "<|end_of_video|>"},
};

/* Hard caps against hostile files: GLM-4 has 151552 ids and tokens of at most a few hundred
 * bytes. */
#define MAX_IDS           (1 << 22)
#define MAX_TOKEN_BYTES   4096
#define MAX_SPECIAL_BYTES 256

uint64_t tok_hash_bytes(const uint8_t *p, size_t n)
{
    /* 64-bit multiply-xorshift over 8-byte words; tokens are short, so this is cheap. */
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 32;
    return h;
}

int32_t tok_lookup(const struct tok_vocab *v, const uint8_t *p, size_t n)
{
    if (n == 1) return v->byte_id[p[0]];
    uint64_t mask = v->table_size - 1;
    uint64_t i = tok_hash_bytes(p, n) & mask;
    for (;;) {
        int32_t id = v->table[i];
        if (id < 0) return -1;
        uint32_t o = v->off[id];
        if (v->off[id + 1] - o == n && memcmp(v->blob + o, p, n) == 0) return id;
        i = (i + 1) & mask;
    }
}

/* ---- building ----------------------------------------------------------------------------- */

/* A vocabulary under construction: ids are added in any order with their bytes. */
struct builder {
    int32_t n_ids; /* highest id + 1 */
    uint8_t *blob; /* bytes of all tokens in insertion order */
    size_t blob_len, blob_cap;
    uint32_t *start; /* per id: start in blob, or UINT32_MAX */
    uint32_t *len;   /* per id */
    int32_t cap_ids;
};

static int builder_add(struct builder *b, int32_t id, const uint8_t *p, size_t n)
{
    if (id < 0 || id >= MAX_IDS) return TOK_ERR_RANGE;
    if (id >= b->cap_ids) {
        int32_t cap = b->cap_ids ? b->cap_ids : 1024;
        while (cap <= id)
            cap *= 2;
        uint32_t *s = realloc(b->start, (size_t)cap * sizeof *s);
        if (!s) return TOK_ERR_NOMEM;
        b->start = s;
        uint32_t *l = realloc(b->len, (size_t)cap * sizeof *l);
        if (!l) return TOK_ERR_NOMEM;
        b->len = l;
        for (int32_t i = b->cap_ids; i < cap; i++)
            b->start[i] = UINT32_MAX, b->len[i] = 0;
        b->cap_ids = cap;
    }
    if (b->start[id] != UINT32_MAX) return TOK_ERR_FORMAT; /* duplicate id */
    if (b->blob_len + n > b->blob_cap) {
        size_t cap = b->blob_cap ? b->blob_cap : 1 << 20;
        while (cap < b->blob_len + n)
            cap *= 2;
        if (cap > UINT32_MAX) return TOK_ERR_RANGE;
        uint8_t *nb = realloc(b->blob, cap);
        if (!nb) return TOK_ERR_NOMEM;
        b->blob = nb;
        b->blob_cap = cap;
    }
    memcpy(b->blob + b->blob_len, p, n);
    b->start[id] = (uint32_t)b->blob_len;
    b->len[id] = (uint32_t)n;
    b->blob_len += n;
    if (id + 1 > b->n_ids) b->n_ids = id + 1;
    return TOK_OK;
}

static void builder_done(struct builder *b)
{
    free(b->blob);
    free(b->start);
    free(b->len);
}

static int compile_pattern(struct tok_vocab *v, char **why, const char *what)
{
    int err;
    PCRE2_SIZE erroff;
    v->re = pcre2_compile((PCRE2_SPTR)GLM4_PATTERN, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &erroff, NULL);
    if (!v->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        return tok_fail(why, TOK_ERR_FORMAT, "%s: pre-tokeniser pattern: %s at %zu", what,
                        (const char *)msg, (size_t)erroff);
    }
    /* JIT is an optimisation: without it (e.g. no executable memory) matching still works. */
    v->jit = pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE) == 0;
    return TOK_OK;
}

/* Turns a builder (ordinary tokens) plus special tokens into a vocabulary. Ordinary tokens
 * must include all 256 single bytes and be unique. Consumes nothing; caller frees b. */
static struct tok_vocab *finish(struct builder *b, const char *what, char **why)
{
    struct tok_vocab *v = calloc(1, sizeof *v);
    if (!v) {
        tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    int32_t n = b->n_ids;
    v->n_ids = n;
    v->off = malloc(((size_t)n + 1) * sizeof *v->off);
    v->kind = calloc((size_t)n, 1);
    v->blob = malloc(b->blob_len ? b->blob_len : 1);
    size_t tsize = 1;
    while (tsize < (size_t)n * 2)
        tsize <<= 1;
    v->table_size = tsize;
    v->table = malloc(tsize * sizeof *v->table);
    if (!v->off || !v->kind || !v->blob || !v->table) {
        tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", what);
        goto fail;
    }
    memset(v->table, 0xff, tsize * sizeof *v->table);
    for (int i = 0; i < 256; i++)
        v->byte_id[i] = -1;

    /* Lay the bytes out in id order so off[id+1]-off[id] is the length. */
    uint32_t pos = 0;
    for (int32_t id = 0; id < n; id++) {
        v->off[id] = pos;
        if (b->start[id] == UINT32_MAX) {
            v->kind[id] = TOK_KIND_RESERVED;
            continue;
        }
        memcpy(v->blob + pos, b->blob + b->start[id], b->len[id]);
        pos += b->len[id];
        v->n_normal++;
    }
    v->off[n] = pos;

    for (int32_t id = 0; id < n; id++) {
        if (v->kind[id] != TOK_KIND_NORMAL) continue;
        const uint8_t *p = v->blob + v->off[id];
        size_t len = v->off[id + 1] - v->off[id];
        if (len == 0) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: token %d is empty", what, (int)id);
            goto fail;
        }
        if (len == 1) {
            if (v->byte_id[p[0]] >= 0) goto dup;
            v->byte_id[p[0]] = id;
        }
        uint64_t i = tok_hash_bytes(p, len) & (tsize - 1);
        while (v->table[i] >= 0) {
            int32_t o = v->table[i];
            if (v->off[o + 1] - v->off[o] == len && memcmp(v->blob + v->off[o], p, len) == 0) {
            dup:
                tok_fail(why, TOK_ERR_FORMAT, "%s: token %d repeats the bytes of another token",
                         what, (int)id);
                goto fail;
            }
            i = (i + 1) & (tsize - 1);
        }
        v->table[i] = id;
    }
    for (int i = 0; i < 256; i++) {
        if (v->byte_id[i] < 0) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: no token for the single byte 0x%02x", what, i);
            goto fail;
        }
    }
    if (compile_pattern(v, why, what) != TOK_OK) goto fail;
    return v;
fail:
    tok_vocab_free(v);
    return NULL;
}

int tok_vocab_set_special(struct tok_vocab *v, int32_t id, const char *text, size_t len,
                          const char *what, char **why)
{
    if (len == 0 || len > MAX_SPECIAL_BYTES ||
        tok_utf8_valid_prefix((const uint8_t *)text, len) != len)
        return tok_fail(why, TOK_ERR_FORMAT, "%s: special token %d has invalid text", what,
                        (int)id);
    if (id < 0 || id >= MAX_IDS)
        return tok_fail(why, TOK_ERR_RANGE, "%s: special token id %d out of range", what, (int)id);
    if (id < v->n_ids && v->kind[id] == TOK_KIND_NORMAL)
        return tok_fail(why, TOK_ERR_FORMAT,
                        "%s: special token %d ('%.*s') collides with an ordinary token", what,
                        (int)id, (int)len, text);
    for (size_t i = 0; i < v->n_special; i++) {
        if (v->special[i].id == id) {
            if (strlen(v->special[i].text) == len && !memcmp(v->special[i].text, text, len))
                return TOK_OK; /* the same declaration twice */
            return tok_fail(why, TOK_ERR_FORMAT, "%s: special token %d declared twice", what,
                            (int)id);
        }
        if (strlen(v->special[i].text) == len && !memcmp(v->special[i].text, text, len))
            return tok_fail(why, TOK_ERR_FORMAT, "%s: special token '%.*s' has two ids", what,
                            (int)len, text);
    }
    if (id >= v->n_ids) {
        /* Grow the id space: ids between the old end and this one are reserved. */
        uint32_t *off = realloc(v->off, ((size_t)id + 2) * sizeof *off);
        if (!off) return tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", what);
        v->off = off;
        uint8_t *kind = realloc(v->kind, (size_t)id + 1);
        if (!kind) return tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", what);
        v->kind = kind;
        uint32_t end = v->off[v->n_ids];
        for (int32_t i = v->n_ids; i <= id; i++) {
            v->kind[i] = TOK_KIND_RESERVED;
            v->off[i + 1] = end;
        }
        v->n_ids = id + 1;
    }
    if (v->n_special == v->cap_special) {
        size_t cap = v->cap_special ? v->cap_special * 2 : 16;
        void *sp = realloc(v->special, cap * sizeof *v->special);
        if (!sp) return tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", what);
        v->special = sp;
        v->cap_special = cap;
    }
    char *copy = strndup(text, len);
    if (!copy) return tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", what);
    v->special[v->n_special].id = id;
    v->special[v->n_special].text = copy;
    v->n_special++;
    v->kind[id] = TOK_KIND_SPECIAL;
    return TOK_OK;
}

int tok_vocab_set_glm4_specials(struct tok_vocab *v, const char *what, char **why)
{
    for (size_t i = 0; i < sizeof GLM4_SPECIALS / sizeof GLM4_SPECIALS[0]; i++) {
        int rc = tok_vocab_set_special(v, GLM4_SPECIALS[i].id, GLM4_SPECIALS[i].text,
                                       strlen(GLM4_SPECIALS[i].text), what, why);
        if (rc != TOK_OK) return rc;
    }
    return TOK_OK;
}

void tok_vocab_free(struct tok_vocab *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->n_special; i++)
        free(v->special[i].text);
    free(v->special);
    free(v->off);
    free(v->kind);
    free(v->blob);
    free(v->table);
    free(v->chat_template);
    if (v->re) pcre2_code_free(v->re);
    free(v);
}

/* ---- tiktoken ranks file ------------------------------------------------------------------ */

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes standard padded base64 s[0..n) into out (capacity ≥ n*3/4). Returns the length or
 * -1 when the text is not canonical base64. */
static long b64_decode(const uint8_t *s, size_t n, uint8_t *out)
{
    if (n == 0 || n % 4 != 0) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = 0, v[4];
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=') {
                if (i + 4 != n || k < 2) return -1;
                pad++;
                v[k] = 0;
            } else {
                if (pad) return -1;
                v[k] = b64_value(s[i + k]);
                if (v[k] < 0) return -1;
            }
        }
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) |
                     (uint32_t)v[3];
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2) out[o++] = (uint8_t)(w >> 8);
        if (pad < 1) out[o++] = (uint8_t)w;
    }
    return (long)o;
}

static char *read_whole(const char *path, size_t *len, size_t cap, char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tok_fail(why, TOK_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        tok_fail(why, TOK_ERR_IO, "%s: not a regular file", path);
        return NULL;
    }
    if ((uint64_t)st.st_size > cap) {
        fclose(f);
        tok_fail(why, TOK_ERR_FORMAT, "%s: file too large (%lld bytes)", path,
                 (long long)st.st_size);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)st.st_size) {
        free(buf);
        tok_fail(why, TOK_ERR_IO, "%s: read error", path);
        return NULL;
    }
    buf[got] = 0;
    *len = got;
    return buf;
}

char *tok_read_file(const char *path, size_t *len, size_t cap, char **why)
{
    return read_whole(path, len, cap, why);
}

struct tok_vocab *tok_vocab_load_tiktoken(const char *path, char **why)
{
    size_t len;
    char *text = read_whole(path, &len, 64u << 20, why);
    if (!text) return NULL;
    struct builder b = {0};
    struct tok_vocab *v = NULL;
    uint8_t bytes[MAX_TOKEN_BYTES];
    size_t line_no = 0, n_lines = 0;
    int32_t max_rank = -1;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line_no++;
        if (le > p && le[-1] == '\r') le--;
        if (le == p) { /* blank lines (a trailing one) are allowed */
            p = nl ? nl + 1 : end;
            continue;
        }
        const char *sp = memchr(p, ' ', (size_t)(le - p));
        if (!sp || sp == p || sp + 1 >= le) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: line %zu: expected 'base64 rank'", path, line_no);
            goto out;
        }
        size_t b64len = (size_t)(sp - p);
        if (b64len > (MAX_TOKEN_BYTES / 3) * 4) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: line %zu: token longer than %d bytes", path, line_no,
                     MAX_TOKEN_BYTES);
            goto out;
        }
        long n = b64_decode((const uint8_t *)p, b64len, bytes);
        if (n <= 0) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: line %zu: invalid base64 '%.*s'", path, line_no,
                     (int)(b64len > 40 ? 40 : b64len), p);
            goto out;
        }
        long rank = 0;
        for (const char *q = sp + 1; q < le; q++) {
            if (*q < '0' || *q > '9' || rank > MAX_IDS) {
                tok_fail(why, TOK_ERR_FORMAT, "%s: line %zu: invalid rank '%.*s'", path, line_no,
                         (int)(le - sp - 1 > 20 ? 20 : le - sp - 1), sp + 1);
                goto out;
            }
            rank = rank * 10 + (*q - '0');
        }
        if (rank >= MAX_IDS) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: line %zu: rank %ld out of range", path, line_no,
                     rank);
            goto out;
        }
        int rc = builder_add(&b, (int32_t)rank, bytes, (size_t)n);
        if (rc == TOK_ERR_FORMAT) {
            tok_fail(why, rc, "%s: line %zu: duplicate rank %ld", path, line_no, rank);
            goto out;
        } else if (rc != TOK_OK) {
            tok_fail(why, rc, "%s: out of memory", path);
            goto out;
        }
        if (rank > max_rank) max_rank = (int32_t)rank;
        n_lines++;
        p = nl ? nl + 1 : end;
    }
    if (n_lines == 0) {
        tok_fail(why, TOK_ERR_FORMAT, "%s: no tokens", path);
        goto out;
    }
    if ((size_t)max_rank + 1 != n_lines) {
        /* Ranks must be exactly 0..N-1: a gap means a lost or mis-numbered line. */
        int32_t missing = 0;
        while (missing < b.n_ids && b.start[missing] != UINT32_MAX)
            missing++;
        tok_fail(why, TOK_ERR_FORMAT,
                 "%s: wrong token count: %zu lines but ranks go up to %d (rank %d missing)", path,
                 n_lines, (int)max_rank, (int)missing);
        goto out;
    }
    v = finish(&b, path, why);
out:
    builder_done(&b);
    free(text);
    return v;
}

/* ---- GGUF token lists (GPT-2 byte-level strings) ------------------------------------------ */

/* GPT-2's byte-level alphabet: printable bytes map to themselves, the other 68 to U+0100+k
 * in byte order. Returns the byte for code point cp, or -1. */
static int gpt2_unicode_to_byte(uint32_t cp)
{
    static int16_t table[324];
    static int ready;
    if (!ready) {
        int k = 0;
        for (int i = 0; i < 324; i++)
            table[i] = -1;
        for (int byte = 0; byte < 256; byte++) {
            int printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) ||
                            (byte >= 174 && byte <= 255);
            table[printable ? byte : 256 + k++] = (int16_t)byte;
        }
        ready = 1;
    }
    return cp < 324 ? table[cp] : -1;
}

/* Decodes one UTF-8 code point from s[0..n); returns its length or 0 when invalid. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    size_t len = tok_utf8_valid_prefix(s, n < 4 ? n : 4);
    if (len == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80)
        len = 1, *cp = c;
    else if (c < 0xE0)
        len = 2, *cp = c & 0x1F;
    else if (c < 0xF0)
        len = 3, *cp = c & 0x0F;
    else
        len = 4, *cp = c & 0x07;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++)
        *cp = (*cp << 6) | (s[i] & 0x3F);
    return len;
}

int tok_gpt2_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        int byte = l ? gpt2_unicode_to_byte(cp) : -1;
        if (byte < 0 || o >= cap) return TOK_ERR_FORMAT;
        out[o++] = (uint8_t)byte;
        i += l;
    }
    *out_len = o;
    return TOK_OK;
}

struct tok_vocab *tok_vocab_from_gguf(const char *const *tokens, const size_t *lens,
                                      const int32_t *types, size_t n, const char *what, char **why)
{
    struct builder b = {0};
    struct tok_vocab *v = NULL;
    uint8_t bytes[MAX_TOKEN_BYTES];
    if (n == 0 || n > MAX_IDS) {
        tok_fail(why, TOK_ERR_FORMAT, "%s: vocabulary has %zu tokens", what, n);
        return NULL;
    }
    /* First pass: ordinary tokens (type 1 normal, 6 byte; a missing type array means all
     * normal). Controls are specials (second pass); user-defined/unused ids stay reserved. */
    for (size_t i = 0; i < n; i++) {
        int32_t type = types ? types[i] : 1;
        if (type == 3 || type == 4 || type == 5) continue;
        if (type != 1 && type != 6 && type != 2) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: token %zu has unknown type %d", what, i, (int)type);
            goto out;
        }
        size_t blen;
        if (tok_gpt2_decode(tokens[i], lens[i], bytes, sizeof bytes, &blen) != TOK_OK) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: token %zu is not a byte-level BPE string", what, i);
            goto out;
        }
        int rc = builder_add(&b, (int32_t)i, bytes, blen);
        if (rc != TOK_OK) {
            tok_fail(why, rc, "%s: out of memory", what);
            goto out;
        }
    }
    if (b.n_ids == 0) {
        tok_fail(why, TOK_ERR_FORMAT, "%s: vocabulary has no ordinary tokens", what);
        goto out;
    }
    v = finish(&b, what, why);
    if (!v) goto out;
    for (size_t i = 0; i < n; i++) {
        if (!types || types[i] != 3) continue;
        if (tok_vocab_set_special(v, (int32_t)i, tokens[i], lens[i], what, why) != TOK_OK) {
            tok_vocab_free(v);
            v = NULL;
            goto out;
        }
    }
    /* The id space is the whole list: trailing padding entries are reserved ids. */
    if ((size_t)v->n_ids < n) {
        uint32_t *off = realloc(v->off, (n + 1) * sizeof *off);
        uint8_t *kind = off ? realloc(v->kind, n) : NULL;
        if (off) v->off = off;
        if (!kind) {
            tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", what);
            tok_vocab_free(v);
            v = NULL;
            goto out;
        }
        v->kind = kind;
        uint32_t end = v->off[v->n_ids];
        for (size_t i = (size_t)v->n_ids; i < n; i++) {
            v->kind[i] = TOK_KIND_RESERVED;
            v->off[i + 1] = end;
        }
        v->n_ids = (int32_t)n;
    }
out:
    builder_done(&b);
    return v;
}

/* ---- accessors ---------------------------------------------------------------------------- */

int tok_vocab_set_chat_template(struct tok_vocab *v, const char *text, size_t len)
{
    char *copy = strndup(text, len);
    if (!copy) return TOK_ERR_NOMEM;
    free(v->chat_template);
    v->chat_template = copy;
    return TOK_OK;
}

int32_t tok_vocab_size(const struct tok_vocab *v)
{
    return v->n_ids;
}

int32_t tok_special_id(const struct tok_vocab *v, const char *text)
{
    for (size_t i = 0; i < v->n_special; i++)
        if (strcmp(v->special[i].text, text) == 0) return v->special[i].id;
    return -1;
}

const char *tok_special_text(const struct tok_vocab *v, int32_t id)
{
    if (id < 0 || id >= v->n_ids || v->kind[id] != TOK_KIND_SPECIAL) return NULL;
    for (size_t i = 0; i < v->n_special; i++)
        if (v->special[i].id == id) return v->special[i].text;
    return NULL;
}

int tok_token_bytes(const struct tok_vocab *v, int32_t id, const uint8_t **bytes, size_t *len)
{
    if (id < 0 || id >= v->n_ids || v->kind[id] != TOK_KIND_NORMAL) return TOK_ERR_RANGE;
    *bytes = v->blob + v->off[id];
    *len = v->off[id + 1] - v->off[id];
    return TOK_OK;
}
