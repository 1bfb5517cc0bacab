/* GGUF v2/v3 reader: map once, validate everything, index, then read-only.
 *
 * Data model: the whole file is mapped PROT_READ (or, for eng_gguf_open_mem, a caller's
 * buffer is borrowed). One forward pass over the header checks every length, count, type
 * and offset against the bytes actually present before touching them, and builds:
 *   - `kv[]`: one record per key/value in file order, holding file offsets (never copies)
 *     of the value; arrays of strings also get `str_offs[]`, the offset of each element's
 *     length prefix, so element i is O(1);
 *   - `tensors[]`: the public `struct eng_gguf_tensor`s, data pointers into the mapping;
 *   - two open-addressing hash tables (FNV-1a, linear probing) over key and tensor names,
 *     which also catch duplicates.
 * Keys and tensor names are copied NUL-terminated; everything else is read in place with
 * explicit little-endian loads (the file may put any value at any byte offset).
 *
 * Hostile headers: counts are capped by the file size (every key/value and tensor info has
 * a minimum encoded size) and by KV_MAX / TENSOR_MAX before anything is allocated, and a
 * string array is walked once to prove its elements exist before its offset index is
 * allocated — so allocation stays proportional to bytes that are really in the file.
 * Format facts: GGUF spec (ggml-org/ggml docs/gguf.md).
 */
#include "engine/eng_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_HEADER_BYTES      24    /* magic u32, version u32, n_tensors u64, n_kv u64 */
#define GGUF_DEFAULT_ALIGNMENT 32    /* GGUF spec: when general.alignment is absent */
#define GGUF_KEY_MAX           65535 /* GGUF spec: a key is at most 2^16-1 bytes */
#define GGUF_NAME_MAX          64    /* GGUF spec: a tensor name is at most 64 bytes */
#define GGUF_MAX_DIMS          4     /* GGUF spec / ggml GGML_MAX_DIMS */
#define KV_MIN_BYTES           14    /* key len 8 + key >= 1 + type 4 + value >= 1 */
#define TI_MIN_BYTES           33    /* name len 8 + name >= 1 + n_dims 4 + ne 8 + type 4 + off 8 */
#define KV_MAX                 (1u << 20) /* models carry ~40 keys; far above any real file */
#define TENSOR_MAX             (1u << 20) /* the largest MoE GGUFs hold a few thousand tensors */

/* Encoded size of each scalar value type; 0 for STRING and ARRAY. */
static const uint8_t scalar_size[ENG_GGUF_TYPE_COUNT] = {
    [ENG_GGUF_TYPE_UINT8] = 1,   [ENG_GGUF_TYPE_INT8] = 1,    [ENG_GGUF_TYPE_UINT16] = 2,
    [ENG_GGUF_TYPE_INT16] = 2,   [ENG_GGUF_TYPE_UINT32] = 4,  [ENG_GGUF_TYPE_INT32] = 4,
    [ENG_GGUF_TYPE_FLOAT32] = 4, [ENG_GGUF_TYPE_BOOL] = 1,    [ENG_GGUF_TYPE_UINT64] = 8,
    [ENG_GGUF_TYPE_INT64] = 8,   [ENG_GGUF_TYPE_FLOAT64] = 8,
};

static const char *const gguf_type_names[ENG_GGUF_TYPE_COUNT] = {
    "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",   "FLOAT32",
    "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64",
};

struct gguf_kv {
    char *key;          /* NUL-terminated copy */
    uint32_t key_len;   /* bytes, 1..GGUF_KEY_MAX */
    uint32_t type;      /* enum eng_gguf_type */
    uint32_t elem_type; /* ARRAY: element type */
    uint64_t count;     /* ARRAY: element count */
    uint64_t val;       /* file offset of the scalar, the string bytes, or the first element */
    uint64_t len;       /* STRING: byte length */
    uint64_t *str_offs; /* ARRAY of STRING: file offset of each element's u64 length prefix */
    uint64_t raw, end;  /* file span of the encoded value (after the type field) */
};

struct name_slot {
    const char *name; /* NULL: empty slot */
    uint32_t len;
    uint32_t idx;
};

/* Open addressing over names; capacity a power of two, at least twice the entry count. */
struct name_table {
    struct name_slot *slots;
    uint64_t mask;
};

struct eng_gguf {
    const uint8_t *base; /* file byte 0 */
    uint64_t size;
    int mapped; /* base came from mmap (else borrowed from the caller) */
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    struct gguf_kv *kv; /* (n_kv) */
    uint64_t n_kv;
    struct eng_gguf_tensor *tensors; /* (n_tensors) */
    uint64_t n_tensors;
    struct name_table kv_names;
    struct name_table tensor_names;
};

