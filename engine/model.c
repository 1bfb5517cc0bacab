/* Model loading: hyper-parameters and weight binding for GLM-4 (arch chatglm and glm4).
 *
 * A model comes from a GGUF file (eng_gguf) or a Hugging Face directory (eng_hf); both are
 * seen through GGUF tensor names, so the binding below is written once. Hyper-parameters come
 * from `<arch>.*` GGUF keys (spec/glm4-model.md §2-3) or from hf.c's reading of config.json,
 * then every weight is looked up by name and its shape checked against them before anything
 * runs: a model that loads has every tensor the forward pass touches, with the right shape and
 * a type the kernels support. Matrices stay in the source's read-only mapping; norm weights
 * and biases are converted once to f32 into `m->f32`. After eng_model_load the model is
 * immutable (model_int.h) and may be shared by sessions on any threads.
 *
 * Every failure is one line "<file>: <what is wrong>", naming the key or tensor at fault.
 */
#include "engine/model_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* Sanity caps on hyper-parameters read from a file: far above any GLM-4 (9B: 40 layers,
 * d_model 4096, d_ffn 13696; 32B: 61 layers, d_model 6144, d_ffn 23040) but low enough that
 * every size product below fits comfortably in int64_t and size_t. */
#define HP_MAX_LAYER 4096
#define HP_MAX_DIM   (1 << 20) /* d_model, d_ffn, q_dim, kv_dim, head_dim */
#define HP_MAX_HEAD  (1 << 14)
#define HP_MAX_CTX   (1 << 24)

/* ---- hyper-parameters from GGUF keys ----------------------------------------------------- */

/* Reads `<arch>.<suffix>` as u32 into *out. A missing key is an error only when `required`
 * (then *out keeps its default). Returns 0 or a negative enum eng_err with *why set. */
static int key_u32(const struct eng_gguf *g, const char *path, const char *arch, const char *suffix,
                   bool required, int32_t *out, char **why)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v;
    int rc = eng_gguf_get_u32(g, key, &v);
    if (rc == ENG_ERR_RANGE && !required) return 0;
    if (rc == ENG_ERR_RANGE) return eng_fail(why, rc, "%s: missing key '%s'", path, key);
    if (rc != 0 || v > INT32_MAX)
        return eng_fail(why, ENG_ERR_FORMAT, "%s: key '%s' is not a 32-bit unsigned integer", path,
                        key);
    *out = (int32_t)v;
    return 0;
}

static int key_f32(const struct eng_gguf *g, const char *path, const char *arch, const char *suffix,
                   bool required, float *out, char **why)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = eng_gguf_get_f32(g, key, out);
    if (rc == ENG_ERR_RANGE && !required) return 0;
    if (rc == ENG_ERR_RANGE) return eng_fail(why, rc, "%s: missing key '%s'", path, key);
    if (rc != 0) return eng_fail(why, ENG_ERR_FORMAT, "%s: key '%s' is not a float", path, key);
    return 0;
}

