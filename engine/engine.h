/* engine — model files, tensor types and (later) the GLM-4 forward pass.
 *
 * Owns, so far: the engine's error codes, the ggml tensor type ids with their block traits,
 * and the GGUF file reader. A `struct eng_gguf` maps a GGUF v2/v3 file read-only, validates
 * every length, count and offset against the file size once at open, and keeps an index
 * (keys and tensor names hashed, string arrays addressable in O(1)); after that it is
 * immutable, so any number of threads may read it at once. Tensor data is never copied: a
 * tensor's `data` points into the mapping, which lives until eng_gguf_close.
 *
 * Later issues add the model / session / forward-pass API below the GGUF section.
 * Library code never prints or exits: fallible functions return 0 or a negative
 * `enum eng_err`, constructors return NULL and explain through an optional `char **why`
 * (one malloc'd line the caller frees).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum eng_err {
    ENG_OK = 0,
    ENG_ERR_NOMEM = -1,       /* out of memory */
    ENG_ERR_IO = -2,          /* a file could not be opened, read or mapped */
    ENG_ERR_FORMAT = -3,      /* a file is malformed, or a value has the wrong type */
    ENG_ERR_RANGE = -4,       /* an index is out of range, or a key / tensor is missing */
    ENG_ERR_UNSUPPORTED = -5, /* valid, but not something this engine handles */
    ENG_ERR_CANCELLED = -6,   /* stopped by the caller (eng_session_set_abort) */
};

/* A short static English name for an `enum eng_err` value ("out of memory"); never NULL. */
const char *eng_err_str(int err);

/* ==== tensor types ======================================================================== */

/* ggml tensor type ids, numerically identical to `enum ggml_type` in ggml's public header
 * (ggml-org/ggml include/ggml.h). GGUF tensor infos store these ids. Gaps (4, 5, 31..33,
 * 36..38) are ids ggml has retired; the reader rejects them like any unknown id. */
enum eng_type {
    ENG_TYPE_F32 = 0,
    ENG_TYPE_F16 = 1,
    ENG_TYPE_Q4_0 = 2,
    ENG_TYPE_Q4_1 = 3,
    ENG_TYPE_Q5_0 = 6,
    ENG_TYPE_Q5_1 = 7,
    ENG_TYPE_Q8_0 = 8,
    ENG_TYPE_Q8_1 = 9,
    ENG_TYPE_Q2_K = 10,
    ENG_TYPE_Q3_K = 11,
    ENG_TYPE_Q4_K = 12,
    ENG_TYPE_Q5_K = 13,
    ENG_TYPE_Q6_K = 14,
    ENG_TYPE_Q8_K = 15,
    ENG_TYPE_IQ2_XXS = 16,
    ENG_TYPE_IQ2_XS = 17,
    ENG_TYPE_IQ3_XXS = 18,
    ENG_TYPE_IQ1_S = 19,
    ENG_TYPE_IQ4_NL = 20,
    ENG_TYPE_IQ3_S = 21,
    ENG_TYPE_IQ2_S = 22,
    ENG_TYPE_IQ4_XS = 23,
    ENG_TYPE_I8 = 24,
    ENG_TYPE_I16 = 25,
    ENG_TYPE_I32 = 26,
    ENG_TYPE_I64 = 27,
    ENG_TYPE_F64 = 28,
    ENG_TYPE_IQ1_M = 29,
    ENG_TYPE_BF16 = 30,
    ENG_TYPE_TQ1_0 = 34,
    ENG_TYPE_TQ2_0 = 35,
    ENG_TYPE_COUNT = 39 /* one past the largest id ggml has assigned */
};

/* Traits of a tensor type id. A tensor row of n elements (n a multiple of the block size)
 * takes n / block_size * block_bytes bytes. Each returns 0 (NULL for the name) when `type`
 * is not an id this engine knows. Pure functions; any thread. */
