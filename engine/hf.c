/* Hugging Face model directories: config.json + safetensors shards, seen under GGUF names.
 *
 * Data model: `struct eng_hf` holds the hyper-parameters read from config.json, every
 * safetensors file of the checkpoint mapped read-only (`shards[]`), and one flat table of
 * every tensor in them (`tensors[]`, HF names, ggml-layout shapes, data pointers into the
 * mappings) with an open-addressing hash over the names. Everything is validated at open;
 * afterwards the object is immutable, so any number of threads may read it.
 *
 * Files (spec/glm4-model.md §2; safetensors format: huggingface/safetensors README): a
 * safetensors file is a u64 little-endian header length N, N bytes of JSON
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"?: {str: str}}, then
 * the data; offsets are relative to the first byte after the header. Every header is checked
 * as a hostile input: N within the file and below HEADER_MAX, each tensor's dtype known (F32,
 * F16, BF16 are used; other real dtypes are refused as unsupported), its byte span equal to
 * product(shape) x dtype size without overflow, inside the data, aligned to its element size,
 * and not overlapping another tensor; names unique across all shards. A sharded checkpoint's
 * model.safetensors.index.json names the shards (plain file names in the same directory) and
 * every tensor it lists must be found in the shard it names.
 *
 * Names: eng_hf_tensor() maps a GGUF tensor name to the HF name of whichever naming the
 * checkpoint uses — THUDM's original ChatGLM names ("transformer.encoder.layers.N..."), or
 * the transformers names shared by GlmForCausalLM (-hf conversion) and Glm4ForCausalLM (0414)
 * ("model.layers.N.self_attn.q_proj..."). HF stores a matrix as [out, in] row-major, which is
 * ggml's ne {in, out}: ne is the shape reversed. No tensor data is copied or converted.
 */
#include "engine/eng_int.h"
#include "engine/eng_json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX     (1u << 20)  /* config.json: real ones are ~2 KB */
#define INDEX_MAX      (64u << 20) /* index.json: ~100 bytes per tensor; MoE giants stay < 16 MB */
#define HEADER_MAX     100000000u  /* safetensors' own MAX_HEADER_SIZE (100 MB) */
#define TENSORS_MAX    (1u << 20)  /* tensors in one checkpoint; real ones hold < 100k */
#define SHARDS_MAX     65536u      /* files named by one index */
#define HF_NAME_MAX    256         /* HF names we build are far shorter */
#define ROPE_BASE_UNIT 10000.0     /* modeling_chatglm.py: base = 10000 * rope_ratio */

struct hf_shard {
    char *file;          /* name inside the directory, for messages */
    char *path;          /* full path */
    const uint8_t *map;  /* whole file, PROT_READ */
    uint64_t size;       /* bytes of the file */
    uint64_t data_start; /* 8 + header length */
};

struct hf_tensor {
    char *name; /* HF name, NUL-terminated (no NUL inside) */
    size_t name_len;
    struct eng_tensor t;
    uint32_t shard;
    uint64_t begin, end; /* data_offsets, relative to the shard's data_start */
};

struct eng_hf {
    struct eng_hparams hp;
    struct hf_shard *shards; /* (n_shards) */
    uint32_t n_shards;
    struct hf_tensor *tensors; /* (n_tensors) */
    size_t n_tensors, cap_tensors;
    size_t *slots; /* hash over tensor names: index + 1, 0 = empty; (mask + 1) slots */
    size_t mask;
};

/* ---- messages ------------------------------------------------------------------------------ */

static void set_why(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets *why (when why is not NULL and *why is still NULL) to a new formatted line. */
static void set_why(char **why, const char *fmt, ...)
{
    if (!why || *why) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    char *s = malloc((size_t)n + 1);
    if (!s) return;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *why = s;
}

static char *join_path(const char *dir, const char *file)
{
    size_t a = strlen(dir), b = strlen(file);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, file, b + 1);
    return p;
}

/* ---- files ----------------------------------------------------------------------------------- */

/* Reads the regular file `path` (at most `cap` bytes) into a new buffer. On failure returns
 * an engine error and explains as "<path>: ...". ENG_ERR_RANGE means the file does not exist. */