/* ---- little-endian loads (any alignment) ------------------------------------------------- */

static float ldf32(const uint8_t *p)
{
    uint32_t u = eng_ld32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double ldf64(const uint8_t *p)
{
    uint64_t u = eng_ld64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Reads an integer value of GGUF type `type` at p. Unsigned types go to *u with *is_signed
 * false, signed types to *s with *is_signed true. Returns false for non-integer types. */
static bool ld_int(const uint8_t *p, uint32_t type, uint64_t *u, int64_t *s, bool *is_signed)
{
    *is_signed = false;
    switch (type) {
    case ENG_GGUF_TYPE_UINT8: *u = p[0]; return true;
    case ENG_GGUF_TYPE_UINT16: *u = eng_ld16(p); return true;
    case ENG_GGUF_TYPE_UINT32: *u = eng_ld32(p); return true;
    case ENG_GGUF_TYPE_UINT64: *u = eng_ld64(p); return true;
    default: break;
    }
    *is_signed = true;
    switch (type) {
    case ENG_GGUF_TYPE_INT8: *s = (int8_t)p[0]; return true;
    case ENG_GGUF_TYPE_INT16: *s = (int16_t)eng_ld16(p); return true;
    case ENG_GGUF_TYPE_INT32: *s = (int32_t)eng_ld32(p); return true;
    case ENG_GGUF_TYPE_INT64: *s = (int64_t)eng_ld64(p); return true;
    default: return false;
    }
}

/* ---- name tables ------------------------------------------------------------------------- */

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 offset basis and prime */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3u;
    return h;
}

static int nt_init(struct name_table *t, uint64_t n)
{
    uint64_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    t->slots = calloc(cap, sizeof *t->slots);
    t->mask = cap - 1;
    return t->slots ? 0 : ENG_ERR_NOMEM;
}

/* Index of `name`, or -1. */
static int64_t nt_find(const struct name_table *t, const char *name, size_t len)
{
    if (!t->slots) return -1;
    for (uint64_t i = hash_name(name, len) & t->mask;; i = (i + 1) & t->mask) {
        const struct name_slot *s = &t->slots[i];
        if (!s->name) return -1;
        if (s->len == len && memcmp(s->name, name, len) == 0) return s->idx;
    }
}

/* Adds name -> idx. Returns -1 when added, or the index already holding that name. The
 * table never fills: its capacity is at least twice the number of entries. */
static int64_t nt_insert(struct name_table *t, const char *name, uint32_t len, uint32_t idx)
{
    for (uint64_t i = hash_name(name, len) & t->mask;; i = (i + 1) & t->mask) {
        struct name_slot *s = &t->slots[i];
        if (!s->name) {
            *s = (struct name_slot){name, len, idx};
            return -1;
        }
        if (s->len == len && memcmp(s->name, name, len) == 0) return s->idx;
    }
}

/* ---- parser ------------------------------------------------------------------------------ */

struct parser {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    char where[160]; /* "key/value 12 ('tokenizer.ggml.tokens')" for messages */
    char msg[512];   /* the first error, without the path */
    int err;
};

static bool fail(struct parser *ps, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error (the message without the path) and returns false. */
static bool fail(struct parser *ps, int err, const char *fmt, ...)
{
    if (ps->err) return false; /* keep the first, most specific message */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->msg, sizeof ps->msg, fmt, ap);
    va_end(ap);
    ps->err = err;
    return false;
}

static uint64_t left(const struct parser *ps)
{
    return ps->size - ps->pos;
}

/* Writes 'name' into dst: at most 48 bytes of it, anything outside printable ASCII as '?',
 * so an error message stays one readable line whatever the file holds. */
static void quote(char *dst, size_t cap, const uint8_t *s, uint64_t len)
{
    char tmp[64];
    size_t n = len > 48 ? 48 : (size_t)len;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    tmp[n] = 0;
    snprintf(dst, cap, "'%s%s'", tmp, len > n ? "..." : "");
}

static bool need(struct parser *ps, uint64_t n)
{
    if (n <= left(ps)) return true;
    return fail(ps, ENG_ERR_FORMAT, "truncated in %s", ps->where);
}

static bool rd_u32(struct parser *ps, uint32_t *v)
{
    if (!need(ps, 4)) return false;
    *v = eng_ld32(ps->base + ps->pos);
    ps->pos += 4;
    return true;
}

static bool rd_u64(struct parser *ps, uint64_t *v)
{
    if (!need(ps, 8)) return false;
    *v = eng_ld64(ps->base + ps->pos);
    ps->pos += 8;
    return true;
}

/* A GGUF string (u64 length, bytes): checks the bytes are in the file and steps past. */
static bool rd_str(struct parser *ps, uint64_t *off, uint64_t *len)
{
    uint64_t n;
    if (!rd_u64(ps, &n)) return false;
    if (n > left(ps))
        return fail(ps, ENG_ERR_FORMAT,
                    "truncated in %s (string of %" PRIu64 " bytes, %" PRIu64 " left)", ps->where, n,
                    left(ps));
    *off = ps->pos;
    *len = n;
    ps->pos += n;
    return true;
}

/* A key or tensor name: non-empty, at most `max` bytes, no NUL; returns a malloc'd copy. */
static bool rd_name(struct parser *ps, const char *what, uint64_t max, char **out, uint32_t *len)
{
    uint64_t off = 0, n = 0;
    if (!rd_str(ps, &off, &n)) return false;
    const uint8_t *s = ps->base + off;
    if (n == 0) return fail(ps, ENG_ERR_FORMAT, "%s: empty %s", ps->where, what);
    if (n > max)
        return fail(ps, ENG_ERR_FORMAT, "%s: %s of %" PRIu64 " bytes (at most %" PRIu64 ")",
                    ps->where, what, n, max);
    if (memchr(s, 0, (size_t)n))
        return fail(ps, ENG_ERR_FORMAT, "%s: %s contains a NUL byte", ps->where, what);
    char *copy = malloc((size_t)n + 1);
    if (!copy) return fail(ps, ENG_ERR_NOMEM, "out of memory");
    memcpy(copy, s, (size_t)n);
    copy[n] = 0;
    *out = copy;
    *len = (uint32_t)n;
    return true;
}

/* Validates `count` array elements of type `et` at the cursor and steps past them. For
 * string elements, offs (when not NULL) receives each element's offset. `depth` is 0 for
 * the elements of a top-level array; one level of nested arrays is accepted (and only
 * validated), deeper ones are rejected. */
static bool walk_elems(struct parser *ps, uint32_t et, uint64_t count, uint64_t *offs, int depth)
{
    if (et >= ENG_GGUF_TYPE_COUNT)
        return fail(ps, ENG_ERR_FORMAT, "%s: unknown array element type %" PRIu32, ps->where, et);
    if (et == ENG_GGUF_TYPE_STRING) {
        if (count > left(ps) / 8)
            return fail(ps, ENG_ERR_FORMAT,
                        "truncated in %s (array of %" PRIu64 " strings, %" PRIu64 " bytes left)",
                        ps->where, count, left(ps));
        for (uint64_t i = 0; i < count; i++) {
            uint64_t off, len;
            if (offs) offs[i] = ps->pos;
            if (!rd_str(ps, &off, &len)) return false;
        }
        return true;
    }
    if (et == ENG_GGUF_TYPE_ARRAY) {
        if (depth > 0)
            return fail(ps, ENG_ERR_FORMAT,
                        "%s: arrays nested more than one level deep are "
                        "not supported",
                        ps->where);
        if (count > left(ps) / 12) /* each inner array: u32 type + u64 count */
            return fail(ps, ENG_ERR_FORMAT,
                        "truncated in %s (array of %" PRIu64 " arrays, %" PRIu64 " bytes left)",
                        ps->where, count, left(ps));
        for (uint64_t i = 0; i < count; i++) {
            uint32_t inner_type;
            uint64_t inner_count;
            if (!rd_u32(ps, &inner_type) || !rd_u64(ps, &inner_count)) return false;
            if (!walk_elems(ps, inner_type, inner_count, NULL, depth + 1)) return false;
        }
        return true;
    }
    uint64_t esize = scalar_size[et];
    if (count > left(ps) / esize)
        return fail(ps, ENG_ERR_FORMAT,
                    "truncated in %s (array of %" PRIu64 " %s, %" PRIu64 " bytes left)", ps->where,
                    count, gguf_type_names[et], left(ps));
    if (et == ENG_GGUF_TYPE_BOOL) {
        for (uint64_t i = 0; i < count; i++)
            if (ps->base[ps->pos + i] > 1)
                return fail(ps, ENG_ERR_FORMAT,
                            "%s: element %" PRIu64 " is BOOL %u (not 0 or "
                            "1)",
                            ps->where, i, ps->base[ps->pos + i]);
    }
    ps->pos += count * esize;
    return true;
}

static bool parse_value(struct parser *ps, struct gguf_kv *kv)
{
    if (kv->type >= ENG_GGUF_TYPE_COUNT)
        return fail(ps, ENG_ERR_FORMAT, "%s: unknown value type %" PRIu32, ps->where, kv->type);
    if (kv->type == ENG_GGUF_TYPE_STRING) return rd_str(ps, &kv->val, &kv->len);
    if (kv->type != ENG_GGUF_TYPE_ARRAY) {
        if (!need(ps, scalar_size[kv->type])) return false;
        kv->val = ps->pos;
        if (kv->type == ENG_GGUF_TYPE_BOOL && ps->base[ps->pos] > 1)
            return fail(ps, ENG_ERR_FORMAT, "%s: BOOL value %u (not 0 or 1)", ps->where,
                        ps->base[ps->pos]);
        ps->pos += scalar_size[kv->type];
        return true;
    }
    if (!rd_u32(ps, &kv->elem_type) || !rd_u64(ps, &kv->count)) return false;
    kv->val = ps->pos;
    if (!walk_elems(ps, kv->elem_type, kv->count, NULL, 0)) return false;
    if (kv->elem_type == ENG_GGUF_TYPE_STRING && kv->count > 0) {
        /* The walk proved count strings (>= 8 bytes each) are in the file, so this
         * allocation is bounded by the file size and count * 8 cannot wrap. */
        kv->str_offs = malloc(kv->count * sizeof *kv->str_offs);
        if (!kv->str_offs) return fail(ps, ENG_ERR_NOMEM, "out of memory");
        uint64_t end = ps->pos;
        ps->pos = kv->val;
        walk_elems(ps, kv->elem_type, kv->count, kv->str_offs, 0);
        ps->pos = end;
    }
    return true;
}

static bool parse_kvs(struct parser *ps, struct eng_gguf *g)
{
    for (uint64_t i = 0; i < g->n_kv; i++) {
        struct gguf_kv *kv = &g->kv[i];
        snprintf(ps->where, sizeof ps->where, "key/value %" PRIu64, i);
        if (!rd_name(ps, "key", GGUF_KEY_MAX, &kv->key, &kv->key_len)) return false;
        char q[64];
        quote(q, sizeof q, (const uint8_t *)kv->key, kv->key_len);
        snprintf(ps->where, sizeof ps->where, "key/value %" PRIu64 " (%s)", i, q);
        int64_t dup = nt_insert(&g->kv_names, kv->key, kv->key_len, (uint32_t)i);
        if (dup >= 0)
            return fail(ps, ENG_ERR_FORMAT,
                        "duplicate key %s (key/values %" PRId64 " and %" PRIu64 ")", q, dup, i);
        if (!rd_u32(ps, &kv->type)) return false;
        kv->raw = ps->pos;
        if (!parse_value(ps, kv)) return false;
        kv->end = ps->pos;
    }
    return true;
}

static bool parse_alignment(struct parser *ps, struct eng_gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t k = nt_find(&g->kv_names, "general.alignment", strlen("general.alignment"));
    if (k < 0) return true;
    const struct gguf_kv *kv = &g->kv[k];
    if (kv->type != ENG_GGUF_TYPE_UINT32)
        return fail(ps, ENG_ERR_FORMAT, "general.alignment has type %s (expected UINT32)",
                    gguf_type_names[kv->type]);
    uint32_t a = eng_ld32(g->base + kv->val);
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(ps, ENG_ERR_FORMAT, "general.alignment %" PRIu32 " is not a power of two", a);
    g->alignment = a;
    return true;
}

static bool parse_tensor_info(struct parser *ps, struct eng_gguf *g, uint64_t i)
{
    struct eng_gguf_tensor *t = &g->tensors[i];
    char *name = NULL;
    uint32_t name_len;
    snprintf(ps->where, sizeof ps->where, "tensor info %" PRIu64, i);
    if (!rd_name(ps, "tensor name", GGUF_NAME_MAX, &name, &name_len)) return false;
    t->name = name;
    char q[64];
    quote(q, sizeof q, (const uint8_t *)name, name_len);
    snprintf(ps->where, sizeof ps->where, "tensor info %" PRIu64 " (%s)", i, q);
    int64_t dup = nt_insert(&g->tensor_names, name, name_len, (uint32_t)i);
    if (dup >= 0)
        return fail(ps, ENG_ERR_FORMAT,
                    "duplicate tensor name %s (tensors %" PRId64 " and %" PRIu64 ")", q, dup, i);

    if (!rd_u32(ps, &t->n_dims)) return false;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return fail(ps, ENG_ERR_FORMAT, "tensor %s has %" PRIu32 " dimensions (must be 1..%d)", q,
                    t->n_dims, GGUF_MAX_DIMS);
    int64_t n_el = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims && !rd_u64(ps, &ne)) return false;
        if (ne == 0) return fail(ps, ENG_ERR_FORMAT, "tensor %s has ne[%" PRIu32 "] = 0", q, d);
        if (ne > (uint64_t)INT64_MAX / (uint64_t)n_el)
            return fail(ps, ENG_ERR_FORMAT,
                        "tensor %s has too many elements (ne[%" PRIu32 "] = %" PRIu64 ")", q, d,
                        ne);
        t->ne[d] = (int64_t)ne;
        n_el *= (int64_t)ne;
    }
    t->n_elements = n_el;

    if (!rd_u32(ps, &t->type) || !rd_u64(ps, &t->offset)) return false;
    uint32_t bs = eng_type_block_size(t->type), bb = eng_type_block_bytes(t->type);
    if (bs == 0)
        return fail(ps, ENG_ERR_FORMAT, "tensor %s has unknown type id %" PRIu32, q, t->type);
    if (t->ne[0] % bs != 0)
        return fail(ps, ENG_ERR_FORMAT,
                    "tensor %s: row of %" PRId64 " elements is not a "
                    "multiple of the %s block size %" PRIu32,
                    q, t->ne[0], eng_type_name(t->type), bs);
    uint64_t blocks = (uint64_t)n_el / bs; /* exact: ne[0] is a multiple of bs */
    if (blocks > UINT64_MAX / bb) return fail(ps, ENG_ERR_FORMAT, "tensor %s is too large", q);
    t->nbytes = blocks * bb;
    if (t->offset % g->alignment != 0)
        return fail(ps, ENG_ERR_FORMAT,
                    "tensor %s offset %" PRIu64 " is not a multiple of the "
                    "alignment %" PRIu32,
                    q, t->offset, g->alignment);
    return true;
}