const char *eng_type_name(uint32_t type);    /* "Q4_0", "F16", ... */
uint32_t eng_type_block_size(uint32_t type); /* elements per block: 1, 32 or 256 */
uint32_t eng_type_block_bytes(uint32_t type);

/* ==== GGUF reader ========================================================================= */

/* Metadata value types as stored in GGUF files (GGUF spec, `gguf_metadata_value_type`). */
enum eng_gguf_type {
    ENG_GGUF_TYPE_UINT8 = 0,
    ENG_GGUF_TYPE_INT8 = 1,
    ENG_GGUF_TYPE_UINT16 = 2,
    ENG_GGUF_TYPE_INT16 = 3,
    ENG_GGUF_TYPE_UINT32 = 4,
    ENG_GGUF_TYPE_INT32 = 5,
    ENG_GGUF_TYPE_FLOAT32 = 6,
    ENG_GGUF_TYPE_BOOL = 7,
    ENG_GGUF_TYPE_STRING = 8,
    ENG_GGUF_TYPE_ARRAY = 9,
    ENG_GGUF_TYPE_UINT64 = 10,
    ENG_GGUF_TYPE_INT64 = 11,
    ENG_GGUF_TYPE_FLOAT64 = 12,
    ENG_GGUF_TYPE_COUNT = 13
};

/* "UINT32", "STRING", ...; NULL for an unknown value type. */
const char *eng_gguf_type_name(uint32_t type);

/* An open, validated GGUF file. Opaque. */
struct eng_gguf;

/* One tensor of the file, validated at open: 1 <= n_dims <= 4, every ne >= 1 (ne[j] = 1
 * for j >= n_dims), a known type, ne[0] a multiple of the type's block size, offset a
 * multiple of the file's alignment, and [data, data + nbytes) inside the file. Borrowed
 * from the reader; valid until eng_gguf_close. */
struct eng_gguf_tensor {
    const char *name;   /* NUL-terminated copy of the name */
    uint32_t type;      /* enum eng_type */
    uint32_t n_dims;    /* 1..4 */
    int64_t ne[4];      /* elements per dimension, ne[0] innermost (a row) */
    int64_t n_elements; /* ne[0] * ne[1] * ne[2] * ne[3] */
    uint64_t offset;    /* from the start of the data section */
    uint64_t nbytes;    /* n_elements / block_size * block_bytes */
    const void *data;   /* into the read-only mapping (page-aligned, so data is aligned to
                         * the file's alignment; see eng_gguf_open_mem otherwise) */
};

/* Maps and validates the GGUF file at `path` (version 2 or 3, little endian). Returns a new
 * reader, or NULL on failure with `*why` (when `why` is not NULL) set to one malloc'd line
 * "<path>: <what is wrong>" the caller frees (`*why` stays NULL if even that allocation
 * fails). No tensor data is read or copied. Any thread. */
struct eng_gguf *eng_gguf_open(const char *path, char **why);

/* As eng_gguf_open, over `size` bytes at `data` that the caller keeps unchanged and alive
 * until eng_gguf_close (nothing is copied; tensor data pointers point into it and are
 * aligned only as well as `data` is). `name` (may be NULL) starts the `*why` line. For
 * embedded models, tests and fuzzing. Any thread. */
struct eng_gguf *eng_gguf_open_mem(const void *data, size_t size, const char *name, char **why);

/* Unmaps the file and frees the reader; every pointer obtained from it dies. NULL is fine.
 * The caller makes sure no other thread still uses the reader. */
void eng_gguf_close(struct eng_gguf *g);

/* File facts. Any thread. */
uint32_t eng_gguf_version(const struct eng_gguf *g);     /* 2 or 3 */
uint32_t eng_gguf_alignment(const struct eng_gguf *g);   /* general.alignment or 32 */
uint64_t eng_gguf_data_offset(const struct eng_gguf *g); /* start of the tensor data section */
uint64_t eng_gguf_file_size(const struct eng_gguf *g);
const void *eng_gguf_base(const struct eng_gguf *g); /* the mapping: file byte 0 */

