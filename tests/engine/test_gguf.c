/* Tests of the GGUF reader (engine/gguf.c) and the tensor type traits.
 *
 * Three kinds of evidence:
 *   - the real tiny GLM-4 fixtures in shared/ (chatglm F16 and Q4_0, glm4-0414 Q4_0): metadata,
 *     vocabulary, tensor shapes from spec/glm4-model.md, and tensor data pointers checked
 *     against a small header walker written here independently of the reader;
 *   - hand-built GGUF files for every value type, nesting, alignment, and one bad file per
 *     validation rule, each expected to fail with a specific one-line message;
 *   - hostile inputs derived from the F16 fixture: a "slim" copy (the three big tokenizer
 *     arrays cut to 4 elements, everything else byte-identical, tensor data kept) cut at
 *     nearly every header offset and at random data offsets, plus seeded random byte
 *     flips and patched fields of the full fixture. Every cut must fail cleanly; flips may
 *     succeed or fail but must never read out of bounds (the ASan build runs this).
 */
#include "engine/engine.h"
#include "test_util.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F16_PATH   "fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"
#define Q40_PATH   "fixtures/models/glm4-tiny64/glm4-tiny64-Q4_0.gguf"
#define G0414_PATH "fixtures/models/glm4-0414-tiny64/glm4-0414-tiny64-Q4_0.gguf"

#define N_VOCAB 151552 /* spec/glm4-model.md §1, padded_vocab_size */

/* ---- byte builder -------------------------------------------------------------------------- */

struct bytes {
    uint8_t *p;
    size_t n, cap;
};