static int hparams_from_gguf(const struct eng_gguf *g, const char *path, struct eng_hparams *hp,
                             char **why)
{
    const char *s;
    size_t len;
    if (eng_gguf_get_str(g, "general.architecture", &s, &len) != 0)
        return eng_fail(why, ENG_ERR_FORMAT, "%s: missing key 'general.architecture'", path);
    char arch[32];
    if (len == 7 && memcmp(s, "chatglm", 7) == 0) {
        hp->arch = ENG_ARCH_CHATGLM;
    } else if (len == 4 && memcmp(s, "glm4", 4) == 0) {
        hp->arch = ENG_ARCH_GLM4;
    } else {
        return eng_fail(why, ENG_ERR_UNSUPPORTED,
                        "%s: unsupported architecture '%.*s' (expected chatglm or glm4)", path,
                        (int)(len > 64 ? 64 : len), s);
    }
    snprintf(arch, sizeof arch, "%.*s", (int)len, s);

    int rc;
    hp->head_dim = 0;
    hp->rope_dim = 0;
    hp->rope_base = 10000.0f; /* llama.cpp's default when rope.freq_base is absent */
    if ((rc = key_u32(g, path, arch, "block_count", true, &hp->n_layer, why)) ||
        (rc = key_u32(g, path, arch, "embedding_length", true, &hp->d_model, why)) ||
        (rc = key_u32(g, path, arch, "feed_forward_length", true, &hp->d_ffn, why)) ||
        (rc = key_u32(g, path, arch, "attention.head_count", true, &hp->n_head, why)) ||
        (rc = key_u32(g, path, arch, "attention.head_count_kv", true, &hp->n_head_kv, why)) ||
        (rc = key_u32(g, path, arch, "context_length", true, &hp->n_ctx_train, why)) ||
        (rc = key_u32(g, path, arch, "attention.key_length", false, &hp->head_dim, why)) ||
        (rc = key_u32(g, path, arch, "rope.dimension_count", false, &hp->rope_dim, why)) ||
        (rc = key_f32(g, path, arch, "attention.layer_norm_rms_epsilon", true, &hp->norm_eps,
                      why)) ||
        (rc = key_f32(g, path, arch, "rope.freq_base", false, &hp->rope_base, why)))
        return rc;
    if (hp->head_dim == 0 && hp->n_head > 0) hp->head_dim = hp->d_model / hp->n_head;
    /* GLM-4 rotates half of each head (spec §1, §3). Defaulting to the full head_dim, as
     * generic loaders do, would rotate too much. */
    if (hp->rope_dim == 0) hp->rope_dim = hp->head_dim / 2;
    int32_t value_len = hp->head_dim;
    if ((rc = key_u32(g, path, arch, "attention.value_length", false, &value_len, why))) return rc;
    if (value_len != hp->head_dim)
        return eng_fail(why, ENG_ERR_UNSUPPORTED,
                        "%s: attention.value_length %" PRId32 " differs from key_length %" PRId32
                        " (not supported)",
                        path, value_len, hp->head_dim);
    return 0;
}

/* Checks hyper-parameters from either source; n_vocab is checked later (token_embd). */
static int hparams_check(const struct eng_hparams *hp, const char *path, char **why)
{
    const char *bad = NULL;
    if (hp->n_layer < 1 || hp->n_layer > HP_MAX_LAYER)
        bad = "block_count";
    else if (hp->d_model < 1 || hp->d_model > HP_MAX_DIM)
        bad = "embedding_length";
    else if (hp->d_ffn < 1 || hp->d_ffn > HP_MAX_DIM)
        bad = "feed_forward_length";
    else if (hp->n_head < 1 || hp->n_head > HP_MAX_HEAD)
        bad = "attention.head_count";
    else if (hp->n_head_kv < 1 || hp->n_head_kv > hp->n_head || hp->n_head % hp->n_head_kv)
        bad = "attention.head_count_kv";
    else if (hp->head_dim < 2 || hp->head_dim > HP_MAX_DIM ||
             (int64_t)hp->head_dim * hp->n_head > HP_MAX_DIM)
        bad = "attention.key_length (head_dim)";
    else if (hp->rope_dim < 2 || hp->rope_dim % 2 || hp->rope_dim > hp->head_dim)
        bad = "rope.dimension_count";
    else if (!(hp->rope_base > 0.0f) || !isfinite(hp->rope_base))
        bad = "rope.freq_base";
    else if (!(hp->norm_eps >= 0.0f) || !isfinite(hp->norm_eps))
        bad = "attention.layer_norm_rms_epsilon";
    else if (hp->n_ctx_train < 1 || hp->n_ctx_train > HP_MAX_CTX)
        bad = "context_length";
    if (!bad) return 0;
    return eng_fail(why, ENG_ERR_FORMAT, "%s: hyper-parameter %s is out of range", path, bad);
}

/* ---- weight binding ---------------------------------------------------------------------- */