/* ---- metadata ----
 * Every getter below only reads the immutable index: any thread, concurrently. Returned
 * pointers are borrowed and live until eng_gguf_close. */

/* Number of key/value pairs; keys are indexed 0..count-1 in file order. */
int64_t eng_gguf_kv_count(const struct eng_gguf *g);

/* Index of `key`, or -1 when the file has no such key. O(1) (hashed). */
int64_t eng_gguf_find_key(const struct eng_gguf *g, const char *key);

/* Name of key `kidx` (NUL-terminated, borrowed), or NULL when out of range. */
const char *eng_gguf_key_name(const struct eng_gguf *g, int64_t kidx);

/* Value type of key `kidx` (enum eng_gguf_type), or ENG_ERR_RANGE when out of range. */
int eng_gguf_key_type(const struct eng_gguf *g, int64_t kidx);

/* Typed getters by key name. Each returns 0 and sets `*out`, ENG_ERR_RANGE when the key
 * is missing, or ENG_ERR_FORMAT when its value has another type or does not fit `*out`;
 * `*out` is untouched on failure. Any thread.
 *   get_u32: any integer type whose value fits in uint32_t.
 *   get_i64: any integer type whose value fits in int64_t.
 *   get_f32: FLOAT32, or FLOAT64 converted to float.
 *   get_bool: BOOL only.
 *   get_str: STRING; `*s` points into the mapping and is NOT NUL-terminated: it has `*len`
 *            bytes (both out pointers are required). */
int eng_gguf_get_u32(const struct eng_gguf *g, const char *key, uint32_t *out);
int eng_gguf_get_i64(const struct eng_gguf *g, const char *key, int64_t *out);
int eng_gguf_get_f32(const struct eng_gguf *g, const char *key, float *out);
int eng_gguf_get_bool(const struct eng_gguf *g, const char *key, bool *out);
int eng_gguf_get_str(const struct eng_gguf *g, const char *key, const char **s, size_t *len);

/* Array facts by key name: element type (enum eng_gguf_type) and element count. Returns 0,
 * ENG_ERR_RANGE when the key is missing, ENG_ERR_FORMAT when it is not an array. Either out
 * pointer may be NULL. Elements are then read by key index (eng_gguf_find_key). Arrays of
 * arrays (one level of nesting; deeper is refused at open) report ENG_GGUF_TYPE_ARRAY and
 * are validated but not indexed: the element getters answer ENG_ERR_FORMAT for them. */
int eng_gguf_get_arr(const struct eng_gguf *g, const char *key, uint32_t *elem_type,
                     uint64_t *count);

/* Element `i` of string array `kidx`: `*s` into the mapping, not NUL-terminated, `*len`
 * bytes. O(1). Returns 0, ENG_ERR_RANGE (bad kidx or i), or ENG_ERR_FORMAT (not an array
 * of strings). */
int eng_gguf_arr_str(const struct eng_gguf *g, int64_t kidx, uint64_t i, const char **s,
                     size_t *len);

/* The packed elements of numeric (or BOOL) array `kidx`, little endian as in the file, or
 * NULL when `kidx` is not such an array. The pointer may be unaligned for its element type:
 * read it with memcpy, or use the element getters below. */
const void *eng_gguf_arr_data(const struct eng_gguf *g, int64_t kidx);

/* Element `i` of an integer (or BOOL) array, widened to int64_t. Returns 0, ENG_ERR_RANGE
 * (bad kidx or i), or ENG_ERR_FORMAT (not an integer array, or a UINT64 above INT64_MAX). */
int eng_gguf_arr_int(const struct eng_gguf *g, int64_t kidx, uint64_t i, int64_t *out);