static bool parse_tensors(struct parser *ps, struct eng_gguf *g)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!parse_tensor_info(ps, g, i)) return false;

    /* The data section starts at the next multiple of the alignment. */
    uint64_t a = g->alignment, pad = (a - ps->pos % a) % a;
    if (g->n_tensors == 0) {
        g->data_offset = pad <= left(ps) ? ps->pos + pad : ps->size;
        return true;
    }
    if (pad > left(ps))
        return fail(ps, ENG_ERR_FORMAT,
                    "truncated before the tensor data section (it starts "
                    "at %" PRIu64 ", file size %" PRIu64 ")",
                    ps->pos + pad, ps->size);
    g->data_offset = ps->pos + pad;
    uint64_t avail = ps->size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct eng_gguf_tensor *t = &g->tensors[i];
        char q[64];
        quote(q, sizeof q, (const uint8_t *)t->name, strlen(t->name));
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return fail(ps, ENG_ERR_FORMAT,
                        "tensor %s data past end of file (offset %" PRIu64 " + %" PRIu64
                        " > %" PRIu64 ")",
                        q, t->offset, t->nbytes, avail);
        t->data = g->base + g->data_offset + t->offset;
    }
    return true;
}

static bool parse_header(struct parser *ps, struct eng_gguf *g)
{
    snprintf(ps->where, sizeof ps->where, "header");
    uint64_t n = ps->size < 4 ? ps->size : 4;
    if (memcmp(ps->base, "GGUF", (size_t)n) != 0)
        return fail(ps, ENG_ERR_FORMAT, "not a GGUF file (bad magic)");
    if (ps->size < GGUF_HEADER_BYTES)
        return fail(ps, ENG_ERR_FORMAT, "truncated header (%" PRIu64 " of %d bytes)", ps->size,
                    GGUF_HEADER_BYTES);
    ps->pos = 4;
    uint64_t n_tensors, n_kv;
    rd_u32(ps, &g->version);
    rd_u64(ps, &n_tensors);
    rd_u64(ps, &n_kv);
    if (g->version != 2 && g->version != 3) {
        if ((g->version & 0xffff) == 0 && g->version != 0)
            return fail(ps, ENG_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
        return fail(ps, ENG_ERR_UNSUPPORTED,
                    "GGUF version %" PRIu32 " is not supported (only "
                    "2 and 3)",
                    g->version);
    }
    /* Every key/value and tensor info needs a minimum number of bytes: a count the file
     * cannot hold is an error before anything is allocated for it. */
    uint64_t rest = left(ps);
    if (n_kv > KV_MAX || n_kv > rest / KV_MIN_BYTES)
        return fail(ps, ENG_ERR_FORMAT,
                    "header claims %" PRIu64 " key/values, impossible for a "
                    "file of %" PRIu64 " bytes",
                    n_kv, ps->size);
    rest -= n_kv * KV_MIN_BYTES;
    if (n_tensors > TENSOR_MAX || n_tensors > rest / TI_MIN_BYTES)
        return fail(ps, ENG_ERR_FORMAT,
                    "header claims %" PRIu64 " tensors, impossible for a "
                    "file of %" PRIu64 " bytes",
                    n_tensors, ps->size);
    g->n_kv = n_kv;
    g->n_tensors = n_tensors;
    g->kv = calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors || nt_init(&g->kv_names, n_kv) != 0 ||
        nt_init(&g->tensor_names, n_tensors) != 0)
        return fail(ps, ENG_ERR_NOMEM, "out of memory");
    return true;
}