static void b_put(struct bytes *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void b_u8(struct bytes *b, uint8_t v)
{
    b_put(b, &v, 1);
}

static void b_le(struct bytes *b, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        b_u8(b, (uint8_t)(v >> (8 * i)));
}

static void b_u32(struct bytes *b, uint32_t v)
{
    b_le(b, v, 4);
}

static void b_u64(struct bytes *b, uint64_t v)
{
    b_le(b, v, 8);
}

static void b_strn(struct bytes *b, const char *s, size_t n)
{
    b_u64(b, n);
    b_put(b, s, n);
}

static void b_str(struct bytes *b, const char *s)
{
    b_strn(b, s, strlen(s));
}

static void b_f32(struct bytes *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    b_u32(b, u);
}

static void b_f64(struct bytes *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    b_u64(b, u);
}

static void b_zero(struct bytes *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b_u8(b, 0);
}

static void put_le(uint8_t *p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int nbytes)
{
    uint64_t v = 0;
    for (int i = 0; i < nbytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A tensor info record. */
static void b_tensor(struct bytes *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                     uint32_t type, uint64_t offset)
{
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        b_u64(b, ne[i]);
    b_u32(b, type);
    b_u64(b, offset);
}

/* A whole file: header, the given key/value and tensor-info bytes, padding to `align`, then
 * `data_len` bytes of a counting pattern. */
static struct bytes gguf_file(uint32_t version, uint64_t n_tensors, uint64_t n_kv,
                              const struct bytes *kvs, const struct bytes *tis, uint32_t align,
                              size_t data_len)
{
    struct bytes f = {0};
    b_put(&f, "GGUF", 4);
    b_u32(&f, version);
    b_u64(&f, n_tensors);
    b_u64(&f, n_kv);
    if (kvs) b_put(&f, kvs->p, kvs->n);
    if (tis) b_put(&f, tis->p, tis->n);
    while (f.n % align)
        b_u8(&f, 0);
    for (size_t i = 0; i < data_len; i++)
        b_u8(&f, (uint8_t)(i * 7 + 1));
    return f;
}

/* ---- checking errors ----------------------------------------------------------------------- */

/* why must be one non-empty line "<name>: ..." containing `want` (when not NULL). */
static void check_why(const char *why, const char *name, const char *want)
{
    assert_non_null(why);
    size_t nl = strlen(name);
    if (strncmp(why, name, nl) != 0 || strncmp(why + nl, ": ", 2) != 0)
        fail_msg("message does not start with '%s: ': %s", name, why);
    if (strlen(why) <= nl + 2) fail_msg("empty message: %s", why);
    if (strchr(why, '\n') || strchr(why, '\r')) fail_msg("message is not one line: %s", why);
    for (const char *p = why; *p; p++)
        if ((unsigned char)*p < 0x20) fail_msg("control byte in message: %s", why);
    if (want && !strstr(why, want)) fail_msg("expected '%s' in: %s", want, why);
}

/* The bytes must fail to open in memory with a message containing `want`; frees b. */
static void expect_bad(struct bytes *b, const char *want)
{
    char *why = NULL;
    struct eng_gguf *g = eng_gguf_open_mem(b->p, b->n, "t.gguf", &why);
    if (g) fail_msg("opened a bad file (expected '%s')", want);
    check_why(why, "t.gguf", want);
    free(why);
    free(b->p);
    *b = (struct bytes){0};
}

/* The same through a real file (mmap path); returns the message for exact checks. */
static char *expect_bad_file(const void *data, size_t n, const char *want)
{
    const char *path = tu_write_temp(0, data, n);
    char *why = NULL;
    struct eng_gguf *g = eng_gguf_open(path, &why);
    unlink(path);
    if (g) fail_msg("opened a bad file (expected '%s')", want ? want : "any error");
    check_why(why, path, want);
    return why;
}

static struct eng_gguf *open_ok_mem(const struct bytes *b)
{
    char *why = NULL;
    struct eng_gguf *g = eng_gguf_open_mem(b->p, b->n, "t.gguf", &why);
    if (!g) fail_msg("open failed: %s", why ? why : "(no message)");
    assert_null(why);
    return g;
}

/* ---- an independent header walker ---------------------------------------------------------- */

struct hdr_kv {
    char name[96];
    size_t at;   /* the key's length prefix */
    size_t type; /* the u32 value type */
    size_t val;  /* the value (arrays: the element type) */
    size_t end;  /* one past the value */
    uint32_t t;
};

struct hdr_ti {
    char name[96];
    size_t at, n_dims, ne, type, offset; /* field positions */
    uint64_t off;                        /* offset value */
};

struct hdr {
    size_t n_kv, n_t;
    struct hdr_kv kv[64];
    struct hdr_ti ti[64];
    size_t infos_end, data_offset;
};

static size_t skip_value(const uint8_t *b, size_t p, uint32_t t)
{
    static const size_t sz[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (t == 8) return p + 8 + get_le(b + p, 8);
    if (t != 9) return p + sz[t];
    uint32_t et = (uint32_t)get_le(b + p, 4);
    uint64_t n = get_le(b + p + 4, 8);
    p += 12;
    if (et != 8) return p + n * sz[et];
    for (uint64_t i = 0; i < n; i++)
        p += 8 + get_le(b + p, 8);
    return p;
}

/* Walks a well-formed fixture header (no alignment key in our fixtures: 32). */
static void walk(const uint8_t *b, struct hdr *h)
{
    memset(h, 0, sizeof *h);
    h->n_t = get_le(b + 8, 8);
    h->n_kv = get_le(b + 16, 8);
    assert_true(h->n_kv <= 64 && h->n_t <= 64);
    size_t p = 24;
    for (size_t i = 0; i < h->n_kv; i++) {
        struct hdr_kv *k = &h->kv[i];
        size_t n = get_le(b + p, 8);
        k->at = p;
        snprintf(k->name, sizeof k->name, "%.*s", (int)n, (const char *)b + p + 8);
        p += 8 + n;
        k->type = p;
        k->t = (uint32_t)get_le(b + p, 4);
        k->val = p + 4;
        p = k->end = skip_value(b, p + 4, k->t);
    }
    for (size_t i = 0; i < h->n_t; i++) {
        struct hdr_ti *t = &h->ti[i];
        size_t n = get_le(b + p, 8);
        t->at = p;
        snprintf(t->name, sizeof t->name, "%.*s", (int)n, (const char *)b + p + 8);
        p += 8 + n;
        t->n_dims = p;
        t->ne = p + 4;
        p += 4 + 8 * get_le(b + p, 4);
        t->type = p;
        t->offset = p + 4;
        t->off = get_le(b + p + 4, 8);
        p += 12;
    }
    h->infos_end = p;
    h->data_offset = (p + 31) / 32 * 32;
}

static const struct hdr_kv *hdr_key(const struct hdr *h, const char *name)
{
    for (size_t i = 0; i < h->n_kv; i++)
        if (strcmp(h->kv[i].name, name) == 0) return &h->kv[i];
    fail_msg("fixture has no key %s", name);
    return NULL;
}

static const struct hdr_ti *hdr_tensor(const struct hdr *h, const char *name)
{
    for (size_t i = 0; i < h->n_t; i++)
        if (strcmp(h->ti[i].name, name) == 0) return &h->ti[i];
    fail_msg("fixture has no tensor %s", name);
    return NULL;
}

/* The F16 fixture with every array longer than `keep` cut to `keep` elements, the data
 * section realigned and kept whole. Its header is a few KB instead of 6 MB. */
static struct bytes slim_fixture(const uint8_t *f, size_t n, uint64_t keep)
{
    struct hdr h;
    walk(f, &h);
    struct bytes s = {0};
    size_t from = 0;
    for (size_t i = 0; i < h.n_kv; i++) {
        const struct hdr_kv *k = &h.kv[i];
        if (k->t != 9 || get_le(f + k->val + 4, 8) <= keep) continue;
        uint32_t et = (uint32_t)get_le(f + k->val, 4);
        size_t cut = et == 8 ? k->val + 12 : k->val + 12 + keep * 4;
        if (et == 8)
            for (uint64_t e = 0; e < keep; e++)
                cut += 8 + get_le(f + cut, 8);
        else
            assert_int_equal(et, 5); /* only INT32 and STRING arrays in the fixture */
        b_put(&s, f + from, k->val + 4 - from);
        b_u64(&s, keep);
        b_put(&s, f + k->val + 12, cut - (k->val + 12));
        from = k->end;
    }
    b_put(&s, f + from, h.infos_end - from);
    while (s.n % 32)
        b_u8(&s, 0);
    b_put(&s, f + h.data_offset, n - h.data_offset);
    return s;
}

/* ---- tensor type traits -------------------------------------------------------------------- */

static void test_type_traits(void **state)
{
    (void)state;
    /* ids from ggml include/ggml.h; block sizes spec/glm4-model.md §4 */
    assert_int_equal(ENG_TYPE_Q4_0, 2);
    assert_int_equal(ENG_TYPE_Q8_0, 8);
    assert_int_equal(ENG_TYPE_Q6_K, 14);
    assert_int_equal(ENG_TYPE_BF16, 30);
    assert_string_equal(eng_type_name(ENG_TYPE_F32), "F32");
    assert_string_equal(eng_type_name(ENG_TYPE_Q4_K), "Q4_K");
    assert_string_equal(eng_type_name(ENG_TYPE_BF16), "BF16");
    const struct {
        uint32_t type, bs, bb;
    } want[] = {
        {ENG_TYPE_F32, 1, 4},      {ENG_TYPE_F16, 1, 2},        {ENG_TYPE_BF16, 1, 2},
        {ENG_TYPE_Q4_0, 32, 18},   {ENG_TYPE_Q4_1, 32, 20},     {ENG_TYPE_Q5_0, 32, 22},
        {ENG_TYPE_Q5_1, 32, 24},   {ENG_TYPE_Q8_0, 32, 34},     {ENG_TYPE_Q4_K, 256, 144},
        {ENG_TYPE_Q5_K, 256, 176}, {ENG_TYPE_Q6_K, 256, 210},   {ENG_TYPE_Q8_K, 256, 292},
        {ENG_TYPE_IQ4_NL, 32, 18}, {ENG_TYPE_IQ4_XS, 256, 136}, {ENG_TYPE_I32, 1, 4},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(eng_type_block_size(want[i].type), want[i].bs);
        assert_int_equal(eng_type_block_bytes(want[i].type), want[i].bb);
    }
    const uint32_t unknown[] = {4, 5, 31, 32, 33, 36, 37, 38, 39, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_null(eng_type_name(unknown[i]));
        assert_int_equal(eng_type_block_size(unknown[i]), 0);
        assert_int_equal(eng_type_block_bytes(unknown[i]), 0);
    }
    assert_string_equal(eng_gguf_type_name(ENG_GGUF_TYPE_STRING), "STRING");
    assert_null(eng_gguf_type_name(13));
    assert_string_equal(eng_err_str(ENG_ERR_NOMEM), "out of memory");
}

/* ---- real fixtures ------------------------------------------------------------------------- */

static struct eng_gguf *open_fixture(const char *rel)
{
    char *why = NULL;
    struct eng_gguf *g = eng_gguf_open(tu_shared(rel), &why);
    if (!g) fail_msg("cannot open fixture: %s", why ? why : "(no message)");
    return g;
}

static void assert_u32(const struct eng_gguf *g, const char *key, uint32_t want)
{
    uint32_t v = 0xdeadbeef;
    int rc = eng_gguf_get_u32(g, key, &v);
    if (rc != 0) fail_msg("%s: rc %d", key, rc);
    if (v != want) fail_msg("%s = %u, want %u", key, v, want);
}

static void assert_str(const struct eng_gguf *g, const char *key, const char *want)
{
    const char *s = NULL;
    size_t len = 0;
    assert_int_equal(eng_gguf_get_str(g, key, &s, &len), 0);
    if (len != strlen(want) || memcmp(s, want, len) != 0)
        fail_msg("%s = '%.*s', want '%s'", key, (int)len, s, want);
}

static void assert_arr_str(const struct eng_gguf *g, int64_t k, uint64_t i, const char *want)
{
    const char *s = NULL;
    size_t len = 0;
    assert_int_equal(eng_gguf_arr_str(g, k, i, &s, &len), 0);
    if (len != strlen(want) || memcmp(s, want, len) != 0)
        fail_msg("element %llu = '%.*s', want '%s'", (unsigned long long)i, (int)len, s, want);
}

static void assert_tensor(const struct eng_gguf *g, const char *name, uint32_t type,
                          uint32_t n_dims, int64_t ne0, int64_t ne1)
{
    const struct eng_gguf_tensor *t = eng_gguf_tensor_find(g, name);
    if (!t) fail_msg("no tensor %s", name);
    assert_string_equal(t->name, name);
    if (t->type != type) fail_msg("%s type %u, want %u", name, t->type, type);
    assert_int_equal(t->n_dims, n_dims);
    assert_int_equal(t->ne[0], ne0);
    assert_int_equal(t->ne[1], ne1);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->ne[3], 1);
    assert_int_equal(t->n_elements, ne0 * ne1);
    assert_int_equal(t->nbytes, (uint64_t)(ne0 * ne1) / eng_type_block_size(type) *
                                    eng_type_block_bytes(type));
}

/* Every tensor: findable by name, data at base + data_offset + offset, inside the file,
 * aligned, and byte-equal to the file at the offsets an independent walker computes. */
static void check_tensors_against_file(const struct eng_gguf *g, const uint8_t *file, size_t n)
{
    struct hdr h;
    walk(file, &h);
    assert_int_equal(eng_gguf_tensor_count(g), h.n_t);
    assert_int_equal(eng_gguf_data_offset(g), h.data_offset);
    assert_int_equal(eng_gguf_file_size(g), n);
    const uint8_t *base = eng_gguf_base(g);
    for (int64_t i = 0; i < eng_gguf_tensor_count(g); i++) {
        const struct eng_gguf_tensor *t = eng_gguf_tensor_at(g, i);
        assert_non_null(t);
        assert_ptr_equal(eng_gguf_tensor_find(g, t->name), t);
        const struct hdr_ti *w = hdr_tensor(&h, t->name);
        assert_int_equal(t->offset, w->off);
        assert_ptr_equal(t->data, base + h.data_offset + w->off);
        assert_int_equal(t->offset % eng_gguf_alignment(g), 0);
        assert_true(h.data_offset + t->offset + t->nbytes <= n);
        size_t cmp = t->nbytes < 4096 ? (size_t)t->nbytes : 4096;
        assert_memory_equal(t->data, file + h.data_offset + w->off, cmp);
        const uint8_t *last = (const uint8_t *)t->data + t->nbytes - 1;
        assert_int_equal(*last, file[h.data_offset + w->off + t->nbytes - 1]);
    }
    assert_null(eng_gguf_tensor_at(g, -1));
    assert_null(eng_gguf_tensor_at(g, eng_gguf_tensor_count(g)));
    assert_null(eng_gguf_tensor_find(g, "blk.2.attn_qkv.weight"));
    assert_null(eng_gguf_tensor_find(g, ""));
}

static void check_vocab(const struct eng_gguf *g)
{
    uint32_t et = 99;
    uint64_t count = 0;
    assert_int_equal(eng_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &count), 0);
    assert_int_equal(et, ENG_GGUF_TYPE_STRING);
    assert_int_equal(count, N_VOCAB);
    int64_t k = eng_gguf_find_key(g, "tokenizer.ggml.tokens");
    assert_true(k >= 0);
    assert_string_equal(eng_gguf_key_name(g, k), "tokenizer.ggml.tokens");
    assert_int_equal(eng_gguf_key_type(g, k), ENG_GGUF_TYPE_ARRAY);
    assert_arr_str(g, k, 0, "!");
    assert_arr_str(g, k, 220, "\xc4\xa0"); /* "Ġ": GPT-2 byte-level space */
    assert_arr_str(g, k, 151329, "<|endoftext|>");
    assert_arr_str(g, k, 151331, "[gMASK]");
    assert_arr_str(g, k, 151336, "<|user|>");
    assert_arr_str(g, k, 151338, "<|observation|>");
    assert_arr_str(g, k, N_VOCAB - 1, "[PAD151551]");
    const char *s;
    size_t len;
    assert_int_equal(eng_gguf_arr_str(g, k, N_VOCAB, &s, &len), ENG_ERR_RANGE);
    assert_int_equal(eng_gguf_arr_str(g, -1, 0, &s, &len), ENG_ERR_RANGE);
    assert_null(eng_gguf_arr_data(g, k)); /* strings are not packed numbers */

    /* token_type: 1 normal, 3 control (the 14 specials 151329..151342), 5 user-defined
     * ([PAD...] fillers up to the padded vocabulary) */
    assert_int_equal(eng_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &count), 0);
    assert_int_equal(et, ENG_GGUF_TYPE_INT32);
    assert_int_equal(count, N_VOCAB);
    int64_t kt = eng_gguf_find_key(g, "tokenizer.ggml.token_type");
    int32_t *types = malloc(N_VOCAB * sizeof *types);
    assert_non_null(types);
    assert_int_equal(eng_gguf_arr_copy_i32(g, kt, types, N_VOCAB), 0);
    int n1 = 0, n3 = 0, n5 = 0;
    for (int i = 0; i < N_VOCAB; i++) {
        n1 += types[i] == 1;
        n3 += types[i] == 3;
        n5 += types[i] == 5;
        if (i >= 151329 && i <= 151342 && types[i] != 3) fail_msg("token %d type %d", i, types[i]);
    }
    assert_int_equal(n1, 151329);
    assert_int_equal(n3, 14);
    assert_int_equal(n5, 209);
    free(types);
    int64_t v = 0;
    assert_int_equal(eng_gguf_arr_int(g, kt, 151331, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(eng_gguf_arr_int(g, kt, N_VOCAB, &v), ENG_ERR_RANGE);
    assert_int_equal(eng_gguf_arr_int(g, k, 0, &v), ENG_ERR_FORMAT); /* strings */
    const uint8_t *raw = eng_gguf_arr_data(g, kt);
    assert_non_null(raw);
    int32_t t0;
    memcpy(&t0, raw + 4 * 151343, 4);
    assert_int_equal(t0, 5);
    assert_int_equal(eng_gguf_arr_str(g, kt, 0, &s, &len), ENG_ERR_FORMAT);
    int32_t one;
    assert_int_equal(eng_gguf_arr_copy_i32(g, kt, &one, N_VOCAB + 1), ENG_ERR_RANGE);
    assert_int_equal(eng_gguf_arr_copy_i32(g, k, &one, 1), ENG_ERR_FORMAT);
}

static void test_fixture_chatglm_f16(void **state)
{
    (void)state;
    struct eng_gguf *g = open_fixture(F16_PATH);
    assert_int_equal(eng_gguf_version(g), 3);
    assert_int_equal(eng_gguf_alignment(g), 32);
    assert_int_equal(eng_gguf_kv_count(g), 27);
    assert_int_equal(eng_gguf_tensor_count(g), 17);

    assert_str(g, "general.architecture", "chatglm");
    assert_u32(g, "chatglm.block_count", 2);
    assert_u32(g, "chatglm.embedding_length", 64);
    assert_u32(g, "chatglm.feed_forward_length", 160);
    assert_u32(g, "chatglm.attention.head_count", 4);
    assert_u32(g, "chatglm.attention.head_count_kv", 2);
    assert_u32(g, "chatglm.context_length", 131072);
    assert_u32(g, "chatglm.rope.dimension_count", 8);
    assert_u32(g, "general.file_type", 1); /* mostly F16 */
    assert_u32(g, "tokenizer.ggml.eos_token_id", 151329);
    assert_u32(g, "tokenizer.ggml.eot_token_id", 151336);
    int64_t i64 = 0;
    assert_int_equal(eng_gguf_get_i64(g, "chatglm.context_length", &i64), 0);
    assert_int_equal(i64, 131072);
    float f = 0;
    assert_int_equal(eng_gguf_get_f32(g, "chatglm.attention.layer_norm_rms_epsilon", &f), 0);
    assert_true(fabsf(f - 1.5625e-07f) < 1e-12f);
    assert_int_equal(eng_gguf_get_f32(g, "chatglm.rope.freq_base", &f), 0);
    assert_true(f == 5e6f); /* 10000 * rope_ratio 500, spec §1 */
    bool bos = true;
    assert_int_equal(eng_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &bos), 0);
    assert_false(bos);
    assert_str(g, "tokenizer.ggml.model", "gpt2");
    assert_str(g, "tokenizer.ggml.pre", "chatglm-bpe");
    const char *tmpl;
    size_t tlen;
    assert_int_equal(eng_gguf_get_str(g, "tokenizer.chat_template", &tmpl, &tlen), 0);
    assert_true(tlen > 100 && strncmp(tmpl, "[gMASK]<sop>", 12) == 0);

    /* wrong types and missing keys, and *out untouched */
    uint32_t u = 7;
    assert_int_equal(eng_gguf_get_u32(g, "general.architecture", &u), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_u32(g, "chatglm.nope", &u), ENG_ERR_RANGE);
    assert_int_equal(eng_gguf_get_u32(g, "chatglm.attention.layer_norm_rms_epsilon", &u),
                     ENG_ERR_FORMAT);
    assert_int_equal(u, 7);
    assert_int_equal(eng_gguf_get_f32(g, "chatglm.block_count", &f), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_bool(g, "chatglm.block_count", &bos), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_str(g, "chatglm.block_count", &tmpl, &tlen), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_arr(g, "chatglm.block_count", NULL, NULL), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_arr(g, "x", NULL, NULL), ENG_ERR_RANGE);
    assert_int_equal(eng_gguf_find_key(g, "chatglm"), -1);
    assert_int_equal(eng_gguf_find_key(g, ""), -1);
    assert_null(eng_gguf_key_name(g, 27));
    assert_null(eng_gguf_key_name(g, -1));
    assert_int_equal(eng_gguf_key_type(g, 27), ENG_ERR_RANGE);
    for (int64_t k = 0; k < eng_gguf_kv_count(g); k++)
        assert_int_equal(eng_gguf_find_key(g, eng_gguf_key_name(g, k)), k);

    check_vocab(g);
    uint32_t et;
    uint64_t count;
    assert_int_equal(eng_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &count), 0);
    assert_int_equal(et, ENG_GGUF_TYPE_STRING);
    assert_int_equal(count, 151073);
    assert_arr_str(g, eng_gguf_find_key(g, "tokenizer.ggml.merges"), 0, "\xc4\xa0 \xc4\xa0");

    /* shapes from spec/glm4-model.md §2 at d_model 64, 4 heads x 16, 2 KV heads, ffn 160:
     * qkv rows = 4*16 + 2*2*16 = 128, ffn_up rows = 2*160 */
    assert_tensor(g, "token_embd.weight", ENG_TYPE_F16, 2, 64, N_VOCAB);
    assert_tensor(g, "output.weight", ENG_TYPE_F16, 2, 64, N_VOCAB);
    assert_tensor(g, "output_norm.weight", ENG_TYPE_F32, 1, 64, 1);
    for (int l = 0; l < 2; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_qkv.weight", l);
        assert_tensor(g, name, ENG_TYPE_F16, 2, 64, 128);
        snprintf(name, sizeof name, "blk.%d.attn_qkv.bias", l);
        assert_tensor(g, name, ENG_TYPE_F32, 1, 128, 1);
        snprintf(name, sizeof name, "blk.%d.attn_output.weight", l);
        assert_tensor(g, name, ENG_TYPE_F16, 2, 64, 64);
        snprintf(name, sizeof name, "blk.%d.ffn_up.weight", l);
        assert_tensor(g, name, ENG_TYPE_F16, 2, 64, 320);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        assert_tensor(g, name, ENG_TYPE_F16, 2, 160, 64);
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        assert_tensor(g, name, ENG_TYPE_F32, 1, 64, 1);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        assert_tensor(g, name, ENG_TYPE_F32, 1, 64, 1);
    }
    size_t n;
    uint8_t *file = (uint8_t *)tu_read_file(tu_shared(F16_PATH), &n);
    check_tensors_against_file(g, file, n);
    free(file);
    eng_gguf_close(g);
    eng_gguf_close(NULL);
}

static void test_fixture_chatglm_q4_0(void **state)
{
    (void)state;
    struct eng_gguf *g = open_fixture(Q40_PATH);
    assert_str(g, "general.architecture", "chatglm");
    assert_u32(g, "chatglm.block_count", 2);
    assert_u32(g, "chatglm.embedding_length", 64);
    assert_u32(g, "chatglm.attention.head_count", 4);
    assert_u32(g, "chatglm.attention.head_count_kv", 2);
    assert_u32(g, "general.file_type", 2); /* mostly Q4_0 */
    check_vocab(g);
    assert_int_equal(eng_gguf_tensor_count(g), 17);
    assert_tensor(g, "output.weight", ENG_TYPE_Q8_0, 2, 64, N_VOCAB); /* 34 B / 32 */
    assert_tensor(g, "token_embd.weight", ENG_TYPE_Q4_0, 2, 64, N_VOCAB);
    assert_int_equal(eng_gguf_tensor_find(g, "token_embd.weight")->nbytes, 5455872);
    assert_tensor(g, "blk.1.attn_qkv.weight", ENG_TYPE_Q4_0, 2, 64, 128);
    assert_tensor(g, "blk.1.attn_qkv.bias", ENG_TYPE_F32, 1, 128, 1);
    assert_tensor(g, "blk.0.ffn_down.weight", ENG_TYPE_Q4_0, 2, 160, 64);
    assert_tensor(g, "blk.0.ffn_up.weight", ENG_TYPE_Q4_0, 2, 64, 320);
    size_t n;
    uint8_t *file = (uint8_t *)tu_read_file(tu_shared(Q40_PATH), &n);
    check_tensors_against_file(g, file, n);
    free(file);
    eng_gguf_close(g);
}

static void test_fixture_glm4_0414(void **state)
{
    (void)state;
    struct eng_gguf *g = open_fixture(G0414_PATH);
    assert_str(g, "general.architecture", "glm4");
    assert_str(g, "tokenizer.ggml.pre", "glm4");
    assert_u32(g, "glm4.block_count", 2);
    assert_u32(g, "glm4.embedding_length", 64);
    assert_u32(g, "glm4.attention.head_count", 4);
    assert_u32(g, "glm4.attention.head_count_kv", 2);
    assert_u32(g, "glm4.attention.key_length", 16);
    assert_u32(g, "glm4.attention.value_length", 16);
    assert_u32(g, "glm4.rope.dimension_count", 8); /* head_dim / 2, spec §3 */
    assert_u32(g, "tokenizer.ggml.bos_token_id", 151329);
    check_vocab(g);
    uint32_t et;
    uint64_t count;
    assert_int_equal(eng_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &count), 0);
    assert_int_equal(count, 318088); /* the full TikToken-style merge list, spec §3 */
    int64_t km = eng_gguf_find_key(g, "tokenizer.ggml.merges");
    assert_arr_str(g, km, 151331, "fore cast");
    assert_int_equal(eng_gguf_tensor_count(g), 29);
    assert_null(eng_gguf_tensor_find(g, "blk.0.attn_qkv.weight"));
    for (int l = 0; l < 2; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", l);
        assert_tensor(g, name, ENG_TYPE_Q4_0, 2, 64, 64);
        snprintf(name, sizeof name, "blk.%d.attn_k.weight", l);
        assert_tensor(g, name, ENG_TYPE_Q4_0, 2, 64, 32);
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        assert_tensor(g, name, ENG_TYPE_Q4_0, 2, 64, 32);
        snprintf(name, sizeof name, "blk.%d.attn_k.bias", l);
        assert_tensor(g, name, ENG_TYPE_F32, 1, 32, 1);
        snprintf(name, sizeof name, "blk.%d.post_attention_norm.weight", l);
        assert_tensor(g, name, ENG_TYPE_F32, 1, 64, 1);
        snprintf(name, sizeof name, "blk.%d.post_ffw_norm.weight", l);
        assert_tensor(g, name, ENG_TYPE_F32, 1, 64, 1);
    }
    size_t n;
    uint8_t *file = (uint8_t *)tu_read_file(tu_shared(G0414_PATH), &n);
    check_tensors_against_file(g, file, n);
    free(file);
    eng_gguf_close(g);
}