struct loader {
    struct eng_model *m;
    const char *path;
    char **why;
    float *f32_next; /* next free float of m->f32 */
    float *f32_end;
};

/* Looks `name` up in whichever source is open. Returns 0 or ENG_ERR_RANGE (absent). */
static int source_find(const struct eng_model *m, const char *name, struct eng_tensor *t)
{
    if (m->hf) return eng_hf_tensor(m->hf, name, t);
    const struct eng_gguf_tensor *gt = eng_gguf_tensor_find(m->gguf, name);
    if (!gt) return ENG_ERR_RANGE;
    t->type = gt->type;
    t->n_dims = (int32_t)gt->n_dims;
    memcpy(t->ne, gt->ne, sizeof t->ne);
    t->data = gt->data;
    t->nbytes = gt->nbytes;
    return 0;
}

/* "64x300" for the first n_dims extents of ne (at least one). */
static void shape_str(char *buf, size_t cap, const int64_t *ne, int n_dims)
{
    size_t at = 0;
    if (n_dims < 1) n_dims = 1;
    for (int i = 0; i < n_dims && i < 4 && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%" PRId64, i ? "x" : "", ne[i]);
}

/* Binds tensor `name`, which must have shape (ne0) when ne1 == 0 or (ne0, ne1) otherwise; a
 * negative ne1 accepts any row count >= 1 (token_embd, whose rows define n_vocab). Returns
 * 0, 1 when the tensor is absent and not `required`, or a negative enum eng_err with the
 * loader's *why set. */
static int bind(struct loader *ld, const char *name, int64_t ne0, int64_t ne1, bool required,
                struct eng_tensor *t)
{
    int rc = source_find(ld->m, name, t);
    if (rc == ENG_ERR_RANGE) {
        if (!required) return 1;
        return eng_fail(ld->why, ENG_ERR_RANGE, "%s: missing tensor '%s'", ld->path, name);
    }
    if (rc != 0)
        return eng_fail(ld->why, rc, "%s: tensor '%s': %s", ld->path, name, eng_err_str(rc));
    int64_t ne[4];
    for (int i = 0; i < 4; i++)
        ne[i] = (i < t->n_dims) ? t->ne[i] : 1;
    bool ok = t->n_dims >= 1 && t->n_dims <= 4 && ne[0] == ne0 && ne[2] == 1 && ne[3] == 1;
    if (ne1 == 0)
        ok = ok && ne[1] == 1;
    else if (ne1 > 0)
        ok = ok && ne[1] == ne1;
    else
        ok = ok && ne[1] >= 1 && ne[1] <= INT32_MAX;
    if (!ok) {
        char have[96], want[64];
        shape_str(have, sizeof have, t->ne, t->n_dims);
        if (ne1 > 0)
            snprintf(want, sizeof want, "%" PRId64 "x%" PRId64, ne0, ne1);
        else if (ne1 < 0)
            snprintf(want, sizeof want, "%" PRId64 "xN", ne0);
        else
            snprintf(want, sizeof want, "%" PRId64, ne0);
        return eng_fail(ld->why, ENG_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s",
                        ld->path, name, have, want);
    }
    if (!eng_type_supported(t->type)) {
        const char *tn = eng_type_name(t->type);
        return eng_fail(ld->why, ENG_ERR_UNSUPPORTED,
                        "%s: tensor '%s' has type %s, which the engine does not support", ld->path,
                        name, tn ? tn : "(unknown)");
    }
    uint32_t bs = eng_type_block_size(t->type);
    if (bs == 0 || ne[0] % bs != 0 || !t->data ||
        t->nbytes < (uint64_t)ne[1] * (uint64_t)eng_tensor_row_bytes(t))
        return eng_fail(ld->why, ENG_ERR_FORMAT,
                        "%s: tensor '%s' has inconsistent size or block layout", ld->path, name);
    /* Normalise to two dimensions: forward.c reads ne[0] and ne[1] only. */
    t->n_dims = 2;
    t->ne[1] = ne[1];
    t->ne[2] = t->ne[3] = 1;
    return 0;
}

/* Binds the vector `name` of n elements and converts it to f32 in the loader's block; *out
 * stays NULL when it is absent and not `required`. Returns as bind(). */
static int bind_vec(struct loader *ld, const char *name, int64_t n, bool required, float **out)
{
    struct eng_tensor t;
    *out = NULL;
    int rc = bind(ld, name, n, 0, required, &t);
    if (rc != 0) return rc;
    if (ld->f32_end - ld->f32_next < n) { /* the block is sized for every vector: a bug */
        return eng_fail(ld->why, ENG_ERR_NOMEM,
                        "%s: internal error: vector space exhausted at '%s'", ld->path, name);
    }
    rc = eng_dequant_row_ref(t.type, t.data, ld->f32_next, n);
    if (rc != 0)
        return eng_fail(ld->why, rc, "%s: tensor '%s': cannot convert %s to f32", ld->path, name,
                        eng_type_name(t.type));
    *out = ld->f32_next;
    ld->f32_next += n;
    return 0;
}

static int bind_layer(struct loader *ld, int32_t il, struct eng_layer *L)
{
    const struct eng_hparams *hp = &ld->m->hp;
    const int64_t d = hp->d_model, q_dim = ld->m->q_dim, kv_dim = ld->m->kv_dim;
    char name[96];
    int rc;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%" PRId32 ".%s", il, suffix), name)

    if ((rc = bind_vec(ld, NAME("attn_norm.weight"), d, true, &L->attn_norm))) return rc;

    rc = bind(ld, NAME("attn_qkv.weight"), d, q_dim + 2 * kv_dim, false, &L->wqkv);
    if (rc < 0) return rc;
    L->fused_qkv = (rc == 0);
    if (L->fused_qkv) {
        float *b;
        if ((rc = bind_vec(ld, NAME("attn_qkv.bias"), q_dim + 2 * kv_dim, false, &b)) < 0)
            return rc;
        if (b) {
            L->bq = b;
            L->bk = b + q_dim;
            L->bv = b + q_dim + kv_dim;
        }
    } else {
        if ((rc = bind(ld, NAME("attn_q.weight"), d, q_dim, false, &L->wq)) < 0) return rc;
        if (rc == 1)
            return eng_fail(ld->why, ENG_ERR_RANGE,
                            "%s: missing tensor 'blk.%" PRId32 ".attn_qkv.weight' (nor split "
                            "'blk.%" PRId32 ".attn_q.weight')",
                            ld->path, il, il);
        if ((rc = bind(ld, NAME("attn_k.weight"), d, kv_dim, true, &L->wk)) ||
            (rc = bind(ld, NAME("attn_v.weight"), d, kv_dim, true, &L->wv)))
            return rc;
        if ((rc = bind_vec(ld, NAME("attn_q.bias"), q_dim, false, &L->bq)) < 0 ||
            (rc = bind_vec(ld, NAME("attn_k.bias"), kv_dim, false, &L->bk)) < 0 ||
            (rc = bind_vec(ld, NAME("attn_v.bias"), kv_dim, false, &L->bv)) < 0)
            return rc;
    }
    if ((rc = bind(ld, NAME("attn_output.weight"), q_dim, d, true, &L->wo)) ||
        (rc = bind_vec(ld, NAME("ffn_norm.weight"), d, true, &L->ffn_norm)) ||
        (rc = bind(ld, NAME("ffn_up.weight"), d, 2 * (int64_t)hp->d_ffn, true, &L->w_up)) ||
        (rc = bind(ld, NAME("ffn_down.weight"), hp->d_ffn, d, true, &L->w_down)))
        return rc;
    if (hp->arch == ENG_ARCH_GLM4) {
        /* The 0414 sandwich: each branch's output is normed before the residual add. */
        if ((rc = bind_vec(ld, NAME("post_attention_norm.weight"), d, true, &L->post_attn_norm)) ||
            (rc = bind_vec(ld, NAME("post_ffw_norm.weight"), d, true, &L->post_ffw_norm)))
            return rc;
    }
#undef NAME
    return 0;
}

static int bind_all(struct loader *ld)
{
    struct eng_model *m = ld->m;
    struct eng_hparams *hp = &m->hp;
    int rc = bind(ld, "token_embd.weight", hp->d_model, -1, true, &m->tok_embd);
    if (rc) return rc;
    hp->n_vocab = (int32_t)m->tok_embd.ne[1];

    /* One f32 block for every norm weight and bias: per layer at most four norms and the
     * q|k|v biases, plus output_norm. */
    size_t per_layer = 4 * (size_t)hp->d_model + (size_t)m->q_dim + 2 * (size_t)m->kv_dim;
    size_t n_f32 = (size_t)hp->n_layer * per_layer + (size_t)hp->d_model;
    m->f32 = malloc(n_f32 * sizeof *m->f32);
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->f32 || !m->layers)
        return eng_fail(ld->why, ENG_ERR_NOMEM, "%s: out of memory", ld->path);
    ld->f32_next = m->f32;
    ld->f32_end = m->f32 + n_f32;

    for (int32_t il = 0; il < hp->n_layer; il++)
        if ((rc = bind_layer(ld, il, &m->layers[il]))) return rc;
    if ((rc = bind_vec(ld, "output_norm.weight", hp->d_model, true, &m->output_norm))) return rc;
    rc = bind(ld, "output.weight", hp->d_model, hp->n_vocab, false, &m->output);
    if (rc < 0) return rc;
    if (rc == 1) m->output = m->tok_embd; /* tied embeddings */
    return 0;
}