/* Builds a reader over [base, base + size); on failure returns NULL with *why set (the
 * caller still owns, and unmaps, the bytes). */
static struct eng_gguf *gguf_parse(const uint8_t *base, uint64_t size, int mapped, const char *name,
                                   char **why)
{
    struct parser ps = {.base = base, .size = size};
    struct eng_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        fail(&ps, ENG_ERR_NOMEM, "out of memory");
        goto out;
    }
    g->base = base;
    g->size = size;
    g->mapped = mapped;
    if (parse_header(&ps, g) && parse_kvs(&ps, g) && parse_alignment(&ps, g)) parse_tensors(&ps, g);
out:
    if (ps.err) {
        if (why) {
            size_t n = strlen(name) + strlen(ps.msg) + 3;
            *why = malloc(n);
            if (*why) snprintf(*why, n, "%s: %s", name, ps.msg);
        }
        if (g) {
            g->mapped = 0; /* the caller unmaps */
            eng_gguf_close(g);
        }
        return NULL;
    }
    return g;
}

static struct eng_gguf *open_fail(const char *path, char **why, const char *what, int errnum)
{
    if (why) {
        char ebuf[128];
        const char *e = errnum ? strerror_r(errnum, ebuf, sizeof ebuf) : "";
        size_t n = strlen(path) + strlen(what) + strlen(e) + 8;
        *why = malloc(n);
        if (*why) snprintf(*why, n, "%s: %s%s%s", path, what, errnum ? ": " : "", e);
    }
    return NULL;
}