/* ---- hand-built valid files ---------------------------------------------------------------- */

static void kv_hdr(struct bytes *b, const char *key, uint32_t type)
{
    b_str(b, key);
    b_u32(b, type);
}

static void test_synthetic_values(void **state)
{
    (void)state;
    struct bytes kv = {0}, ti = {0};
    kv_hdr(&kv, "u8", ENG_GGUF_TYPE_UINT8), b_u8(&kv, 200);
    kv_hdr(&kv, "i8", ENG_GGUF_TYPE_INT8), b_u8(&kv, 0xfb); /* -5 */
    kv_hdr(&kv, "u16", ENG_GGUF_TYPE_UINT16), b_le(&kv, 65535, 2);
    kv_hdr(&kv, "i16", ENG_GGUF_TYPE_INT16), b_le(&kv, 0x8000, 2); /* -32768 */
    kv_hdr(&kv, "u32", ENG_GGUF_TYPE_UINT32), b_u32(&kv, 4000000000u);
    kv_hdr(&kv, "i32", ENG_GGUF_TYPE_INT32), b_u32(&kv, 0xffffffffu); /* -1 */
    kv_hdr(&kv, "i32pos", ENG_GGUF_TYPE_INT32), b_u32(&kv, 12345);
    kv_hdr(&kv, "f32", ENG_GGUF_TYPE_FLOAT32), b_f32(&kv, 0.25f);
    kv_hdr(&kv, "b1", ENG_GGUF_TYPE_BOOL), b_u8(&kv, 1);
    kv_hdr(&kv, "s", ENG_GGUF_TYPE_STRING), b_strn(&kv, "a\0b", 3);
    kv_hdr(&kv, "empty", ENG_GGUF_TYPE_STRING), b_str(&kv, "");
    kv_hdr(&kv, "u64", ENG_GGUF_TYPE_UINT64), b_u64(&kv, 1ull << 32);
    kv_hdr(&kv, "u64big", ENG_GGUF_TYPE_UINT64), b_u64(&kv, 1ull << 63);
    kv_hdr(&kv, "i64", ENG_GGUF_TYPE_INT64), b_u64(&kv, (uint64_t)-7);
    kv_hdr(&kv, "f64", ENG_GGUF_TYPE_FLOAT64), b_f64(&kv, -1.5);
    kv_hdr(&kv, "general.alignment", ENG_GGUF_TYPE_UINT32), b_u32(&kv, 64);
    kv_hdr(&kv, "a.i16", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_INT16), b_u64(&kv, 3);
    b_le(&kv, 1, 2), b_le(&kv, 0xffff, 2), b_le(&kv, 300, 2);
    kv_hdr(&kv, "a.u64", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_UINT64), b_u64(&kv, 2);
    b_u64(&kv, 5), b_u64(&kv, UINT64_MAX);
    kv_hdr(&kv, "a.i64", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_INT64), b_u64(&kv, 1);
    b_u64(&kv, 1ull << 40);
    kv_hdr(&kv, "a.bool", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_BOOL), b_u64(&kv, 2);
    b_u8(&kv, 0), b_u8(&kv, 1);
    kv_hdr(&kv, "a.f64", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_FLOAT64), b_u64(&kv, 1);
    b_f64(&kv, 2.5);
    kv_hdr(&kv, "a.f32", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_FLOAT32), b_u64(&kv, 1);
    b_f32(&kv, -0.5f);
    kv_hdr(&kv, "a.str0", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_STRING), b_u64(&kv, 0);
    kv_hdr(&kv, "a.str", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_STRING), b_u64(&kv, 3);
    b_str(&kv, "x"), b_str(&kv, ""), b_str(&kv, "yz");
    /* nested one level: [[1, 2], ["p"]] — accepted, not indexed */
    kv_hdr(&kv, "a.nest", ENG_GGUF_TYPE_ARRAY), b_u32(&kv, ENG_GGUF_TYPE_ARRAY), b_u64(&kv, 2);
    b_u32(&kv, ENG_GGUF_TYPE_UINT8), b_u64(&kv, 2), b_u8(&kv, 1), b_u8(&kv, 2);
    b_u32(&kv, ENG_GGUF_TYPE_STRING), b_u64(&kv, 1), b_str(&kv, "p");
    const int n_kv = 25;

    uint64_t ne_a[2] = {64, 3}, ne_b[1] = {256}, ne_c[4] = {32, 2, 2, 2};
    b_tensor(&ti, "a", 2, ne_a, ENG_TYPE_Q4_0, 0);    /* 2 blocks/row * 3 rows * 18 = 108 */
    b_tensor(&ti, "b", 1, ne_b, ENG_TYPE_Q4_K, 128);  /* 144 */
    b_tensor(&ti, "c", 4, ne_c, ENG_TYPE_F32, 128);   /* overlap is allowed: 32*8*4 = 1024 */
    b_tensor(&ti, "d", 1, ne_b, ENG_TYPE_BF16, 1152); /* 512 */
    struct bytes f = gguf_file(2, 4, n_kv, &kv, &ti, 64, 1664);

    struct eng_gguf *g = open_ok_mem(&f);
    assert_int_equal(eng_gguf_version(g), 2);
    assert_int_equal(eng_gguf_alignment(g), 64);
    assert_int_equal(eng_gguf_data_offset(g) % 64, 0);
    assert_int_equal(eng_gguf_data_offset(g) + 1664, f.n);
    assert_int_equal(eng_gguf_kv_count(g), n_kv);
    assert_ptr_equal(eng_gguf_base(g), f.p);

    uint32_t u;
    int64_t i;
    float x;
    bool b;
    assert_int_equal(eng_gguf_get_u32(g, "u8", &u), 0), assert_int_equal(u, 200);
    assert_int_equal(eng_gguf_get_u32(g, "i8", &u), ENG_ERR_FORMAT); /* negative */
    assert_int_equal(eng_gguf_get_i64(g, "i8", &i), 0), assert_int_equal(i, -5);
    assert_int_equal(eng_gguf_get_u32(g, "u16", &u), 0), assert_int_equal(u, 65535);
    assert_int_equal(eng_gguf_get_i64(g, "i16", &i), 0), assert_int_equal(i, -32768);
    assert_int_equal(eng_gguf_get_u32(g, "u32", &u), 0), assert_int_equal(u, 4000000000u);
    assert_int_equal(eng_gguf_get_u32(g, "i32", &u), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_i64(g, "i32", &i), 0), assert_int_equal(i, -1);
    assert_int_equal(eng_gguf_get_u32(g, "i32pos", &u), 0), assert_int_equal(u, 12345);
    assert_int_equal(eng_gguf_get_u32(g, "u64", &u), ENG_ERR_FORMAT); /* 2^32 does not fit */
    assert_int_equal(eng_gguf_get_i64(g, "u64", &i), 0), assert_int_equal(i, 1ll << 32);
    assert_int_equal(eng_gguf_get_i64(g, "u64big", &i), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_i64(g, "i64", &i), 0), assert_int_equal(i, -7);
    assert_int_equal(eng_gguf_get_u32(g, "b1", &u), ENG_ERR_FORMAT); /* BOOL is no integer */
    assert_int_equal(eng_gguf_get_u32(g, "f32", &u), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_f32(g, "f32", &x), 0), assert_true(x == 0.25f);
    assert_int_equal(eng_gguf_get_f32(g, "f64", &x), 0), assert_true(x == -1.5f);
    assert_int_equal(eng_gguf_get_f32(g, "u8", &x), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_get_bool(g, "b1", &b), 0), assert_true(b);
    assert_int_equal(eng_gguf_get_bool(g, "u8", &b), ENG_ERR_FORMAT);
    const char *s;
    size_t len;
    assert_int_equal(eng_gguf_get_str(g, "s", &s, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 3); /* values may hold NUL: pointer + length */
    assert_int_equal(eng_gguf_get_str(g, "empty", &s, &len), 0), assert_int_equal(len, 0);
    assert_int_equal(eng_gguf_key_type(g, eng_gguf_find_key(g, "f64")), ENG_GGUF_TYPE_FLOAT64);

    uint32_t et;
    uint64_t count;
    int64_t k = eng_gguf_find_key(g, "a.i16");
    assert_int_equal(eng_gguf_get_arr(g, "a.i16", &et, &count), 0);
    assert_int_equal(et, ENG_GGUF_TYPE_INT16), assert_int_equal(count, 3);
    assert_int_equal(eng_gguf_arr_int(g, k, 1, &i), 0), assert_int_equal(i, -1);
    assert_int_equal(eng_gguf_arr_int(g, k, 2, &i), 0), assert_int_equal(i, 300);
    assert_int_equal(eng_gguf_arr_int(g, k, 3, &i), ENG_ERR_RANGE);
    int32_t dst[3];
    assert_int_equal(eng_gguf_arr_copy_i32(g, k, dst, 3), 0);
    assert_int_equal(dst[0], 1), assert_int_equal(dst[1], -1), assert_int_equal(dst[2], 300);
    assert_int_equal(eng_gguf_arr_f32(g, k, 0, &x), ENG_ERR_FORMAT);
    k = eng_gguf_find_key(g, "a.u64");
    assert_int_equal(eng_gguf_arr_int(g, k, 0, &i), 0), assert_int_equal(i, 5);
    assert_int_equal(eng_gguf_arr_int(g, k, 1, &i), ENG_ERR_FORMAT); /* > INT64_MAX */
    assert_int_equal(eng_gguf_arr_copy_i32(g, k, dst, 2), ENG_ERR_FORMAT);
    k = eng_gguf_find_key(g, "a.i64");
    assert_int_equal(eng_gguf_arr_copy_i32(g, k, dst, 1), ENG_ERR_FORMAT); /* 2^40 */
    assert_int_equal(eng_gguf_arr_copy_i32(g, k, dst, 0), 0);
    k = eng_gguf_find_key(g, "a.bool");
    assert_int_equal(eng_gguf_arr_int(g, k, 1, &i), 0), assert_int_equal(i, 1);
    k = eng_gguf_find_key(g, "a.f64");
    assert_int_equal(eng_gguf_arr_f32(g, k, 0, &x), 0), assert_true(x == 2.5f);
    assert_int_equal(eng_gguf_arr_int(g, k, 0, &i), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_arr_copy_i32(g, k, dst, 1), ENG_ERR_FORMAT);
    k = eng_gguf_find_key(g, "a.f32");
    assert_int_equal(eng_gguf_arr_f32(g, k, 0, &x), 0), assert_true(x == -0.5f);
    assert_int_equal(eng_gguf_arr_f32(g, k, 1, &x), ENG_ERR_RANGE);
    assert_non_null(eng_gguf_arr_data(g, k));
    k = eng_gguf_find_key(g, "a.str0");
    assert_int_equal(eng_gguf_get_arr(g, "a.str0", &et, &count), 0), assert_int_equal(count, 0);
    assert_int_equal(eng_gguf_arr_str(g, k, 0, &s, &len), ENG_ERR_RANGE);
    k = eng_gguf_find_key(g, "a.str");
    assert_arr_str(g, k, 0, "x");
    assert_arr_str(g, k, 1, "");
    assert_arr_str(g, k, 2, "yz");
    k = eng_gguf_find_key(g, "a.nest");
    assert_int_equal(eng_gguf_get_arr(g, "a.nest", &et, &count), 0);
    assert_int_equal(et, ENG_GGUF_TYPE_ARRAY), assert_int_equal(count, 2);
    assert_null(eng_gguf_arr_data(g, k));
    assert_int_equal(eng_gguf_arr_str(g, k, 0, &s, &len), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_arr_int(g, k, 0, &i), ENG_ERR_FORMAT);
    k = eng_gguf_find_key(g, "u8");
    assert_null(eng_gguf_arr_data(g, k));
    assert_int_equal(eng_gguf_arr_int(g, k, 0, &i), ENG_ERR_FORMAT);
    assert_int_equal(eng_gguf_arr_int(g, 999, 0, &i), ENG_ERR_RANGE);

    const struct eng_gguf_tensor *t = eng_gguf_tensor_find(g, "a");
    assert_non_null(t);
    assert_int_equal(t->nbytes, 108);
    assert_ptr_equal(t->data, f.p + eng_gguf_data_offset(g));
    t = eng_gguf_tensor_find(g, "b");
    assert_int_equal(t->nbytes, 144);
    assert_int_equal(t->offset, 128);
    t = eng_gguf_tensor_find(g, "c");
    assert_int_equal(t->n_dims, 4);
    assert_int_equal(t->n_elements, 256);
    assert_int_equal(t->nbytes, 1024);
    t = eng_gguf_tensor_find(g, "d");
    assert_int_equal(t->nbytes, 512);
    assert_ptr_equal(t->data, f.p + f.n - 512); /* ends exactly at end of file */
    eng_gguf_close(g);

    /* the same through a file and mmap */
    const char *path = tu_write_temp(0, f.p, f.n);
    char *why = NULL;
    g = eng_gguf_open(path, &why);
    unlink(path);
    assert_non_null(g);
    assert_null(why);
    assert_int_equal(eng_gguf_tensor_count(g), 4);
    assert_memory_equal(eng_gguf_tensor_find(g, "d")->data, f.p + f.n - 512, 512);
    eng_gguf_close(g);
    free(f.p);
    free(kv.p);
    free(ti.p);

    /* no tensors, no key/values, no padding at all: still a valid file */
    f = gguf_file(3, 0, 0, NULL, NULL, 1, 0);
    assert_int_equal(f.n, 24);
    g = open_ok_mem(&f);
    assert_int_equal(eng_gguf_tensor_count(g), 0);
    assert_int_equal(eng_gguf_kv_count(g), 0);
    assert_int_equal(eng_gguf_find_key(g, "general.architecture"), -1);
    assert_null(eng_gguf_tensor_find(g, "x"));
    assert_int_equal(eng_gguf_data_offset(g), 24);
    eng_gguf_close(g);
    free(f.p);
}

/* ---- hand-built bad files ------------------------------------------------------------------ */

/* One key/value file with the given value bytes after the key "k" and type. */
static struct bytes one_kv(uint32_t type, const void *val, size_t n)
{
    struct bytes kv = {0};
    kv_hdr(&kv, "k", type);
    b_put(&kv, val, n);
    struct bytes f = gguf_file(3, 0, 1, &kv, NULL, 1, 0);
    free(kv.p);
    return f;
}

/* One tensor info, padded to the default alignment (32), then data_len bytes of data. */
static struct bytes one_tensor(const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                               uint64_t offset, size_t data_len)
{
    struct bytes ti = {0};
    b_tensor(&ti, name, n_dims, ne, type, offset);
    struct bytes f = gguf_file(3, 1, 0, NULL, &ti, 32, data_len);
    free(ti.p);
    return f;
}

static void test_synthetic_bad(void **state)
{
    (void)state;
    struct bytes f, kv = {0};
    uint8_t v8[32];

    f = gguf_file(3, 0, 0, NULL, NULL, 1, 0);
    memcpy(f.p, "GGML", 4);
    expect_bad(&f, "not a GGUF file (bad magic)");
    f = gguf_file(1, 0, 0, NULL, NULL, 1, 0);
    expect_bad(&f, "GGUF version 1 is not supported");
    f = gguf_file(4, 0, 0, NULL, NULL, 1, 0);
    expect_bad(&f, "GGUF version 4");
    f = gguf_file(0x03000000u, 0, 0, NULL, NULL, 1, 0);
    expect_bad(&f, "big-endian");
    f = gguf_file(3, 0, 0, NULL, NULL, 1, 0);
    f.n = 10;
    expect_bad(&f, "truncated header (10 of 24 bytes)");
    f = gguf_file(3, 0, 0, NULL, NULL, 1, 0);
    f.n = 3;
    expect_bad(&f, "truncated header");
    f = gguf_file(3, 0, 0, NULL, NULL, 1, 0);
    f.n = 0;
    expect_bad(&f, "empty");
    /* hostile counts: refused before any allocation */
    f = gguf_file(3, 0, 1ull << 62, NULL, NULL, 1, 100);
    expect_bad(&f, "header claims 4611686018427387904 key/values, impossible");
    f = gguf_file(3, UINT64_MAX, 0, NULL, NULL, 1, 100);
    expect_bad(&f, "tensors, impossible");
    f = gguf_file(3, 0, 2000000, NULL, NULL, 1, 0);
    expect_bad(&f, "key/values, impossible");

    /* values */
    f = one_kv(13, "\0\0\0\0", 4);
    expect_bad(&f, "key/value 0 ('k'): unknown value type 13");
    f = one_kv(ENG_GGUF_TYPE_BOOL, "\2", 1);
    expect_bad(&f, "BOOL value 2");
    f = one_kv(ENG_GGUF_TYPE_UINT32, "\1\0", 2);
    expect_bad(&f, "truncated in key/value 0 ('k')");
    put_le(v8, 1ull << 60, 8);
    f = one_kv(ENG_GGUF_TYPE_STRING, v8, 8);
    expect_bad(&f, "(string of 1152921504606846976 bytes, 0 left)");
    put_le(v8, ENG_GGUF_TYPE_UINT32, 4), put_le(v8 + 4, UINT64_MAX, 8);
    f = one_kv(ENG_GGUF_TYPE_ARRAY, v8, 12);
    expect_bad(&f, "(array of 18446744073709551615 UINT32, 0 bytes left)");
    put_le(v8, ENG_GGUF_TYPE_STRING, 4), put_le(v8 + 4, 1ull << 61, 8);
    f = one_kv(ENG_GGUF_TYPE_ARRAY, v8, 12);
    expect_bad(&f, "array of 2305843009213693952 strings");
    put_le(v8, ENG_GGUF_TYPE_STRING, 4), put_le(v8 + 4, 2, 8), put_le(v8 + 12, 0, 8);
    put_le(v8 + 20, 1000, 8);
    f = one_kv(ENG_GGUF_TYPE_ARRAY, v8, 28); /* the second string runs off the end */
    expect_bad(&f, "(string of 1000 bytes, 0 left)");
    put_le(v8, 77, 4), put_le(v8 + 4, 1, 8);
    f = one_kv(ENG_GGUF_TYPE_ARRAY, v8, 12);
    expect_bad(&f, "unknown array element type 77");
    put_le(v8, ENG_GGUF_TYPE_BOOL, 4), put_le(v8 + 4, 2, 8), v8[12] = 1, v8[13] = 9;
    f = one_kv(ENG_GGUF_TYPE_ARRAY, v8, 14);
    expect_bad(&f, "element 1 is BOOL 9");
    /* [[[...]]]: two levels of nesting */
    put_le(v8, ENG_GGUF_TYPE_ARRAY, 4), put_le(v8 + 4, 1, 8);
    put_le(v8 + 12, ENG_GGUF_TYPE_ARRAY, 4), put_le(v8 + 16, 1, 8);
    put_le(v8 + 24, ENG_GGUF_TYPE_UINT8, 4), put_le(v8 + 28, 0, 4);
    f = one_kv(ENG_GGUF_TYPE_ARRAY, v8, 32);
    expect_bad(&f, "arrays nested more than one level deep");
    put_le(v8, ENG_GGUF_TYPE_ARRAY, 4), put_le(v8 + 4, 1ull << 40, 8);
    f = one_kv(ENG_GGUF_TYPE_ARRAY, v8, 12);
    expect_bad(&f, "array of 1099511627776 arrays");

    /* keys */
    b_strn(&kv, "", 0), b_u32(&kv, ENG_GGUF_TYPE_UINT64), b_u64(&kv, 1);
    f = gguf_file(3, 0, 1, &kv, NULL, 1, 0);
    expect_bad(&f, "key/value 0: empty key");
    kv.n = 0;
    b_strn(&kv, "a\0b", 3), b_u32(&kv, ENG_GGUF_TYPE_UINT8), b_u8(&kv, 1);
    f = gguf_file(3, 0, 1, &kv, NULL, 1, 0);
    expect_bad(&f, "key contains a NUL byte");
    kv.n = 0;
    kv_hdr(&kv, "a.b", ENG_GGUF_TYPE_UINT8), b_u8(&kv, 1);
    kv_hdr(&kv, "a.c", ENG_GGUF_TYPE_UINT8), b_u8(&kv, 1);
    kv_hdr(&kv, "a.b", ENG_GGUF_TYPE_STRING), b_str(&kv, "x");
    f = gguf_file(3, 0, 3, &kv, NULL, 1, 0);
    expect_bad(&f, "duplicate key 'a.b' (key/values 0 and 2)");
    kv.n = 0;
    b_u64(&kv, 70000), b_zero(&kv, 70000), b_u32(&kv, 0), b_u8(&kv, 0);
    memset(kv.p + 8, 'k', 70000);
    f = gguf_file(3, 0, 1, &kv, NULL, 1, 0);
    expect_bad(&f, "key of 70000 bytes (at most 65535)");
    kv.n = 0;
    kv_hdr(&kv, "evil\nkey\x1b[2J", 99);
    f = gguf_file(3, 0, 1, &kv, NULL, 1, 0);
    expect_bad(&f, "('evil?key?[2J'): unknown value type 99"); /* one clean line */
    kv.n = 0;

    /* alignment */
    kv_hdr(&kv, "general.alignment", ENG_GGUF_TYPE_UINT32), b_u32(&kv, 48);
    f = gguf_file(3, 0, 1, &kv, NULL, 1, 0);
    expect_bad(&f, "general.alignment 48 is not a power of two");
    kv.n = 0;
    kv_hdr(&kv, "general.alignment", ENG_GGUF_TYPE_UINT32), b_u32(&kv, 0);
    f = gguf_file(3, 0, 1, &kv, NULL, 1, 0);
    expect_bad(&f, "general.alignment 0 is not a power of two");
    kv.n = 0;
    kv_hdr(&kv, "general.alignment", ENG_GGUF_TYPE_UINT64), b_u64(&kv, 32);
    f = gguf_file(3, 0, 1, &kv, NULL, 1, 0);
    expect_bad(&f, "general.alignment has type UINT64 (expected UINT32)");
    free(kv.p);

    /* tensors */
    uint64_t ne[5] = {64, 2, 1, 1, 1};
    f = one_tensor("w", 2, ne, ENG_TYPE_F32, 0, 512);
    struct eng_gguf *g = open_ok_mem(&f); /* the baseline is valid */
    eng_gguf_close(g);
    free(f.p);
    f = one_tensor("w", 5, ne, ENG_TYPE_F32, 0, 512);
    expect_bad(&f, "tensor 'w' has 5 dimensions (must be 1..4)");
    f = one_tensor("w", 0, ne, ENG_TYPE_F32, 0, 512);
    expect_bad(&f, "tensor 'w' has 0 dimensions");
    ne[1] = 0;
    f = one_tensor("w", 2, ne, ENG_TYPE_F32, 0, 512);
    expect_bad(&f, "tensor 'w' has ne[1] = 0");
    ne[1] = 1ull << 62;
    f = one_tensor("w", 2, ne, ENG_TYPE_F32, 0, 512);
    expect_bad(&f, "tensor 'w' has too many elements (ne[1] = 4611686018427387904)");
    ne[1] = 1ull << 56; /* elements fit int64, bytes do not fit uint64 */
    f = one_tensor("w", 2, ne, ENG_TYPE_F32, 0, 512);
    expect_bad(&f, "is too large");
    ne[1] = 1ull << 50; /* bytes fit, the file does not */
    f = one_tensor("w", 2, ne, ENG_TYPE_F32, 0, 512);
    expect_bad(&f, "tensor 'w' data past end of file (offset 0 + 288230376151711744 > 512)");
    ne[1] = 2;
    f = one_tensor("w", 2, ne, 99, 0, 512);
    expect_bad(&f, "tensor 'w' has unknown type id 99");
    f = one_tensor("w", 2, ne, 4, 0, 512); /* a retired ggml id */
    expect_bad(&f, "unknown type id 4");
    ne[0] = 48;
    f = one_tensor("w", 2, ne, ENG_TYPE_Q4_0, 0, 512);
    expect_bad(&f, "tensor 'w': row of 48 elements is not a multiple of the Q4_0 block size 32");
    ne[0] = 64;
    f = one_tensor("w", 2, ne, ENG_TYPE_F32, 16, 512);
    expect_bad(&f, "tensor 'w' offset 16 is not a multiple of the alignment 32");
    f = one_tensor("w", 2, ne, ENG_TYPE_F32, 0, 511);
    char *why = expect_bad_file(f.p, f.n, NULL);
    assert_non_null(strstr(why, ": tensor 'w' data past end of file (offset 0 + 512 > 511)"));
    free(why);
    free(f.p);
    f = one_tensor("w", 2, ne, ENG_TYPE_F32, UINT64_MAX - 31, 512);
    expect_bad(&f, "data past end of file (offset 18446744073709551584 + 512 > 512)");
    f = one_tensor("", 2, ne, ENG_TYPE_F32, 0, 512);
    expect_bad(&f, "tensor info 0: empty tensor name");
    f = one_tensor("0123456789012345678901234567890123456789012345678901234567890123X", 2, ne,
                   ENG_TYPE_F32, 0, 512);
    expect_bad(&f, "tensor name of 65 bytes (at most 64)");
    struct bytes ti = {0};
    b_tensor(&ti, "w", 2, ne, ENG_TYPE_F32, 0);
    b_tensor(&ti, "v", 2, ne, ENG_TYPE_F32, 0);
    b_tensor(&ti, "w", 2, ne, ENG_TYPE_F32, 512);
    f = gguf_file(3, 3, 0, NULL, &ti, 32, 1024);
    expect_bad(&f, "duplicate tensor name 'w' (tensors 0 and 2)");
    ti.n = 0;
    b_tensor(&ti, "w", 2, ne, ENG_TYPE_F32, 0);
    f = gguf_file(3, 1, 0, NULL, &ti, 1, 0);
    f.n -= 6; /* cut inside the tensor info's offset field */
    expect_bad(&f, "truncated in tensor info 0 ('w')");
    free(ti.p);

    /* file-level: missing, directory, empty */
    char *w = NULL;
    assert_null(eng_gguf_open("/nonexistent/dir/x.gguf", &w));
    check_why(w, "/nonexistent/dir/x.gguf", "cannot open: No such file or directory");
    free(w);
    assert_null(eng_gguf_open("/", &w));
    check_why(w, "/", "not a regular file");
    free(w);
    w = expect_bad_file("", 0, "not a GGUF file (empty)");
    free(w);
    w = expect_bad_file("GGUF\3\0\0\0", 8, "truncated header (8 of 24 bytes)");
    free(w);
    w = expect_bad_file("PK\3\4 this is a zip file, not a model", 37, "bad magic");
    free(w);
    assert_null(eng_gguf_open("/nonexistent", NULL)); /* why is optional */
    assert_null(eng_gguf_open_mem(NULL, 0, NULL, &w));
    check_why(w, "(memory)", "empty");
    free(w);
}

/* ---- patched copies of the real F16 fixture ------------------------------------------------ */

static void test_fixture_patches(void **state)
{
    (void)state;
    size_t n;
    uint8_t *f = (uint8_t *)tu_read_file(tu_shared(F16_PATH), &n);
    struct hdr h;
    walk(f, &h);
    uint8_t save[16];
    struct bytes b = {.p = f, .n = n};
    char *why;

#define PATCH(pos, value, nbytes, want)                                                            \
    do {                                                                                           \
        memcpy(save, f + (pos), (nbytes));                                                         \
        put_le(f + (pos), (value), (nbytes));                                                      \
        char *why_ = NULL;                                                                         \
        struct eng_gguf *g_ = eng_gguf_open_mem(f, n, "m.gguf", &why_);                            \
        if (g_) fail_msg("patched file opened (expected '%s')", want);                             \
        check_why(why_, "m.gguf", want);                                                           \
        free(why_);                                                                                \
        memcpy(f + (pos), save, (nbytes));                                                         \
    } while (0)

    const struct hdr_ti *qkv = hdr_tensor(&h, "blk.0.attn_qkv.weight");
    /* unknown type through the real mmap path */
    memcpy(save, f + qkv->type, 4);
    put_le(f + qkv->type, 99, 4);
    why = expect_bad_file(f, n, "tensor 'blk.0.attn_qkv.weight' has unknown type id 99");
    free(why);
    memcpy(f + qkv->type, save, 4);
    PATCH(qkv->type, 4, 4, "tensor 'blk.0.attn_qkv.weight' has unknown type id 4");
    PATCH(qkv->type, ENG_TYPE_Q4_K, 4, "row of 64 elements is not a multiple of the Q4_K block");
    PATCH(qkv->n_dims, 5, 4, "tensor 'blk.0.attn_qkv.weight' has 5 dimensions");
    PATCH(qkv->ne + 8, 0, 8, "tensor 'blk.0.attn_qkv.weight' has ne[1] = 0");
    PATCH(qkv->ne + 8, 1ull << 62, 8, "too many elements");
    PATCH(qkv->offset, qkv->off + 2, 8, "offset 19469570 is not a multiple of the alignment 32");
    PATCH(qkv->offset, n, 8, "tensor 'blk.0.attn_qkv.weight' data past end of file");
    PATCH(qkv->offset, UINT64_MAX - 31, 8, "data past end of file");
    /* rename blk.1.attn_qkv.weight to blk.0's name: same length */
    PATCH(hdr_tensor(&h, "blk.1.attn_qkv.weight")->at + 8 + 4, '0', 1,
          "duplicate tensor name 'blk.0.attn_qkv.weight' (tensors 8 and 15)");
    PATCH(h.ti[0].at, 1ull << 40, 8, "truncated in tensor info 0");
    PATCH(h.ti[0].at, 65, 8, "tensor name of 65 bytes");

    const struct hdr_kv *name = hdr_key(&h, "general.name");
    PATCH(name->val, 1ull << 60, 8,
          "truncated in key/value 2 ('general.name') (string of 1152921504606846976 bytes");
    const struct hdr_kv *type = hdr_key(&h, "general.type"); /* -> general.name: 12 bytes */
    memcpy(save + 8, f + type->at + 8 + 8, 4);
    memcpy(f + type->at + 8 + 8, "name", 4);
    PATCH(type->type, ENG_GGUF_TYPE_STRING, 4, "duplicate key 'general.name' (key/values 1 and 2)");
    memcpy(f + type->at + 8 + 8, save + 8, 4);
    const struct hdr_kv *tok = hdr_key(&h, "tokenizer.ggml.tokens");
    PATCH(tok->val + 4, 1ull << 59, 8,
          "truncated in key/value 18 ('tokenizer.ggml.tokens') (array of 576460752303423488 "
          "strings");
    PATCH(tok->val + 4, N_VOCAB + 1, 8, "truncated in key/value");
    PATCH(tok->val, 13, 4, "unknown array element type 13");
    PATCH(hdr_key(&h, "tokenizer.ggml.token_type")->val + 4, 1ull << 62, 8,
          "(array of 4611686018427387904 INT32");
    PATCH(hdr_key(&h, "tokenizer.ggml.add_bos_token")->val, 7, 1, "BOOL value 7");
    PATCH(hdr_key(&h, "chatglm.block_count")->type, 42, 4,
          "key/value 8 ('chatglm.block_count'): unknown value type 42");
    PATCH(8, 1ull << 50, 8, "tensors, impossible");
    PATCH(16, 1ull << 50, 8, "key/values, impossible");
    PATCH(4, 1, 4, "version 1");
    PATCH(0, 'G' | 'G' << 8 | 'M' << 16 | 'L' << 24, 4, "bad magic");
#undef PATCH

    /* the untouched copy still opens (the patches were undone), and one byte short fails */
    struct eng_gguf *g = open_ok_mem(&b);
    eng_gguf_close(g);
    b.n = n - 1;
    expect_bad(&b, "tensor 'output.weight' data past end of file (offset 19572992 + 19398656 > "
                   "38971647)");
}

/* ---- cuts ---------------------------------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Opens `path` after truncating it to each of the `n` lengths (taken in decreasing order);
 * every one must fail with a message fitting where the cut falls. Returns how many. */
static size_t cut_file(const char *path, size_t *cuts, size_t n, size_t infos_end,
                       size_t data_offset)
{
    qsort(cuts, n, sizeof *cuts, cmp_desc);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cuts[i] == cuts[i - 1]) continue;
        assert_int_equal(ftruncate(fd, (off_t)cuts[i]), 0);
        char *why = NULL;
        struct eng_gguf *g = eng_gguf_open(path, &why);
        if (g) fail_msg("a file cut at %zu bytes opened", cuts[i]);
        const char *want = NULL;
        if (cuts[i] == 0)
            want = "not a GGUF file (empty)";
        else if (cuts[i] < 24)
            want = "truncated header";
        else if (cuts[i] >= data_offset)
            want = "data past end of file";
        check_why(why, path, want);
        if (cuts[i] >= 24 && cuts[i] < infos_end && !strstr(why, "truncated") &&
            !strstr(why, "impossible"))
            fail_msg("cut at %zu: %s", cuts[i], why);
        if (cuts[i] >= infos_end && cuts[i] < data_offset && !strstr(why, "truncated before"))
            fail_msg("cut at %zu: %s", cuts[i], why);
        free(why);
        done++;
    }
    close(fd);
    return done;
}

