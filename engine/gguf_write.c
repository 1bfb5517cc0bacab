/* GGUF v3 writer: metadata key/values and tensors into a new file.
 *
 * The writer collects keys (copied) and tensors (data borrowed until eng_gguf_writer_write),
 * then writes header, key/values, tensor infos, padding to the alignment, and the data
 * section with each tensor aligned, into "<path>.tmp" which is fsync'd and renamed over
 * `path`, so a reader never sees a half-written model. The layout is the one the reader
 * (gguf.c) validates: little endian, strings as u64 length + bytes, alignment 32 unless a
 * `general.alignment` key says otherwise. A tensor added without data gets it from the
 * caller's callback at write time (eng_gguf_writer_write_cb), in file order, so a converter
 * holds one tensor at a time; keys can also be copied as already-encoded values
 * (eng_gguf_writer_raw) or from another writer (eng_gguf_writer_append).
 */
#include "engine/eng_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void put(struct wbuf *b, const void *p, size_t n)
{
    if (b->oom || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_u32(struct wbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(struct wbuf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(struct wbuf *b, const char *s, size_t n)
{
    put_u64(b, n);
    put(b, s, n);
}

struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
    const void *data;
    uint64_t nbytes;
};

struct eng_gguf_writer {
    struct wbuf kv; /* encoded key/value pairs */
    uint64_t n_kv;
    struct wtensor *t;
    size_t n_t, cap_t;
    uint32_t alignment;
};

struct eng_gguf_writer *eng_gguf_writer_new(void)
{
    struct eng_gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->alignment = 32;
    return w;
}

void eng_gguf_writer_free(struct eng_gguf_writer *w)
{
    if (!w) return;
    free(w->kv.p);
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    free(w);
}

static void key(struct eng_gguf_writer *w, const char *k, uint32_t type)
{
    put_str(&w->kv, k, strlen(k));
    put_u32(&w->kv, type);
    w->n_kv++;
}

void eng_gguf_writer_str(struct eng_gguf_writer *w, const char *k, const char *v)
{
    key(w, k, ENG_GGUF_TYPE_STRING);
    put_str(&w->kv, v, strlen(v));
}

void eng_gguf_writer_u32(struct eng_gguf_writer *w, const char *k, uint32_t v)
{
    key(w, k, ENG_GGUF_TYPE_UINT32);
    put_u32(&w->kv, v);
}

void eng_gguf_writer_f32(struct eng_gguf_writer *w, const char *k, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    key(w, k, ENG_GGUF_TYPE_FLOAT32);
    put_u32(&w->kv, bits);
}

void eng_gguf_writer_bool(struct eng_gguf_writer *w, const char *k, bool v)
{
    uint8_t b = v ? 1 : 0;
    key(w, k, ENG_GGUF_TYPE_BOOL);
    put(&w->kv, &b, 1);
}

void eng_gguf_writer_arr_str(struct eng_gguf_writer *w, const char *k, const char *const *v,
                             const size_t *lens, uint64_t n)
{
    key(w, k, ENG_GGUF_TYPE_ARRAY);
    put_u32(&w->kv, ENG_GGUF_TYPE_STRING);
    put_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++)
        put_str(&w->kv, v[i], lens ? lens[i] : strlen(v[i]));
}

void eng_gguf_writer_arr_i32(struct eng_gguf_writer *w, const char *k, const int32_t *v, uint64_t n)
{
    key(w, k, ENG_GGUF_TYPE_ARRAY);
    put_u32(&w->kv, ENG_GGUF_TYPE_INT32);
    put_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++)
        put_u32(&w->kv, (uint32_t)v[i]);
}

void eng_gguf_writer_raw(struct eng_gguf_writer *w, const char *k, uint32_t type, const void *v,
                         uint64_t len)
{
    key(w, k, type);
    put(&w->kv, v, (size_t)len);
}

void eng_gguf_writer_append(struct eng_gguf_writer *w, const struct eng_gguf_writer *src)
{
    if (src->kv.oom) w->kv.oom = true;
    put(&w->kv, src->kv.p, src->kv.len);
    w->n_kv += src->n_kv;
}

int eng_gguf_writer_tensor(struct eng_gguf_writer *w, const char *name, uint32_t type,
                           uint32_t n_dims, const int64_t *ne, const void *data)
{
    uint32_t bs = eng_type_block_size(type), bb = eng_type_block_bytes(type);
    if (!bs || n_dims < 1 || n_dims > 4 || ne[0] % bs) return ENG_ERR_RANGE;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        struct wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) return ENG_ERR_NOMEM;
        w->t = t;
        w->cap_t = cap;
    }
    struct wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return ENG_ERR_NOMEM;
    t->type = type;
    t->n_dims = n_dims;
    uint64_t n = 1;
    for (uint32_t d = 0; d < 4; d++) {
        t->ne[d] = d < n_dims ? ne[d] : 1;
        n *= (uint64_t)t->ne[d];
    }
    t->nbytes = n / bs * bb;
    t->data = data;
    w->n_t++;
    return ENG_OK;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t k = write(fd, q, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        q += k;
        n -= (size_t)k;
    }
    return 0;
}