/* Element `i` of a FLOAT32 / FLOAT64 array as float. Returns as eng_gguf_arr_int. */
int eng_gguf_arr_f32(const struct eng_gguf *g, int64_t kidx, uint64_t i, float *out);

/* Copies the first `n` elements of integer array `kidx` into dst as int32_t (for
 * `tokenizer.ggml.token_type` and the like). Returns 0, ENG_ERR_RANGE (bad kidx, or n above
 * the element count), or ENG_ERR_FORMAT (not an integer array, or a value that does not fit
 * int32_t; dst is then partly written). */
int eng_gguf_arr_copy_i32(const struct eng_gguf *g, int64_t kidx, int32_t *dst, uint64_t n);

/* ---- tensors ---- */

/* Number of tensors; tensors are indexed 0..count-1 in file order. */
int64_t eng_gguf_tensor_count(const struct eng_gguf *g);

/* Tensor `i` (borrowed), or NULL when out of range. */
const struct eng_gguf_tensor *eng_gguf_tensor_at(const struct eng_gguf *g, int64_t i);

/* The tensor called `name` (borrowed), or NULL when there is none. O(1) (hashed). */
const struct eng_gguf_tensor *eng_gguf_tensor_find(const struct eng_gguf *g, const char *name);

/* ==== model / session (later issues) ====================================================== */

/* A loaded GLM-4 model: hyper-parameters plus every weight, bound by GGUF name and checked
 * against the hyper-parameters at load. Immutable once loaded: any number of sessions on
 * any threads may share one model, which must outlive them. Opaque. */
struct eng_model;

/* Loads the model at `path`: a .gguf file (arch "chatglm" or "glm4") or a Hugging Face
 * directory (config.json + safetensors). Weights stay in the read-only file mappings.
 * Returns a new model, or NULL with `*why` (when not NULL) set to one malloc'd line
 * "<path>: <what is wrong>" naming the key or tensor at fault (missing, wrong shape,
 * unsupported type or architecture); the caller frees it. Any thread. */
struct eng_model *eng_model_load(const char *path, char **why);

/* Frees the model and unmaps its files. NULL is fine. No session may still use it. */
void eng_model_free(struct eng_model *m);

/* Model facts. Any thread. */
int32_t eng_model_n_vocab(const struct eng_model *m);     /* rows of the logits (151552) */
int32_t eng_model_n_ctx_train(const struct eng_model *m); /* the context it was trained for */
const char *eng_model_arch(const struct eng_model *m);    /* "chatglm" or "glm4" (static) */

/* Progress of a long operation, 0..1; return nonzero to cancel it. Called on the thread
 * doing the work. */
typedef int (*eng_progress_cb)(double fraction, void *user);

/* Bytes of the weights a token reads in full (every matrix but the embedding, which is read
 * by row). */
uint64_t eng_model_weight_bytes(const struct eng_model *m);

/* Reads one byte of every page of those weights, so the first tokens do not wait on the disk
 * (the mapping stays read-only and shared with other processes through the page cache).
 * Reports progress; returns 0, or ENG_ERR_RANGE when `progress` cancelled. Any thread. */
int eng_model_prefault(const struct eng_model *m, eng_progress_cb progress, void *user);

/* Locks every file mapping of the model in RAM (mlock(2): the GGUF file, or every safetensors
 * shard of a Hugging Face directory), reading any page not yet resident, so the weights are
 * never paged out. Unlocked when the model is freed. Returns 0, or ENG_ERR_NOMEM with `*why`
 * (when not NULL; caller frees) set to one line naming the file that could not be locked, the
 * reason and the locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`); the mappings locked before
 * it are unlocked again. Any thread; the model stays usable either way. */
int eng_model_mlock(const struct eng_model *m, char **why);

/* Element type of a session's KV cache. F16 halves its memory; F32 is exact. */
enum eng_kv_type { ENG_KV_F16 = 0, ENG_KV_F32 = 1 };