static void test_cuts(void **state)
{
    (void)state;
    size_t n;
    uint8_t *full = (uint8_t *)tu_read_file(tu_shared(F16_PATH), &n);
    struct bytes slim = slim_fixture(full, n, 4);
    struct hdr h;
    walk(slim.p, &h);
    uint64_t rng = 0x9e3779b97f4a7c15u;

    /* the slim copy is itself valid, with the same tensors */
    struct eng_gguf *g = open_ok_mem(&slim);
    check_tensors_against_file(g, slim.p, slim.n);
    uint64_t count;
    assert_int_equal(eng_gguf_get_arr(g, "tokenizer.ggml.merges", NULL, &count), 0);
    assert_int_equal(count, 4);
    const char *tmpl;
    size_t tlen;
    assert_int_equal(eng_gguf_get_str(g, "tokenizer.chat_template", &tmpl, &tlen), 0);
    size_t tmpl_at = (size_t)((const uint8_t *)tmpl - slim.p);
    eng_gguf_close(g);

    /* every header offset (the chat template's text every 64 bytes), then random offsets in
     * the data section and its last bytes */
    size_t cap = 4096, nc = 0;
    size_t *cuts = malloc(cap * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t c = 0; c < h.data_offset; c++) {
        if (c > tmpl_at && c < tmpl_at + tlen && (c - tmpl_at) % 64) continue;
        assert_true(nc < cap);
        cuts[nc++] = c;
    }
    size_t n_header = nc;
    for (int i = 0; i < 300; i++)
        cuts[nc++] = h.data_offset + tu_rand(&rng) % (slim.n - h.data_offset);
    for (size_t i = 1; i <= 8; i++)
        cuts[nc++] = slim.n - i;
    assert_true(nc <= 3000);
    const char *path = tu_write_temp(1, slim.p, slim.n);
    size_t done = cut_file(path, cuts, nc, h.infos_end, h.data_offset);
    unlink(path);
    assert_true(done > n_header); /* nothing skipped by mistake */
    print_message("slim F16 fixture: %zu header cuts (of %zu header bytes), %zu cuts in all\n",
                  n_header, (size_t)h.data_offset, done);
    free(cuts);

    /* the full fixture: cuts inside its big arrays and its tensor infos */
    struct hdr hf;
    walk(full, &hf);
    size_t fc[64], nf = 0;
    const struct hdr_kv *big[3] = {hdr_key(&hf, "tokenizer.ggml.tokens"),
                                   hdr_key(&hf, "tokenizer.ggml.token_type"),
                                   hdr_key(&hf, "tokenizer.ggml.merges")};
    for (int i = 0; i < 3; i++) {
        fc[nf++] = big[i]->val + 4;
        fc[nf++] = big[i]->val + 13;
        fc[nf++] = big[i]->end - 1;
        for (int j = 0; j < 5; j++)
            fc[nf++] = big[i]->val + tu_rand(&rng) % (big[i]->end - big[i]->val);
    }
    for (int j = 0; j < 8; j++)
        fc[nf++] = hf.ti[0].at + tu_rand(&rng) % (hf.infos_end - hf.ti[0].at);
    for (int j = 0; j < 12; j++)
        fc[nf++] = hf.data_offset + tu_rand(&rng) % (n - hf.data_offset);
    path = tu_write_temp(2, full, n);
    cut_file(path, fc, nf, hf.infos_end, hf.data_offset);
    unlink(path);
    free(slim.p);
    free(full);
}