struct eng_gguf *eng_gguf_open(const char *path, char **why)
{
    if (why) *why = NULL;
    /* O_NONBLOCK: a FIFO must not hang the open; fstat then refuses it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return open_fail(path, why, "cannot open", errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return open_fail(path, why, "cannot stat", e);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return open_fail(path, why, "not a regular file", 0);
    }
    if (st.st_size == 0) {
        close(fd);
        return open_fail(path, why, "not a GGUF file (empty)", 0);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return open_fail(path, why, "file too large to map", 0);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file */
    if (p == MAP_FAILED) return open_fail(path, why, "cannot map", e);

    struct eng_gguf *g = gguf_parse(p, (uint64_t)st.st_size, 1, path, why);
    if (!g) munmap(p, (size_t)st.st_size);
    return g;
}

struct eng_gguf *eng_gguf_open_mem(const void *data, size_t size, const char *name, char **why)
{
    if (why) *why = NULL;
    if (!name) name = "(memory)";
    if (!data || size == 0) return open_fail(name, why, "not a GGUF file (empty)", 0);
    return gguf_parse(data, size, 0, name, why);
}

void eng_gguf_close(struct eng_gguf *g)
{
    if (!g) return;
    if (g->kv) {
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str_offs);
        }
    }
    if (g->tensors) {
        for (uint64_t i = 0; i < g->n_tensors; i++)
            free((void *)g->tensors[i].name);
    }
    free(g->kv);
    free(g->tensors);
    free(g->kv_names.slots);
    free(g->tensor_names.slots);
    if (g->mapped) munmap((void *)g->base, (size_t)g->size);
    free(g);
}