/* Session options; a zeroed struct (or NULL) means the defaults. */
struct eng_session_opts {
    int32_t n_ctx;            /* positions the KV cache holds; <= 0: min(n_ctx_train, 4096);
                               * at most n_ctx_train */
    enum eng_kv_type kv_type; /* default ENG_KV_F16 */
    int32_t n_batch;          /* tokens evaluated together (weights read once per batch);
                               * <= 0: 512 */
    int32_t n_threads;        /* threads evaluating (the caller + n_threads-1 workers of the
                               * session's own pool); <= 0: the physical cores this process
                               * may use. Results are bit-identical for every count. */
};

/* One sequence being evaluated on `m`: its KV cache, scratch buffers and compute pool (its
 * worker threads start here, spin briefly after each parallel region and otherwise sleep), all
 * allocated here (evaluation allocates nothing). A session is used by one thread at a time;
 * several sessions may share `m`. Returns a new session, or NULL with `*why` set (bad options,
 * out of memory, a thread that cannot start); the caller frees *why. */
struct eng_session *eng_session_new(const struct eng_model *m, const struct eng_session_opts *o,
                                    char **why);

/* Frees the session. NULL is fine. */
void eng_session_free(struct eng_session *s);

/* Number of positions in the cache: the position the next evaluated token takes. */
int32_t eng_session_n_past(const struct eng_session *s);

/* Positions the cache holds (the n_ctx actually used). */
int32_t eng_session_n_ctx(const struct eng_session *s);

/* Threads the session evaluates on (the n_threads actually used). */
int32_t eng_session_n_threads(const struct eng_session *s);

/* Evaluates the `n` tokens `ids` at positions n_past .. n_past+n-1 and appends them to the
 * cache. `logits` is NULL (nothing returned) or room for n_vocab floats per requested row:
 * `all_rows` true → n rows (row i = logits predicting the token after ids[i]), false → the
 * last row only. Returns 0, or fails before touching the cache or `logits` with `*why` set
 * (when not NULL; caller frees): ENG_ERR_RANGE when an id is outside [0, n_vocab), n < 0, or
 * n_past + n > n_ctx; or ENG_ERR_CANCELLED when the abort callback stopped it part-way (see
 * eng_session_set_abort). n == 0 does nothing. The session's thread only. */
int eng_session_eval(struct eng_session *s, const int32_t *ids, int32_t n, float *logits,
                     bool all_rows, char **why);

/* Lets a long evaluation be stopped: eng_session_eval calls `cb(user)` before every layer of
 * every batch, and when it returns true it stops and returns ENG_ERR_CANCELLED. The batches it
 * completed stay in the cache (eng_session_n_past says how far it got); the batch it stopped
 * in is not counted, and `logits` is left undefined. cb may be NULL (the default: never
 * stopped); it runs on the session's thread and must be quick (an atomic load). */
typedef bool (*eng_abort_cb)(void *user);
void eng_session_set_abort(struct eng_session *s, eng_abort_cb cb, void *user);

/* Drops cached positions >= n_keep, so the next token evaluates at position n_keep (prefix
 * reuse, truncation). n_keep >= n_past changes nothing. Returns 0, or ENG_ERR_RANGE when
 * n_keep < 0. */
int eng_session_truncate(struct eng_session *s, int32_t n_keep);

/* ==== sampler ============================================================================= */

struct eng_sampler_params {
    float temperature;       /* <= 0: greedy */
    int32_t top_k;           /* 0: off */
    float top_p;             /* 1: off */
    float min_p;             /* 0: off */
    float repeat_penalty;    /* 1: off */
    int32_t repeat_last_n;   /* window of accepted ids the penalties look at */
    float presence_penalty;  /* 0: off */
    float frequency_penalty; /* 0: off */
    uint64_t seed;           /* same seed, same logits -> same ids */
};
struct eng_sampler;