/* ---- public ------------------------------------------------------------------------------ */

struct eng_model *eng_model_load(const char *path, char **why)
{
    if (why) *why = NULL;
    struct eng_model *m = NULL;
    struct stat st;
    if (!path || stat(path, &st) != 0) {
        eng_fail(why, 0, "%s: cannot open: %s", path ? path : "(null)", strerror(errno));
        return NULL;
    }
    m = calloc(1, sizeof *m);
    if (m) m->path = strdup(path);
    if (!m || !m->path) {
        free(m);
        eng_fail(why, 0, "%s: out of memory", path);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        m->hf = eng_hf_open(path, why);
        if (!m->hf) goto fail;
        m->hp = *eng_hf_hparams(m->hf);
    } else {
        m->gguf = eng_gguf_open(path, why);
        if (!m->gguf) goto fail;
        if (hparams_from_gguf(m->gguf, path, &m->hp, why)) goto fail;
    }
    if (hparams_check(&m->hp, path, why)) goto fail;
    m->q_dim = m->hp.n_head * m->hp.head_dim;
    m->kv_dim = m->hp.n_head_kv * m->hp.head_dim;

    struct loader ld = {.m = m, .path = path, .why = why};
    if (bind_all(&ld)) goto fail;
    return m;
fail:
    eng_model_free(m);
    return NULL;
}