/* ---- getters ----------------------------------------------------------------------------- */

const char *eng_gguf_type_name(uint32_t type)
{
    return type < ENG_GGUF_TYPE_COUNT ? gguf_type_names[type] : NULL;
}

uint32_t eng_gguf_version(const struct eng_gguf *g)
{
    return g->version;
}

uint32_t eng_gguf_alignment(const struct eng_gguf *g)
{
    return g->alignment;
}

uint64_t eng_gguf_data_offset(const struct eng_gguf *g)
{
    return g->data_offset;
}

uint64_t eng_gguf_file_size(const struct eng_gguf *g)
{
    return g->size;
}

const void *eng_gguf_base(const struct eng_gguf *g)
{
    return g->base;
}

int64_t eng_gguf_kv_count(const struct eng_gguf *g)
{
    return (int64_t)g->n_kv;
}

int64_t eng_gguf_find_key(const struct eng_gguf *g, const char *key)
{
    return nt_find(&g->kv_names, key, strlen(key));
}

static const struct gguf_kv *kv_at(const struct eng_gguf *g, int64_t kidx)
{
    return kidx >= 0 && (uint64_t)kidx < g->n_kv ? &g->kv[kidx] : NULL;
}

const char *eng_gguf_key_name(const struct eng_gguf *g, int64_t kidx)
{
    const struct gguf_kv *kv = kv_at(g, kidx);
    return kv ? kv->key : NULL;
}