/* glm-4-9b-chat's generation defaults (temperature 0.8, top_p 0.8), no penalties, seed 0. */
void eng_sampler_params_default(struct eng_sampler_params *p);
/* A sampler for `n_vocab` logits. NULL with *why for invalid parameters or no memory. */
struct eng_sampler *eng_sampler_new(const struct eng_sampler_params *p, int32_t n_vocab,
                                    char **why);
void eng_sampler_free(struct eng_sampler *s);
/* Forgets the accepted ids and reseeds the generator. */
void eng_sampler_reset(struct eng_sampler *s);
/* Records an id as generated (or part of the prompt) for the penalties. */
void eng_sampler_accept(struct eng_sampler *s, int32_t id);
/* Picks the next id from `logits` (n_vocab floats, not modified). Does not accept it. */
int32_t eng_sampler_sample(struct eng_sampler *s, const float *logits);

/* ==== engine thread ======================================================================= */

enum eng_event_type {
    ENG_EVENT_TOKENS,    /* ids generated since the last TOKENS event */
    ENG_EVENT_LOGITS,    /* logits rows of evaluated positions (only with logits_all) */
    ENG_EVENT_TRUNCATED, /* old turns were dropped to fit the context */
    ENG_EVENT_DONE,      /* the request ended: stop reason and timings */
    ENG_EVENT_ERROR,     /* the request failed: message; no DONE follows */
};

enum eng_stop {
    ENG_STOP_EOS,       /* a stop id was sampled (stop_id; it is not in TOKENS) */
    ENG_STOP_LENGTH,    /* n_predict tokens were generated */
    ENG_STOP_CANCELLED, /* eng_engine_cancel */
    ENG_STOP_CONTEXT,   /* the context is full */
    ENG_STOP_SINK,      /* the sink asked to stop (e.g. a stop string) */
};

struct eng_timings {
    int32_t n_reused;  /* prompt tokens already in the KV cache (prefix reuse) */
    int32_t n_prefill; /* prompt tokens evaluated */
    int32_t n_gen;     /* tokens generated */
    double prefill_ms, gen_ms, total_ms;
    double ttft_ms; /* request start to the first sampled token */
};

/* Borrowed pointers are valid during the sink call only. */
struct eng_event {
    enum eng_event_type type;
    uint64_t request;
    const int32_t *ids; /* TOKENS */
    int32_t n_ids;
    const float *logits; /* LOGITS: n_rows x n_vocab, one row per evaluated position */
    int32_t n_rows, n_vocab;
    int32_t n_dropped;          /* TRUNCATED */
    enum eng_stop stop;         /* DONE */
    int32_t stop_id;            /* DONE with ENG_STOP_EOS */
    struct eng_timings timings; /* DONE */
    const char *message;        /* ERROR: one line */
};

/* Called on the engine thread for every event. Must not block for long and must not call
 * back into the engine except eng_engine_cancel. Return nonzero to end the request
 * (ENG_STOP_SINK). */
typedef int (*eng_sink_cb)(const struct eng_event *ev, void *user);

struct eng_request {
    uint64_t id;                 /* > 0, chosen by the caller */
    struct eng_session *session; /* the KV cache to use; owned by the caller */
    const int32_t *prompt;       /* the whole conversation so far (copied at submit) */
    int32_t n_prompt;
    int32_t n_predict; /* tokens to generate; 0 = evaluate only; -1 = until context full */
    struct eng_sampler_params sampling;
    const int32_t *stop_ids; /* e.g. 151329, 151336, 151338 */
    int32_t n_stop_ids;
    int32_t n_keep;             /* leading tokens truncation never drops (system, tools) */
    const int32_t *turn_starts; /* ascending prompt positions where turns begin */
    int32_t n_turn_starts;
    bool logits_all; /* deliver LOGITS events for every evaluated position */
};

struct eng_engine;