int eng_gguf_writer_write(struct eng_gguf_writer *w, const char *path, char **why)
{
    return eng_gguf_writer_write_cb(w, path, NULL, NULL, why);
}

int eng_gguf_writer_write_cb(struct eng_gguf_writer *w, const char *path,
                             eng_gguf_tensor_data_cb data_cb, void *user, char **why)
{
    struct wbuf h = {0};
    put(&h, "GGUF", 4);
    put_u32(&h, 3);
    put_u64(&h, w->n_t);
    put_u64(&h, w->n_kv);
    put(&h, w->kv.p, w->kv.len);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        struct wtensor *t = &w->t[i];
        put_str(&h, t->name, strlen(t->name));
        put_u32(&h, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_u64(&h, (uint64_t)t->ne[d]);
        put_u32(&h, t->type);
        put_u64(&h, off);
        off += (t->nbytes + w->alignment - 1) / w->alignment * w->alignment;
    }
    static const uint8_t zeros[64] = {0};
    size_t pad = (w->alignment - h.len % w->alignment) % w->alignment;
    put(&h, zeros, pad);
    if (h.oom || w->kv.oom) {
        free(h.p);
        return eng_fail(why, ENG_ERR_NOMEM, "%s: out of memory", path);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(h.p);
        return eng_fail(why, ENG_ERR_IO, "%s: %s", tmp, strerror(errno));
    }
    int rc = write_all(fd, h.p, h.len);
    int cb_err = 0;
    for (size_t i = 0; rc == 0 && i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        const void *data = t->data;
        if (!data) {
            if (!data_cb) {
                cb_err = eng_fail(why, ENG_ERR_RANGE, "%s: tensor %s has no data", path, t->name);
            } else {
                cb_err = data_cb(user, i, &data, why);
            }
            if (cb_err < 0) break;
        }
        rc = write_all(fd, data, t->nbytes);
        size_t tpad = (w->alignment - t->nbytes % w->alignment) % w->alignment;
        if (rc == 0 && i + 1 < w->n_t) rc = write_all(fd, zeros, tpad);
    }
    free(h.p);
    if (cb_err < 0) { /* the callback explained itself in *why */
        close(fd);
        unlink(tmp);
        return cb_err;
    }
    if (rc == 0) rc = fsync(fd);
    int err = errno;
    if (close(fd) != 0 && rc == 0) rc = -1, err = errno;
    if (rc == 0 && rename(tmp, path) != 0) rc = -1, err = errno;
    if (rc != 0) {
        unlink(tmp);
        return eng_fail(why, ENG_ERR_IO, "%s: %s", path, strerror(err));
    }
    return ENG_OK;
}