/* ---- random damage ------------------------------------------------------------------------- */

/* Reads everything a damaged-but-accepted file offers, so ASan sees any bad index. */
static void exercise(const struct eng_gguf *g, const uint8_t *buf, size_t n)
{
    for (int64_t k = 0; k < eng_gguf_kv_count(g); k++) {
        const char *key = eng_gguf_key_name(g, k);
        assert_non_null(key);
        assert_int_equal(eng_gguf_find_key(g, key), k);
        uint32_t u;
        int64_t i;
        float x;
        bool b;
        const char *s;
        size_t len;
        uint32_t et;
        uint64_t count;
        eng_gguf_get_u32(g, key, &u);
        eng_gguf_get_i64(g, key, &i);
        eng_gguf_get_f32(g, key, &x);
        eng_gguf_get_bool(g, key, &b);
        if (eng_gguf_get_str(g, key, &s, &len) == 0) {
            assert_true((const uint8_t *)s >= buf && (const uint8_t *)s + len <= buf + n);
            if (len) assert_true(s[len - 1] || !s[len - 1]);
        }
        if (eng_gguf_get_arr(g, key, &et, &count) != 0) continue;
        uint64_t step = count > 1000 ? count / 1000 : 1;
        for (uint64_t e = 0; e < count; e += step) {
            if (eng_gguf_arr_str(g, k, e, &s, &len) == 0) {
                assert_true((const uint8_t *)s >= buf && (const uint8_t *)s + len <= buf + n);
                if (len) assert_true(s[len - 1] || !s[len - 1]);
            }
            eng_gguf_arr_int(g, k, e, &i);
            eng_gguf_arr_f32(g, k, e, &x);
        }
        if (count) {
            eng_gguf_arr_int(g, k, count - 1, &i);
            eng_gguf_arr_str(g, k, count - 1, &s, &len);
        }
    }
    for (int64_t t = 0; t < eng_gguf_tensor_count(g); t++) {
        const struct eng_gguf_tensor *ti = eng_gguf_tensor_at(g, t);
        assert_ptr_equal(eng_gguf_tensor_find(g, ti->name), ti);
        const uint8_t *d = ti->data;
        assert_true(d >= buf && ti->nbytes <= n && d + ti->nbytes <= buf + n);
        assert_true(ti->n_dims >= 1 && ti->n_dims <= 4 && ti->n_elements > 0);
        volatile uint8_t sink = d[0] ^ d[ti->nbytes - 1];
        (void)sink;
    }
}