/* Starts an engine thread for model `m` (which must outlive it). NULL with *why on failure. */
struct eng_engine *eng_engine_new(const struct eng_model *m, eng_sink_cb sink, void *user,
                                  char **why);
/* Queues a request (arrays are copied). Any thread. */
int eng_engine_submit(struct eng_engine *e, const struct eng_request *r, char **why);
/* Cancels request `id` whether queued or running; it stops within one layer of the token or
 * prompt batch being evaluated. Any thread. */
void eng_engine_cancel(struct eng_engine *e, uint64_t request_id);
/* Cancels everything, joins the thread, frees. Sessions stay the caller's. */
void eng_engine_free(struct eng_engine *e);
/* Forgets what the engine knows of session `s` (call before freeing a session the engine has
 * used, while no request for it is queued or running). */
void eng_engine_forget_session(struct eng_engine *e, struct eng_session *s);

/* ==== GGUF writer ========================================================================= */

/* Builds a GGUF v3 file: keys are copied at once, tensor data is borrowed until
 * eng_gguf_writer_write, which writes "<path>.tmp", fsyncs and renames it over `path`.
 * Tensors are laid out in the order added, each aligned to 32 bytes. Any thread; one
 * writer per thread. */
struct eng_gguf_writer;
struct eng_gguf_writer *eng_gguf_writer_new(void);
void eng_gguf_writer_free(struct eng_gguf_writer *w);
void eng_gguf_writer_str(struct eng_gguf_writer *w, const char *key, const char *v);
void eng_gguf_writer_u32(struct eng_gguf_writer *w, const char *key, uint32_t v);
void eng_gguf_writer_f32(struct eng_gguf_writer *w, const char *key, float v);
void eng_gguf_writer_bool(struct eng_gguf_writer *w, const char *key, bool v);
/* `lens` may be NULL for NUL-terminated strings. */
void eng_gguf_writer_arr_str(struct eng_gguf_writer *w, const char *key, const char *const *v,
                             const size_t *lens, uint64_t n);
void eng_gguf_writer_arr_i32(struct eng_gguf_writer *w, const char *key, const int32_t *v,
                             uint64_t n);
/* Adds a tensor of `type` with ne[0..n_dims) (ne[0] a multiple of the block size). */
int eng_gguf_writer_tensor(struct eng_gguf_writer *w, const char *name, uint32_t type,
                           uint32_t n_dims, const int64_t *ne, const void *data);
/* Writes the file. 0, or a negative enum eng_err with *why "<path>: <what>". */
int eng_gguf_writer_write(struct eng_gguf_writer *w, const char *path, char **why);

/* ==== built-in demo model ================================================================= */

/* Writes the deterministic tiny random-weight GLM-4 demo model (arch chatglm, byte-level
 * vocabulary with the GLM-4 special ids, about 21 MB) to `path`. Same bytes every time. */
int eng_demo_write(const char *path, char **why);

/* ==== quantize: GGUF / HF directory -> quantised GGUF (quantize.c) ======================== */

/* The raw encoding of key `kidx`'s value as stored in the file (after its type field: the
 * scalar, the u64-length-prefixed string, or the array's element type, count and elements),
 * borrowed from the mapping. Returns 0, or ENG_ERR_RANGE for a bad kidx. Any thread. */
int eng_gguf_kv_raw(const struct eng_gguf *g, int64_t kidx, uint32_t *type, const void **data,
                    uint64_t *len);

/* Adds key `key` with an already encoded value of GGUF type `type` (as eng_gguf_kv_raw
 * returns it); `v` is copied. */
void eng_gguf_writer_raw(struct eng_gguf_writer *w, const char *key, uint32_t type, const void *v,
                         uint64_t len);
/* Appends every key/value of `src` (in its order) to `w`. */
void eng_gguf_writer_append(struct eng_gguf_writer *w, const struct eng_gguf_writer *src);