void eng_model_free(struct eng_model *m)
{
    if (!m) return;
    free(m->layers);
    free(m->f32);
    if (m->hf) eng_hf_close(m->hf);
    eng_gguf_close(m->gguf);
    free(m->path);
    free(m);
}

int32_t eng_model_n_vocab(const struct eng_model *m)
{
    return m->hp.n_vocab;
}

int32_t eng_model_n_ctx_train(const struct eng_model *m)
{
    return m->hp.n_ctx_train;
}

const char *eng_model_arch(const struct eng_model *m)
{
    return m->hp.arch == ENG_ARCH_GLM4 ? "glm4" : "chatglm";
}

/* ---- prefaulting ---------------------------------------------------------------------------- */

/* Every weight the forward pass reads in full, once each (the embedding is read by row, so it
 * is left to the page cache unless the output shares it). */
static size_t model_tensors(const struct eng_model *m, const struct eng_tensor **out, size_t cap)
{
    size_t n = 0;
#define ADD(t)                                                                                     \
    do {                                                                                           \
        if ((t)->data && n < cap) out[n++] = (t);                                                  \
    } while (0)
    for (int32_t l = 0; l < m->hp.n_layer; l++) {
        const struct eng_layer *L = &m->layers[l];
        if (L->fused_qkv) {
            ADD(&L->wqkv);
        } else {
            ADD(&L->wq);
            ADD(&L->wk);
            ADD(&L->wv);
        }
        ADD(&L->wo);
        ADD(&L->w_up);
        ADD(&L->w_down);
    }
    ADD(&m->output);
#undef ADD
    return n;
}