static int read_small(const char *path, size_t cap, char **out, size_t *out_len, char **why)
{
    int err = 0, fd = -1;
    char *buf = NULL;
    struct stat st;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = errno == ENOENT ? ENG_ERR_RANGE : ENG_ERR_IO;
        set_why(why, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        err = ENG_ERR_IO;
        set_why(why, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = ENG_ERR_IO;
        set_why(why, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > cap) {
        err = ENG_ERR_FORMAT;
        set_why(why, "%s: file of %" PRIu64 " bytes (at most %zu)", path, (uint64_t)st.st_size,
                cap);
        goto out;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = malloc(size + 1);
    if (!buf) {
        err = ENG_ERR_NOMEM;
        set_why(why, "%s: out of memory", path);
        goto out;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            err = ENG_ERR_IO;
            set_why(why, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0) {
            err = ENG_ERR_IO;
            set_why(why, "%s: file shrank while being read", path);
            goto out;
        }
        got += (size_t)r;
    }
    buf[size] = 0;
    *out = buf;
    *out_len = size;
    buf = NULL;
out:
    if (fd >= 0 && close(fd) != 0 && !err) {
        err = ENG_ERR_IO;
        set_why(why, "%s: %s", path, strerror(errno));
        free(*out);
        *out = NULL;
    }
    free(buf);
    return err;
}

/* Reads and parses a JSON file; on failure "<path>: line:col: what". */
static int read_json(const char *path, size_t cap, struct eng_json_doc **doc, char **why)
{
    char *text = NULL, *jwhy = NULL;
    size_t len = 0;
    int err = read_small(path, cap, &text, &len, why);
    if (err) return err;
    *doc = eng_json_parse(text, len, &jwhy);
    free(text);
    if (!*doc) {
        set_why(why, "%s: %s", path, jwhy ? jwhy : "invalid JSON");
        free(jwhy);
        return ENG_ERR_FORMAT;
    }
    return 0;
}

/* ---- config.json --------------------------------------------------------------------------- */

struct cfg {
    const struct eng_json *root;
    const char *path;
    char **why;
    int err;
};

static bool cfg_fail(struct cfg *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool cfg_fail(struct cfg *c, int err, const char *fmt, ...)
{
    if (c->err) return false;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_why(c->why, "%s: %s", c->path, msg);
    c->err = err;
    return false;
}

/* The member `key`, or NULL when absent or null (both mean "use the default"); fails when
 * it is required. */
static const struct eng_json *cfg_field(struct cfg *c, const char *key, bool required)
{
    const struct eng_json *v = eng_json_get(c->root, key);
    if (v && v->type == ENG_JSON_NULL) v = NULL;
    if (!v && required) cfg_fail(c, ENG_ERR_FORMAT, "missing field '%s'", key);
    return v;
}

/* An integer field in [lo, hi]. */
static bool cfg_int(struct cfg *c, const char *key, bool required, int64_t def, int64_t lo,
                    int64_t hi, int64_t *out)
{
    if (c->err) return false;
    const struct eng_json *v = cfg_field(c, key, required);
    if (c->err) return false;
    if (!v) {
        *out = def;
        return true;
    }
    if (v->type != ENG_JSON_NUMBER || !v->is_int)
        return cfg_fail(c, ENG_ERR_FORMAT, "field '%s' is %s, expected an integer", key,
                        v->type == ENG_JSON_NUMBER ? "a fraction" : eng_json_type_name(v->type));
    if (v->integer < lo || v->integer > hi)
        return cfg_fail(c, ENG_ERR_FORMAT,
                        "field '%s' = %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")", key,
                        v->integer, lo, hi);
    *out = v->integer;
    return true;
}

/* An int32 field >= 1. */
static bool cfg_dim(struct cfg *c, const char *key, bool required, int32_t def, int32_t *out)
{
    int64_t v = def;
    if (!cfg_int(c, key, required, def, 1, INT32_MAX, &v)) return false;
    *out = (int32_t)v;
    return true;
}

/* A finite number > 0 (and, as float, still > 0 and finite). */
static bool cfg_pos(struct cfg *c, const char *key, bool required, double def, double *out)
{
    if (c->err) return false;
    const struct eng_json *v = cfg_field(c, key, required);
    if (c->err) return false;
    if (!v) {
        *out = def;
        return true;
    }
    if (v->type != ENG_JSON_NUMBER)
        return cfg_fail(c, ENG_ERR_FORMAT, "field '%s' is %s, expected a number", key,
                        eng_json_type_name(v->type));
    float f = (float)v->number;
    if (!(v->number > 0) || !isfinite(f) || !(f > 0))
        return cfg_fail(c, ENG_ERR_FORMAT, "field '%s' = %g is out of range (positive float)", key,
                        v->number);
    *out = v->number;
    return true;
}

static bool cfg_bool(struct cfg *c, const char *key, bool def, bool *out)
{
    if (c->err) return false;
    const struct eng_json *v = cfg_field(c, key, false);
    if (!v) {
        *out = def;
        return true;
    }
    if (v->type != ENG_JSON_BOOL)
        return cfg_fail(c, ENG_ERR_FORMAT, "field '%s' is %s, expected a boolean", key,
                        eng_json_type_name(v->type));
    *out = v->boolean;
    return true;
}

/* A string field; `*s` borrowed from the document. */
static bool cfg_str(struct cfg *c, const char *key, bool required, const char **s)
{
    if (c->err) return false;
    const struct eng_json *v = cfg_field(c, key, required);
    if (c->err) return false;
    *s = NULL;
    if (!v) return true;
    if (v->type != ENG_JSON_STRING)
        return cfg_fail(c, ENG_ERR_FORMAT, "field '%s' is %s, expected a string", key,
                        eng_json_type_name(v->type));
    *s = v->str;
    return true;
}

/* THUDM's original config (ChatGLMConfig, modeling_chatglm.py). */
static bool cfg_chatglm(struct cfg *c, struct eng_hparams *hp)
{
    bool mqa = false, b;
    double eps, ratio;
    hp->arch = ENG_ARCH_CHATGLM;
    cfg_dim(c, "num_layers", true, 0, &hp->n_layer);
    cfg_dim(c, "hidden_size", true, 0, &hp->d_model);
    cfg_dim(c, "num_attention_heads", true, 0, &hp->n_head);
    cfg_bool(c, "multi_query_attention", false, &mqa);
    if (mqa)
        cfg_dim(c, "multi_query_group_num", true, 0, &hp->n_head_kv);
    else
        hp->n_head_kv = hp->n_head;
    int32_t def_hd = hp->n_head > 0 ? hp->d_model / hp->n_head : 0;
    cfg_dim(c, "kv_channels", def_hd == 0, def_hd > 0 ? def_hd : 1, &hp->head_dim);
    cfg_dim(c, "ffn_hidden_size", true, 0, &hp->d_ffn);
    cfg_dim(c, "padded_vocab_size", true, 0, &hp->n_vocab);
    cfg_dim(c, "seq_length", true, 0, &hp->n_ctx_train);
    cfg_pos(c, "layernorm_epsilon", true, 0, &eps);
    cfg_pos(c, "rope_ratio", false, 1.0, &ratio); /* absent in glm-4-9b-chat: ratio 1 */
    cfg_bool(c, "add_qkv_bias", false, &b);       /* type-checked; the bias tensors decide */
    cfg_bool(c, "rmsnorm", true, &b);
    if (c->err) return false;
    if (!b) return cfg_fail(c, ENG_ERR_UNSUPPORTED, "field 'rmsnorm' is false (LayerNorm)");
    hp->norm_eps = (float)eps;
    hp->rope_base = (float)(ROPE_BASE_UNIT * ratio);
    hp->rope_dim = hp->head_dim / 2; /* GLM-4 rotates the first half of each head (§1) */
    return true;
}

/* transformers' GlmConfig (-hf conversion of glm-4-9b) and Glm4Config (0414). */
static bool cfg_glm(struct cfg *c, struct eng_hparams *hp, bool glm4)
{
    double eps, theta, ratio, factor;
    bool b;
    const char *act;
    hp->arch = glm4 ? ENG_ARCH_GLM4 : ENG_ARCH_CHATGLM;
    cfg_dim(c, "num_hidden_layers", true, 0, &hp->n_layer);
    cfg_dim(c, "hidden_size", true, 0, &hp->d_model);
    cfg_dim(c, "num_attention_heads", true, 0, &hp->n_head);
    cfg_dim(c, "num_key_value_heads", false, hp->n_head > 0 ? hp->n_head : 1, &hp->n_head_kv);
    int32_t def_hd = hp->n_head > 0 ? hp->d_model / hp->n_head : 0;
    cfg_dim(c, "head_dim", def_hd == 0, def_hd > 0 ? def_hd : 1, &hp->head_dim);
    cfg_dim(c, "intermediate_size", true, 0, &hp->d_ffn);
    cfg_dim(c, "vocab_size", true, 0, &hp->n_vocab);
    cfg_dim(c, "max_position_embeddings", true, 0, &hp->n_ctx_train);
    cfg_pos(c, "rms_norm_eps", true, 0, &eps);
    cfg_pos(c, "rope_theta", false, ROPE_BASE_UNIT, &theta); /* Glm(4)Config default */
    cfg_pos(c, "rope_ratio", false, 0, &ratio);
    cfg_pos(c, "partial_rotary_factor", false, 0.5, &factor);
    cfg_bool(c, "attention_bias", true, &b); /* type-checked; the bias tensors decide */
    cfg_str(c, "hidden_act", false, &act);
    if (c->err) return false;
    if (act && strcmp(act, "silu") != 0) {
        char q[80];
        return cfg_fail(c, ENG_ERR_UNSUPPORTED, "field 'hidden_act' is %s (only 'silu')",
                        eng_json_quote(q, sizeof q, act, strlen(act)));
    }
    /* spec §2: the -hf converter may write rope_theta 10000 by mistake; an original
     * rope_ratio, when the config still carries one, is the trustworthy value. */
    if (!glm4 && ratio > 0) theta = ROPE_BASE_UNIT * ratio;
    double rd = hp->head_dim * factor;
    if (factor > 1 || rd != floor(rd) || (int64_t)rd % 2 != 0 || rd < 2)
        return cfg_fail(c, ENG_ERR_FORMAT,
                        "field 'partial_rotary_factor' = %g gives %g rotated dims of head_dim %d "
                        "(need an even count)",
                        factor, rd, (int)hp->head_dim);
    hp->rope_dim = (int32_t)rd;
    hp->norm_eps = (float)eps;
    hp->rope_base = (float)theta;
    return true;
}

static int parse_config(const char *dir, struct eng_hparams *hp, char **why)
{
    char *path = join_path(dir, "config.json");
    struct eng_json_doc *doc = NULL;
    int err = 0;
    if (!path) {
        set_why(why, "%s: out of memory", dir);
        return ENG_ERR_NOMEM;
    }
    err = read_json(path, CONFIG_MAX, &doc, why);
    if (err) goto out;
    struct cfg c = {.root = eng_json_root(doc), .path = path, .why = why};
    if (c.root->type != ENG_JSON_OBJECT) {
        cfg_fail(&c, ENG_ERR_FORMAT, "top level is %s, expected an object",
                 eng_json_type_name(c.root->type));
        err = c.err;
        goto out;
    }
    const char *mt;
    if (cfg_str(&c, "model_type", true, &mt)) {
        if (strcmp(mt, "chatglm") == 0)
            cfg_chatglm(&c, hp);
        else if (strcmp(mt, "glm4") == 0)
            cfg_glm(&c, hp, true);
        else if (strcmp(mt, "glm") == 0)
            cfg_glm(&c, hp, false);
        else {
            char q[80];
            cfg_fail(&c, ENG_ERR_UNSUPPORTED,
                     "field 'model_type' is %s (supported: 'chatglm', 'glm', 'glm4')",
                     eng_json_quote(q, sizeof q, mt, strlen(mt)));
        }
    }
    if (!c.err) {
        if (hp->n_head_kv > hp->n_head || hp->n_head % hp->n_head_kv != 0)
            cfg_fail(&c, ENG_ERR_FORMAT, "%d attention heads cannot share %d key/value heads",
                     (int)hp->n_head, (int)hp->n_head_kv);
        else if ((int64_t)hp->n_head * hp->head_dim > INT32_MAX ||
                 2 * (int64_t)hp->d_ffn > INT32_MAX)
            cfg_fail(&c, ENG_ERR_FORMAT, "dimensions too large (%d heads x %d, ffn %d)",
                     (int)hp->n_head, (int)hp->head_dim, (int)hp->d_ffn);
        else if (hp->rope_dim < 2 || hp->rope_dim % 2 != 0 || hp->rope_dim > hp->head_dim)
            cfg_fail(&c, ENG_ERR_FORMAT, "head_dim %d gives %d rotated dims (need an even count)",
                     (int)hp->head_dim, (int)hp->rope_dim);
    }
    err = c.err;
out:
    eng_json_free(doc);
    free(path);
    return err;
}

/* ---- tensor table -------------------------------------------------------------------------- */

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 offset basis and prime */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3u;
    return h;
}

/* Index of the tensor called name (len bytes), or -1. */
static int64_t find_tensor(const struct eng_hf *hf, const char *name, size_t len)
{
    if (!hf->slots) return -1;
    for (size_t i = hash_name(name, len) & hf->mask;; i = (i + 1) & hf->mask) {
        size_t s = hf->slots[i];
        if (!s) return -1;
        const struct hf_tensor *t = &hf->tensors[s - 1];
        if (t->name_len == len && memcmp(t->name, name, len) == 0) return (int64_t)(s - 1);
    }
}

/* Keeps the hash at most half full. */
static int grow_slots(struct eng_hf *hf)
{
    if (hf->slots && 2 * (hf->n_tensors + 1) <= hf->mask + 1) return 0;
    size_t cap = hf->slots ? 2 * (hf->mask + 1) : 256;
    size_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return ENG_ERR_NOMEM;
    for (size_t k = 0; k < hf->n_tensors; k++) {
        const struct hf_tensor *t = &hf->tensors[k];
        size_t i = hash_name(t->name, t->name_len) & (cap - 1);
        while (slots[i])
            i = (i + 1) & (cap - 1);
        slots[i] = k + 1;
    }
    free(hf->slots);
    hf->slots = slots;
    hf->mask = cap - 1;
    return 0;
}

/* Appends a tensor (taking ownership of name) and indexes it. The caller has checked that
 * the name is new. */
static int add_tensor(struct eng_hf *hf, struct hf_tensor *t)
{
    if (hf->n_tensors == hf->cap_tensors) {
        size_t cap = hf->cap_tensors ? hf->cap_tensors * 2 : 64;
        struct hf_tensor *a = realloc(hf->tensors, cap * sizeof *a);
        if (!a) return ENG_ERR_NOMEM;
        hf->tensors = a;
        hf->cap_tensors = cap;
    }
    if (grow_slots(hf)) return ENG_ERR_NOMEM;
    size_t i = hash_name(t->name, t->name_len) & hf->mask;
    while (hf->slots[i])
        i = (i + 1) & hf->mask;
    hf->tensors[hf->n_tensors] = *t;
    hf->slots[i] = ++hf->n_tensors;
    return 0;
}

/* ---- safetensors --------------------------------------------------------------------------- */

struct dtype_info {
    const char *name;
    uint32_t type; /* enum eng_type, or UINT32_MAX: known to safetensors, not used here */
    uint32_t size; /* bytes per element (0: sub-byte, unsupported anyway) */
};

/* safetensors Dtype names (huggingface/safetensors, safetensors/src/tensor.rs). */
static const struct dtype_info dtypes[] = {
    {"F32", ENG_TYPE_F32, 4},   {"F16", ENG_TYPE_F16, 2},   {"BF16", ENG_TYPE_BF16, 2},
    {"F64", UINT32_MAX, 8},     {"I64", UINT32_MAX, 8},     {"U64", UINT32_MAX, 8},
    {"I32", UINT32_MAX, 4},     {"U32", UINT32_MAX, 4},     {"I16", UINT32_MAX, 2},
    {"U16", UINT32_MAX, 2},     {"I8", UINT32_MAX, 1},      {"U8", UINT32_MAX, 1},
    {"BOOL", UINT32_MAX, 1},    {"F8_E4M3", UINT32_MAX, 1}, {"F8_E5M2", UINT32_MAX, 1},
    {"F8_E8M0", UINT32_MAX, 1}, {"F6_E2M3", UINT32_MAX, 0}, {"F6_E3M2", UINT32_MAX, 0},
    {"F4", UINT32_MAX, 0},      {"C64", UINT32_MAX, 8},
};

struct span {
    uint64_t begin, end;
    size_t idx;
};

static int cmp_span(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Validates one header entry `e` (tensor `name`) of shard `si` and fills *t. On failure
 * returns an error with the message (without the path) in msg. */
static int parse_entry(const struct eng_hf *hf, uint32_t si, const struct eng_json *e,
                       const char *qname, struct hf_tensor *t, char *msg, size_t cap)
{
    const struct hf_shard *sh = &hf->shards[si];
    uint64_t data_size = sh->size - sh->data_start;
    if (e->type != ENG_JSON_OBJECT) {
        snprintf(msg, cap, "tensor %s: entry is %s, expected an object", qname,
                 eng_json_type_name(e->type));
        return ENG_ERR_FORMAT;
    }
    const struct eng_json *dt = eng_json_get(e, "dtype"), *shape = eng_json_get(e, "shape"),
                          *offs = eng_json_get(e, "data_offsets");
    const char *missing = !dt ? "dtype" : !shape ? "shape" : !offs ? "data_offsets" : NULL;
    if (missing) {
        snprintf(msg, cap, "tensor %s: missing '%s'", qname, missing);
        return ENG_ERR_FORMAT;
    }
    if (dt->type != ENG_JSON_STRING) {
        snprintf(msg, cap, "tensor %s: dtype is %s, expected a string", qname,
                 eng_json_type_name(dt->type));
        return ENG_ERR_FORMAT;
    }
    const struct dtype_info *di = NULL;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strlen(dtypes[i].name) == dt->len && memcmp(dtypes[i].name, dt->str, dt->len) == 0)
            di = &dtypes[i];
    char qd[80];
    eng_json_quote(qd, sizeof qd, dt->str, dt->len);
    if (!di) {
        snprintf(msg, cap, "tensor %s: unknown dtype %s", qname, qd);
        return ENG_ERR_FORMAT;
    }
    if (di->type == UINT32_MAX) {
        snprintf(msg, cap, "tensor %s: unsupported dtype %s (F32, F16 and BF16 are)", qname, qd);
        return ENG_ERR_UNSUPPORTED;
    }
    if (shape->type != ENG_JSON_ARRAY) {
        snprintf(msg, cap, "tensor %s: shape is %s, expected an array", qname,
                 eng_json_type_name(shape->type));
        return ENG_ERR_FORMAT;
    }
    if (shape->len > 4) {
        snprintf(msg, cap, "tensor %s: %zu dimensions (at most 4)", qname, shape->len);
        return ENG_ERR_UNSUPPORTED;
    }
    uint64_t nel = 1;
    t->t.n_dims = shape->len ? (int32_t)shape->len : 1;
    for (int j = 0; j < 4; j++)
        t->t.ne[j] = 1;
    for (size_t j = 0; j < shape->len; j++) {
        const struct eng_json *d = &shape->kids[j];
        if (d->type != ENG_JSON_NUMBER || !d->is_int || d->integer < 0) {
            snprintf(msg, cap, "tensor %s: shape[%zu] is not a non-negative integer", qname, j);
            return ENG_ERR_FORMAT;
        }
        uint64_t dim = (uint64_t)d->integer;
        if (dim && nel > (uint64_t)INT64_MAX / dim) {
            snprintf(msg, cap, "tensor %s: shape overflows", qname);
            return ENG_ERR_FORMAT;
        }
        nel *= dim;
        t->t.ne[shape->len - 1 - j] = d->integer; /* HF [out, in] row-major = ggml {in, out} */
    }
    if (offs->type != ENG_JSON_ARRAY || offs->len != 2) {
        snprintf(msg, cap, "tensor %s: data_offsets is not an array of 2 integers", qname);
        return ENG_ERR_FORMAT;
    }
    for (size_t j = 0; j < 2; j++) {
        const struct eng_json *o = &offs->kids[j];
        if (o->type != ENG_JSON_NUMBER || !o->is_int || o->integer < 0) {
            snprintf(msg, cap, "tensor %s: data_offsets[%zu] is not a non-negative integer", qname,
                     j);
            return ENG_ERR_FORMAT;
        }
    }
    uint64_t b = (uint64_t)offs->kids[0].integer, e_ = (uint64_t)offs->kids[1].integer;
    if (b > e_ || e_ > data_size) {
        snprintf(msg, cap,
                 "tensor %s: data_offsets [%" PRIu64 ", %" PRIu64 "] outside the %" PRIu64
                 " data bytes",
                 qname, b, e_, data_size);
        return ENG_ERR_FORMAT;
    }
    if (nel > UINT64_MAX / di->size || nel * di->size != e_ - b) {
        snprintf(msg, cap,
                 "tensor %s: shape holds %" PRIu64 " elements of %" PRIu32
                 " bytes but data_offsets span %" PRIu64 " bytes",
                 qname, nel, di->size, e_ - b);
        return ENG_ERR_FORMAT;
    }
    if ((sh->data_start + b) % di->size != 0) {
        snprintf(msg, cap,
                 "tensor %s: data at file offset %" PRIu64 " is not %" PRIu32 "-byte aligned",
                 qname, sh->data_start + b, di->size);
        return ENG_ERR_FORMAT;
    }
    t->t.type = di->type;
    t->t.data = sh->map + sh->data_start + b;
    t->t.nbytes = e_ - b;
    t->shard = si;
    t->begin = b;
    t->end = e_;
    return 0;
}

/* Validates the __metadata__ entry: an object of strings. */
static bool metadata_ok(const struct eng_json *m)
{
    if (m->type != ENG_JSON_OBJECT) return false;
    for (size_t i = 0; i < m->len; i++)
        if (m->kids[i].type != ENG_JSON_STRING) return false;
    return true;
}

/* Maps shard `si` (file and path already set), validates its header and adds its tensors. */
static int open_shard(struct eng_hf *hf, uint32_t si, const char *named_by, char **why)
{
    struct hf_shard *sh = &hf->shards[si];
    struct eng_json_doc *doc = NULL;
    struct span *spans = NULL;
    char *jwhy = NULL, msg[512];
    size_t first = hf->n_tensors;
    int err = 0, fd = open(sh->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        err = ENG_ERR_IO;
        set_why(why, "%s: %s%s%s%s", sh->path, strerror(errno), named_by ? " (named by " : "",
                named_by ? named_by : "", named_by ? ")" : "");
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        err = ENG_ERR_IO;
        set_why(why, "%s: %s", sh->path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = ENG_ERR_IO;
        set_why(why, "%s: not a regular file", sh->path);
        goto out;
    }
    sh->size = (uint64_t)st.st_size;
    if (sh->size < 8 || sh->size > SIZE_MAX) {
        err = ENG_ERR_FORMAT;
        set_why(why, "%s: file of %" PRIu64 " bytes is too short for a safetensors header",
                sh->path, sh->size);
        goto out;
    }
    void *map = mmap(NULL, (size_t)sh->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        err = ENG_ERR_IO;
        set_why(why, "%s: mmap: %s", sh->path, strerror(errno));
        goto out;
    }
    sh->map = map;

    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | sh->map[i];
    if (hlen > sh->size - 8) {
        err = ENG_ERR_FORMAT;
        set_why(why,
                "%s: header length %" PRIu64 " runs past the end of the file (%" PRIu64 " bytes)",
                sh->path, hlen, sh->size);
        goto out;
    }
    if (hlen > HEADER_MAX) {
        err = ENG_ERR_FORMAT;
        set_why(why, "%s: header of %" PRIu64 " bytes (at most %u)", sh->path, hlen, HEADER_MAX);
        goto out;
    }
    sh->data_start = 8 + hlen;
    /* safetensors: the header starts with '{' (then JSON; trailing spaces are padding). */
    if (hlen < 2 || sh->map[8] != '{') {
        err = ENG_ERR_FORMAT;
        set_why(why, "%s: header is not a JSON object", sh->path);
        goto out;
    }
    doc = eng_json_parse((const char *)sh->map + 8, (size_t)hlen, &jwhy);
    if (!doc) {
        err = ENG_ERR_FORMAT;
        set_why(why, "%s: header: %s", sh->path, jwhy ? jwhy : "invalid JSON");
        goto out;
    }
    const struct eng_json *root = eng_json_root(doc);
    if (root->type != ENG_JSON_OBJECT) {
        err = ENG_ERR_FORMAT;
        set_why(why, "%s: header is not a JSON object", sh->path);
        goto out;
    }
    for (size_t i = 0; i < root->len; i++) {
        const struct eng_json *e = &root->kids[i];
        char q[80];
        eng_json_quote(q, sizeof q, e->key, e->key_len);
        if (strcmp(e->key, "__metadata__") == 0) {
            if (!metadata_ok(e)) {
                err = ENG_ERR_FORMAT;
                set_why(why, "%s: __metadata__ is not an object of strings", sh->path);
                goto out;
            }
            continue;
        }
        if (e->key_len == 0 || memchr(e->key, 0, e->key_len)) {
            err = ENG_ERR_FORMAT;
            set_why(why, "%s: tensor %s: empty name or NUL in name", sh->path, q);
            goto out;
        }
        int64_t dup = find_tensor(hf, e->key, e->key_len);
        if (dup >= 0) {
            err = ENG_ERR_FORMAT;
            set_why(why, "%s: tensor %s: duplicate (also in %s)", sh->path, q,
                    hf->shards[hf->tensors[dup].shard].file);
            goto out;
        }
        if (hf->n_tensors >= TENSORS_MAX) {
            err = ENG_ERR_FORMAT;
            set_why(why, "%s: more than %u tensors", sh->path, TENSORS_MAX);
            goto out;
        }
        struct hf_tensor t = {0};
        err = parse_entry(hf, si, e, q, &t, msg, sizeof msg);
        if (err) {
            set_why(why, "%s: %s", sh->path, msg);
            goto out;
        }
        t.name = malloc(e->key_len + 1);
        if (t.name) {
            memcpy(t.name, e->key, e->key_len + 1);
            t.name_len = e->key_len;
        }
        if (!t.name || add_tensor(hf, &t) != 0) {
            free(t.name);
            err = ENG_ERR_NOMEM;
            set_why(why, "%s: out of memory", sh->path);
            goto out;
        }
    }

    /* No two tensors of this file may share bytes: a header that lies about offsets. */
    size_t n = hf->n_tensors - first;
    if (n > 1) {
        spans = malloc(n * sizeof *spans);
        if (!spans) {
            err = ENG_ERR_NOMEM;
            set_why(why, "%s: out of memory", sh->path);
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            spans[i] =
                (struct span){hf->tensors[first + i].begin, hf->tensors[first + i].end, first + i};
        qsort(spans, n, sizeof *spans, cmp_span);
        for (size_t i = 1; i < n; i++) {
            if (spans[i].begin < spans[i - 1].end) {
                char qa[80], qb[80];
                const struct hf_tensor *a = &hf->tensors[spans[i - 1].idx],
                                       *b = &hf->tensors[spans[i].idx];
                err = ENG_ERR_FORMAT;
                set_why(why, "%s: tensors %s and %s overlap in the data", sh->path,
                        eng_json_quote(qa, sizeof qa, a->name, a->name_len),
                        eng_json_quote(qb, sizeof qb, b->name, b->name_len));
                goto out;
            }
        }
    }
out:
    if (fd >= 0 && close(fd) != 0 && !err) {
        err = ENG_ERR_IO;
        set_why(why, "%s: %s", sh->path, strerror(errno));
    }
    free(spans);
    free(jwhy);
    eng_json_free(doc);
    return err;
}

/* Adds shard `file` (a plain name inside dir) unless already listed; *idx gets its index. */
static int add_shard(struct eng_hf *hf, const char *dir, const char *file, uint32_t *idx)
{
    for (uint32_t i = hf->n_shards; i-- > 0;)
        if (strcmp(hf->shards[i].file, file) == 0) {
            *idx = i;
            return 0;
        }
    if (hf->n_shards >= SHARDS_MAX) return ENG_ERR_FORMAT;
    struct hf_shard *a = realloc(hf->shards, (hf->n_shards + 1) * sizeof *a);
    if (!a) return ENG_ERR_NOMEM;
    hf->shards = a;
    struct hf_shard *sh = &hf->shards[hf->n_shards];
    memset(sh, 0, sizeof *sh);
    sh->file = strdup(file);
    sh->path = join_path(dir, file);
    *idx = hf->n_shards++; /* counted now so eng_hf_close frees the names */
    if (!sh->file || !sh->path) return ENG_ERR_NOMEM;
    return 0;
}

/* A shard name from the index must be a plain file name: no directories, no "..". */
static bool plain_file_name(const struct eng_json *v)
{
    return v->type == ENG_JSON_STRING && v->len > 0 && v->len < 4096 &&
           !memchr(v->str, '/', v->len) && !memchr(v->str, 0, v->len) && strcmp(v->str, ".") != 0 &&
           strcmp(v->str, "..") != 0;
}

/* Opens the shards listed by model.safetensors.index.json and checks its weight_map. */
static int open_index(struct eng_hf *hf, const char *dir, const char *path, char **why)
{
    struct eng_json_doc *doc = NULL;
    uint32_t *where = NULL;
    int err = read_json(path, INDEX_MAX, &doc, why);
    if (err) goto out;
    const struct eng_json *wm = eng_json_get(eng_json_root(doc), "weight_map");
    if (!wm || wm->type != ENG_JSON_OBJECT || wm->len == 0) {
        err = ENG_ERR_FORMAT;
        set_why(why, "%s: %s", path,
                !wm ? "missing field 'weight_map'"
                    : "field 'weight_map' is not a non-empty object");
        goto out;
    }
    where = malloc(wm->len * sizeof *where);
    if (!where) {
        err = ENG_ERR_NOMEM;
        set_why(why, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < wm->len; i++) {
        const struct eng_json *v = &wm->kids[i];
        char q[80];
        if (!plain_file_name(v)) {
            err = ENG_ERR_FORMAT;
            set_why(why, "%s: weight_map: tensor %s: shard is not a plain file name", path,
                    eng_json_quote(q, sizeof q, v->key, v->key_len));
            goto out;
        }
        err = add_shard(hf, dir, v->str, &where[i]);
        if (err) {
            set_why(why, "%s: %s", path,
                    err == ENG_ERR_NOMEM ? "out of memory" : "too many shard files");
            goto out;
        }
    }
    for (uint32_t s = 0; s < hf->n_shards; s++) {
        err = open_shard(hf, s, "model.safetensors.index.json", why);
        if (err) goto out;
    }
    for (size_t i = 0; i < wm->len; i++) {
        const struct eng_json *v = &wm->kids[i];
        int64_t k = find_tensor(hf, v->key, v->key_len);
        if (k < 0 || hf->tensors[k].shard != where[i]) {
            char q[80];
            err = ENG_ERR_FORMAT;
            set_why(why, "%s: weight_map: tensor %s is not in %s", path,
                    eng_json_quote(q, sizeof q, v->key, v->key_len), hf->shards[where[i]].file);
            goto out;
        }
    }
out:
    free(where);
    eng_json_free(doc);
    return err;
}

/* ---- public API ---------------------------------------------------------------------------- */

struct eng_hf *eng_hf_open(const char *dir, char **why)
{
    struct eng_hf *hf = NULL;
    char *single = NULL, *index = NULL;
    struct stat st;
    int err = 0;
    if (why) *why = NULL;
    if (!dir) {
        set_why(why, "(null): no directory");
        return NULL;
    }
    hf = calloc(1, sizeof *hf);
    single = join_path(dir, "model.safetensors");
    index = join_path(dir, "model.safetensors.index.json");
    if (!hf || !single || !index) {
        err = ENG_ERR_NOMEM;
        set_why(why, "%s: out of memory", dir);
        goto out;
    }
    err = parse_config(dir, &hf->hp, why);
    if (err) goto out;
    /* transformers loads model.safetensors when present, else the sharded index. */
    if (stat(single, &st) == 0) {
        uint32_t idx;
        err = add_shard(hf, dir, "model.safetensors", &idx);
        if (err) {
            set_why(why, "%s: out of memory", dir);
            goto out;
        }
        err = open_shard(hf, idx, NULL, why);
    } else if (errno != ENOENT) {
        err = ENG_ERR_IO;
        set_why(why, "%s: %s", single, strerror(errno));
    } else if (stat(index, &st) == 0) {
        err = open_index(hf, dir, index, why);
    } else if (errno != ENOENT) {
        err = ENG_ERR_IO;
        set_why(why, "%s: %s", index, strerror(errno));
    } else {
        err = ENG_ERR_IO;
        set_why(why, "%s: no model.safetensors or model.safetensors.index.json", dir);
    }
out:
    free(single);
    free(index);
    if (err) {
        set_why(why, "%s: %s", dir, eng_err_str(err)); /* only if nothing better was said */
        eng_hf_close(hf);
        return NULL;
    }
    return hf;
}

void eng_hf_close(struct eng_hf *hf)
{
    if (!hf) return;
    for (uint32_t i = 0; i < hf->n_shards; i++) {
        struct hf_shard *sh = &hf->shards[i];
        /* munmap of a mapping we made cannot fail in a way the caller could act on. */
        if (sh->map) (void)munmap((void *)sh->map, (size_t)sh->size);
        free(sh->file);
        free(sh->path);
    }
    for (size_t i = 0; i < hf->n_tensors; i++)
        free(hf->tensors[i].name);
    free(hf->shards);
    free(hf->tensors);
    free(hf->slots);
    free(hf);
}

const struct eng_hparams *eng_hf_hparams(const struct eng_hf *hf)
{
    return hf ? &hf->hp : NULL;
}

uint32_t eng_hf_shard_map(const struct eng_hf *hf, uint32_t i, const void **map, uint64_t *size,
                          const char **path)
{
    if (i < hf->n_shards) {
        *map = hf->shards[i].map;
        *size = hf->shards[i].size;
        *path = hf->shards[i].path;
    }
    return hf->n_shards;
}

/* GGUF per-layer base name -> HF names: THUDM original (after "transformer.encoder.layers.N.")
 * and transformers Glm/Glm4 (after "model.layers.N."); NULL where a naming has no such tensor.
 * spec/glm4-model.md §2-§3, checked against the fixture headers. */
static const struct {
    const char *gguf, *orig, *hf;
} layer_names[] = {
    {"attn_norm", "input_layernorm", "input_layernorm"},
    {"attn_qkv", "self_attention.query_key_value", NULL},
    {"attn_q", NULL, "self_attn.q_proj"},
    {"attn_k", NULL, "self_attn.k_proj"},
    {"attn_v", NULL, "self_attn.v_proj"},
    {"attn_output", "self_attention.dense", "self_attn.o_proj"},
    {"post_attention_norm", NULL, "post_self_attn_layernorm"}, /* glm4 only */
    {"ffn_norm", "post_attention_layernorm", "post_attention_layernorm"},
    {"ffn_up", "mlp.dense_h_to_4h", "mlp.gate_up_proj"}, /* rows: gate | up */
    {"ffn_down", "mlp.dense_4h_to_h", "mlp.down_proj"},
    {"post_ffw_norm", NULL, "post_mlp_layernorm"}, /* glm4 only */
};

static const struct {
    const char *gguf, *orig, *hf;
} global_names[] = {
    {"token_embd", "transformer.embedding.word_embeddings", "model.embed_tokens"},
    {"output_norm", "transformer.encoder.final_layernorm", "model.norm"},
    {"output", "transformer.output_layer", "lm_head"},
};

/* Fills *t from the tensor named `hf_name` (printf-built); false when absent. */
static bool lookup(const struct eng_hf *hf, struct eng_tensor *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool lookup(const struct eng_hf *hf, struct eng_tensor *t, const char *fmt, ...)
{
    char name[HF_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof name) return false;
    int64_t k = find_tensor(hf, name, (size_t)n);
    if (k < 0) return false;
    *t = hf->tensors[k].t;
    return true;
}

int eng_hf_tensor(const struct eng_hf *hf, const char *name, struct eng_tensor *t)
{
    if (!hf || !name || !t) return ENG_ERR_RANGE;
    const char *dot = strrchr(name, '.');
    if (!dot || (strcmp(dot, ".weight") != 0 && strcmp(dot, ".bias") != 0)) return ENG_ERR_RANGE;
    const char *suffix = dot + 1;
    size_t base_len = (size_t)(dot - name);

    if (strncmp(name, "blk.", 4) == 0) {
        /* blk.<N>.<base>.<suffix>, N decimal without leading zeros */
        const char *p = name + 4;
        uint32_t layer = 0;
        size_t digits = 0;
        while (p[digits] >= '0' && p[digits] <= '9' && digits < 7)
            layer = layer * 10 + (uint32_t)(p[digits++] - '0');
        if (digits == 0 || p[digits] != '.' || (digits > 1 && p[0] == '0')) return ENG_ERR_RANGE;
        const char *base = p + digits + 1;
        size_t blen = (size_t)(dot - base);
        if (dot <= base) return ENG_ERR_RANGE;
        for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++) {
            if (strlen(layer_names[i].gguf) != blen || memcmp(layer_names[i].gguf, base, blen))
                continue;
            if (layer_names[i].orig && lookup(hf, t, "transformer.encoder.layers.%" PRIu32 ".%s.%s",
                                              layer, layer_names[i].orig, suffix))
                return 0;
            if (layer_names[i].hf &&
                lookup(hf, t, "model.layers.%" PRIu32 ".%s.%s", layer, layer_names[i].hf, suffix))
                return 0;
            return ENG_ERR_RANGE;
        }
        return ENG_ERR_RANGE;
    }
    for (size_t i = 0; i < sizeof global_names / sizeof global_names[0]; i++) {
        if (strlen(global_names[i].gguf) != base_len ||
            memcmp(global_names[i].gguf, name, base_len) != 0)
            continue;
        if (lookup(hf, t, "%s.%s", global_names[i].orig, suffix)) return 0;
        if (lookup(hf, t, "%s.%s", global_names[i].hf, suffix)) return 0;
        /* No output projection: the embedding is tied to it (spec §3). */
        if (strcmp(global_names[i].gguf, "output") == 0 && strcmp(suffix, "weight") == 0)
            return eng_hf_tensor(hf, "token_embd.weight", t);
        return ENG_ERR_RANGE;
    }
    return ENG_ERR_RANGE;
}