/* Supplies the data of tensor `index` (added with data NULL): sets *data to its nbytes bytes,
 * valid until the next call. Returns 0, or a negative enum eng_err with *why set. */
typedef int (*eng_gguf_tensor_data_cb)(void *user, size_t index, const void **data, char **why);
/* As eng_gguf_writer_write, asking `data_cb` in file order for each tensor added without
 * data, so a file larger than memory can be produced one tensor at a time. */
int eng_gguf_writer_write_cb(struct eng_gguf_writer *w, const char *path,
                             eng_gguf_tensor_data_cb data_cb, void *user, char **why);

/* llama.cpp file types (`enum llama_ftype`, llama.h; stored as general.file_type). */
enum eng_ftype {
    ENG_FTYPE_F16 = 1,
    ENG_FTYPE_Q4_0 = 2,
    ENG_FTYPE_Q4_1 = 3,
    ENG_FTYPE_Q8_0 = 7,
    ENG_FTYPE_Q5_0 = 8,
    ENG_FTYPE_Q5_1 = 9,
    ENG_FTYPE_Q4_K_M = 15,
    ENG_FTYPE_Q5_K_M = 17,
    ENG_FTYPE_Q6_K = 18,
    ENG_FTYPE_BF16 = 32,
};

/* "Q4_K_M" (case-insensitive) -> its enum eng_ftype, or -1. */
int eng_ftype_parse(const char *name);
/* "Q4_K_M", ...; NULL for an id not in enum eng_ftype. */
const char *eng_ftype_name(int ftype);

/* Quantises the `n` f32 values `x` (n a multiple of the block size) to `type` at `dst`
 * (n / block_size * block_bytes bytes) bit-exactly as ggml's reference quantisers
 * (quantize_row_*_ref, ggml-quants.c) that llama-quantize uses without an imatrix: Q4_0,
 * Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K; F16 (round to nearest even), BF16 (ggml's
 * rounding) and F32 (copy). Returns 0, ENG_ERR_UNSUPPORTED or ENG_ERR_RANGE. Pure, any
 * thread. */
int eng_quantize_weight_row_ref(uint32_t type, const float *x, void *dst, int64_t n);

/* One tensor being written (the progress callback's argument). Borrowed for the call. */
struct eng_quantize_event {
    int64_t index, count; /* 1-based position in the output, tensors in all */
    const char *name;
    uint32_t from, to; /* enum eng_type in the input and in the output */
    uint32_t n_dims;
    int64_t ne[4];
};
/* Called before each tensor is converted; return nonzero to cancel (ENG_ERR_RANGE). */
typedef int (*eng_quantize_cb)(const struct eng_quantize_event *ev, void *user);

struct eng_quantize_opts {
    int ftype;                         /* enum eng_ftype */
    int n_threads;                     /* <= 0: the online CPUs */
    eng_quantize_cb progress;          /* may be NULL */
    void *user;                        /* for progress */
    const struct eng_gguf_writer *kvs; /* HF input only: keys to add (the tokenizer's), or NULL */
};

/* Writes a GGUF v3 file at `out` holding the model at `in` (a GGUF file, or a Hugging Face
 * directory read through hf.c) with tensor types chosen as llama.cpp's llama-quantize chooses
 * them for `o->ftype` (llama_tensor_get_type: 1-D tensors stay F32, output.weight Q6_K for
 * quantised ftypes, the Q4_K_M / Q5_K_M bumps, row-size fallbacks), tensors ordered as
 * llama-quantize orders them and data converted by eng_quantize_weight_row_ref. A GGUF input's keys
 * are copied, then general.quantization_version = 2 and general.file_type = o->ftype; an HF
 * input gets the architecture keys of spec/glm4-model.md §2 plus o->kvs. Returns 0, or a
 * negative enum eng_err with *why set (caller frees). Any thread. */
int eng_quantize_file(const char *in, const char *out, const struct eng_quantize_opts *o,
                      char **why);