uint64_t eng_model_weight_bytes(const struct eng_model *m)
{
    const struct eng_tensor *t[4096];
    size_t n = model_tensors(m, t, 4096);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += t[i]->nbytes;
    return bytes;
}

int eng_model_prefault(const struct eng_model *m, eng_progress_cb progress, void *user)
{
    const struct eng_tensor *t[4096];
    size_t n = model_tensors(m, t, 4096);
    uint64_t total = eng_model_weight_bytes(m), done = 0, next_report = 0;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i++) {
        const volatile uint8_t *p = t[i]->data;
        for (uint64_t off = 0; off < t[i]->nbytes; off += 4096) {
            sink ^= p[off];
            done += t[i]->nbytes - off < 4096 ? t[i]->nbytes - off : 4096;
            if (progress && done >= next_report) {
                if (progress(total ? (double)done / (double)total : 1.0, user) != 0)
                    return ENG_ERR_RANGE; /* cancelled */
                next_report = done + (total / 200 > (1u << 20) ? total / 200 : (1u << 20));
            }
        }
    }
    (void)sink;
    if (progress) progress(1.0, user);
    return ENG_OK;
}

/* ---- locking in RAM ------------------------------------------------------------------------- */

/* "8192 KiB", "unlimited" or "unknown": the soft RLIMIT_MEMLOCK, as `ulimit -l` shows it. */
static void memlock_limit_str(char *buf, size_t cap)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        snprintf(buf, cap, "unknown");
    else if (rl.rlim_cur == RLIM_INFINITY)
        snprintf(buf, cap, "unlimited");
    else
        snprintf(buf, cap, "%llu KiB", (unsigned long long)(rl.rlim_cur / 1024));
}

/* Mapping `i` of the model's source (its GGUF file, or the HF directory's shards in order):
 * sets the out pointers when i < the count, which it returns. */
static uint32_t source_mapping(const struct eng_model *m, uint32_t i, const void **p, uint64_t *len,
                               const char **file)
{
    if (m->hf) return eng_hf_shard_map(m->hf, i, p, len, file);
    if (i == 0) {
        *p = eng_gguf_base(m->gguf);
        *len = eng_gguf_file_size(m->gguf);
        *file = m->path;
    }
    return 1;
}

int eng_model_mlock(const struct eng_model *m, char **why)
{
    const void *p = NULL;
    uint64_t len = 0;
    const char *file = NULL;
    uint32_t n = source_mapping(m, 0, &p, &len, &file);
    for (uint32_t i = 0; i < n; i++) {
        source_mapping(m, i, &p, &len, &file);
        if (mlock(p, (size_t)len) == 0) continue;
        int e = errno;
        char limit[32];
        memlock_limit_str(limit, sizeof limit);
        const char *failed = file;
        const uint64_t failed_len = len;
        for (uint32_t j = 0; j < i; j++) { /* all or nothing */
            source_mapping(m, j, &p, &len, &file);
            (void)munlock(p, (size_t)len); /* fails only for a range that is not mapped */
        }
        return eng_fail(why, ENG_ERR_NOMEM,
                        "%s: cannot lock %.1f MB in RAM: %s; the locked-memory limit is %s: "
                        "raise it with `ulimit -l` (e.g. ulimit -l unlimited)",
                        failed, (double)failed_len / 1e6, strerror(e), limit);
    }
    return ENG_OK;
}