int eng_gguf_key_type(const struct eng_gguf *g, int64_t kidx)
{
    const struct gguf_kv *kv = kv_at(g, kidx);
    return kv ? (int)kv->type : ENG_ERR_RANGE;
}

int eng_gguf_kv_raw(const struct eng_gguf *g, int64_t kidx, uint32_t *type, const void **data,
                    uint64_t *len)
{
    const struct gguf_kv *kv = kv_at(g, kidx);
    if (!kv) return ENG_ERR_RANGE;
    *type = kv->type;
    *data = g->base + kv->raw;
    *len = kv->end - kv->raw;
    return ENG_OK;
}

/* The record for `key`, or NULL with *rc = ENG_ERR_RANGE. */
static const struct gguf_kv *kv_named(const struct eng_gguf *g, const char *key, int *rc)
{
    const struct gguf_kv *kv = kv_at(g, eng_gguf_find_key(g, key));
    *rc = kv ? 0 : ENG_ERR_RANGE;
    return kv;
}

int eng_gguf_get_u32(const struct eng_gguf *g, const char *key, uint32_t *out)
{
    int rc;
    const struct gguf_kv *kv = kv_named(g, key, &rc);
    if (!kv) return rc;
    uint64_t u;
    int64_t s;
    bool is_signed;
    if (!ld_int(g->base + kv->val, kv->type, &u, &s, &is_signed)) return ENG_ERR_FORMAT;
    if (is_signed) {
        if (s < 0 || s > (int64_t)UINT32_MAX) return ENG_ERR_FORMAT;
        *out = (uint32_t)s;
    } else {
        if (u > UINT32_MAX) return ENG_ERR_FORMAT;
        *out = (uint32_t)u;
    }
    return 0;
}

int eng_gguf_get_i64(const struct eng_gguf *g, const char *key, int64_t *out)
{
    int rc;
    const struct gguf_kv *kv = kv_named(g, key, &rc);
    if (!kv) return rc;
    uint64_t u;
    int64_t s;
    bool is_signed;
    if (!ld_int(g->base + kv->val, kv->type, &u, &s, &is_signed)) return ENG_ERR_FORMAT;
    if (!is_signed) {
        if (u > (uint64_t)INT64_MAX) return ENG_ERR_FORMAT;
        s = (int64_t)u;
    }
    *out = s;
    return 0;
}

int eng_gguf_get_f32(const struct eng_gguf *g, const char *key, float *out)
{
    int rc;
    const struct gguf_kv *kv = kv_named(g, key, &rc);
    if (!kv) return rc;
    if (kv->type == ENG_GGUF_TYPE_FLOAT32)
        *out = ldf32(g->base + kv->val);
    else if (kv->type == ENG_GGUF_TYPE_FLOAT64)
        *out = (float)ldf64(g->base + kv->val);
    else
        return ENG_ERR_FORMAT;
    return 0;
}

int eng_gguf_get_bool(const struct eng_gguf *g, const char *key, bool *out)
{
    int rc;
    const struct gguf_kv *kv = kv_named(g, key, &rc);
    if (!kv) return rc;
    if (kv->type != ENG_GGUF_TYPE_BOOL) return ENG_ERR_FORMAT;
    *out = g->base[kv->val] != 0;
    return 0;
}

int eng_gguf_get_str(const struct eng_gguf *g, const char *key, const char **s, size_t *len)
{
    int rc;
    const struct gguf_kv *kv = kv_named(g, key, &rc);
    if (!kv) return rc;
    if (kv->type != ENG_GGUF_TYPE_STRING) return ENG_ERR_FORMAT;
    *s = (const char *)g->base + kv->val;
    *len = (size_t)kv->len;
    return 0;
}

int eng_gguf_get_arr(const struct eng_gguf *g, const char *key, uint32_t *elem_type,
                     uint64_t *count)
{
    int rc;
    const struct gguf_kv *kv = kv_named(g, key, &rc);
    if (!kv) return rc;
    if (kv->type != ENG_GGUF_TYPE_ARRAY) return ENG_ERR_FORMAT;
    if (elem_type) *elem_type = kv->elem_type;
    if (count) *count = kv->count;
    return 0;
}