static void test_random_damage(void **state)
{
    (void)state;
    size_t n;
    uint8_t *full = (uint8_t *)tu_read_file(tu_shared(F16_PATH), &n);
    struct bytes slim = slim_fixture(full, n, 4);
    free(full);
    struct hdr h;
    walk(slim.p, &h);
    uint64_t rng = 12345;
    int opened = 0, failed = 0;
    static const uint64_t nasty[] = {0,    1,      2,           5,          13,         64,
                                     0xff, 0xffff, 0xffffffffu, 1ull << 32, 1ull << 63, UINT64_MAX};
    for (int it = 0; it < 4000; it++) {
        uint8_t save[8];
        size_t pos, len;
        if (it < 3000) { /* one byte flipped */
            len = 1;
            pos = tu_rand(&rng) % h.data_offset;
            memcpy(save, slim.p + pos, len);
            slim.p[pos] ^= (uint8_t)(1 + tu_rand(&rng) % 255);
        } else { /* a nasty little-endian word written anywhere in the header */
            len = (tu_rand(&rng) & 1) ? 8 : 4;
            pos = tu_rand(&rng) % (h.data_offset - len);
            memcpy(save, slim.p + pos, len);
            put_le(slim.p + pos, nasty[tu_rand(&rng) % 12] + (tu_rand(&rng) % 3) - 1, (int)len);
        }
        char *why = NULL;
        struct eng_gguf *g = eng_gguf_open_mem(slim.p, slim.n, "f.gguf", &why);
        if (g) {
            assert_null(why);
            exercise(g, slim.p, slim.n);
            eng_gguf_close(g);
            opened++;
        } else {
            check_why(why, "f.gguf", NULL);
            free(why);
            failed++;
        }
        memcpy(slim.p + pos, save, len);
    }
    print_message("random damage: %d opened, %d refused\n", opened, failed);
    /* flips inside text must pass and flips in lengths must fail: both must happen */
    assert_true(opened > 100);
    assert_true(failed > 500);
    struct eng_gguf *g = open_ok_mem(&slim); /* restored */
    eng_gguf_close(g);
    free(slim.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_traits),          cmocka_unit_test(test_fixture_chatglm_f16),
        cmocka_unit_test(test_fixture_chatglm_q4_0), cmocka_unit_test(test_fixture_glm4_0414),
        cmocka_unit_test(test_synthetic_values),     cmocka_unit_test(test_synthetic_bad),
        cmocka_unit_test(test_fixture_patches),      cmocka_unit_test(test_cuts),
        cmocka_unit_test(test_random_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