int eng_gguf_arr_str(const struct eng_gguf *g, int64_t kidx, uint64_t i, const char **s,
                     size_t *len)
{
    const struct gguf_kv *kv = kv_at(g, kidx);
    if (!kv) return ENG_ERR_RANGE;
    if (kv->type != ENG_GGUF_TYPE_ARRAY || kv->elem_type != ENG_GGUF_TYPE_STRING)
        return ENG_ERR_FORMAT;
    if (i >= kv->count) return ENG_ERR_RANGE;
    const uint8_t *p = g->base + kv->str_offs[i];
    *len = (size_t)eng_ld64(p);
    *s = (const char *)p + 8;
    return 0;
}

/* The numeric array record at kidx (any element type but STRING / ARRAY), else NULL. */
static const struct gguf_kv *num_arr(const struct eng_gguf *g, int64_t kidx)
{
    const struct gguf_kv *kv = kv_at(g, kidx);
    if (!kv || kv->type != ENG_GGUF_TYPE_ARRAY || kv->elem_type == ENG_GGUF_TYPE_STRING ||
        kv->elem_type == ENG_GGUF_TYPE_ARRAY)
        return NULL;
    return kv;
}

const void *eng_gguf_arr_data(const struct eng_gguf *g, int64_t kidx)
{
    const struct gguf_kv *kv = num_arr(g, kidx);
    return kv ? g->base + kv->val : NULL;
}

int eng_gguf_arr_int(const struct eng_gguf *g, int64_t kidx, uint64_t i, int64_t *out)
{
    if (!kv_at(g, kidx)) return ENG_ERR_RANGE;
    const struct gguf_kv *kv = num_arr(g, kidx);
    if (!kv || kv->elem_type == ENG_GGUF_TYPE_FLOAT32 || kv->elem_type == ENG_GGUF_TYPE_FLOAT64)
        return ENG_ERR_FORMAT;
    if (i >= kv->count) return ENG_ERR_RANGE;
    uint32_t et = kv->elem_type == ENG_GGUF_TYPE_BOOL ? ENG_GGUF_TYPE_UINT8 : kv->elem_type;
    uint64_t u = 0;
    int64_t s = 0;
    bool is_signed;
    ld_int(g->base + kv->val + i * scalar_size[et], et, &u, &s, &is_signed);
    if (!is_signed) {
        if (u > (uint64_t)INT64_MAX) return ENG_ERR_FORMAT;
        s = (int64_t)u;
    }
    *out = s;
    return 0;
}

int eng_gguf_arr_f32(const struct eng_gguf *g, int64_t kidx, uint64_t i, float *out)
{
    if (!kv_at(g, kidx)) return ENG_ERR_RANGE;
    const struct gguf_kv *kv = num_arr(g, kidx);
    if (!kv || (kv->elem_type != ENG_GGUF_TYPE_FLOAT32 && kv->elem_type != ENG_GGUF_TYPE_FLOAT64))
        return ENG_ERR_FORMAT;
    if (i >= kv->count) return ENG_ERR_RANGE;
    const uint8_t *p = g->base + kv->val + i * scalar_size[kv->elem_type];
    *out = kv->elem_type == ENG_GGUF_TYPE_FLOAT32 ? ldf32(p) : (float)ldf64(p);
    return 0;
}

int eng_gguf_arr_copy_i32(const struct eng_gguf *g, int64_t kidx, int32_t *dst, uint64_t n)
{
    if (!kv_at(g, kidx)) return ENG_ERR_RANGE;
    const struct gguf_kv *kv = num_arr(g, kidx);
    if (!kv || kv->elem_type == ENG_GGUF_TYPE_FLOAT32 || kv->elem_type == ENG_GGUF_TYPE_FLOAT64)
        return ENG_ERR_FORMAT;
    if (n > kv->count) return ENG_ERR_RANGE;
    for (uint64_t i = 0; i < n; i++) {
        int64_t v;
        int rc = eng_gguf_arr_int(g, kidx, i, &v);
        if (rc != 0) return rc;
        if (v < INT32_MIN || v > INT32_MAX) return ENG_ERR_FORMAT;
        dst[i] = (int32_t)v;
    }
    return 0;
}

int64_t eng_gguf_tensor_count(const struct eng_gguf *g)
{
    return (int64_t)g->n_tensors;
}

const struct eng_gguf_tensor *eng_gguf_tensor_at(const struct eng_gguf *g, int64_t i)
{
    return i >= 0 && (uint64_t)i < g->n_tensors ? &g->tensors[i] : NULL;
}

const struct eng_gguf_tensor *eng_gguf_tensor_find(const struct eng_gguf *g, const char *name)
{
    return eng_gguf_tensor_at(g, nt_find(&g->tensor_names, name, strlen(name)));
}
