/* Thread-count independence of the forward pass (engine/forward.c on engine/pool.c): on every
 * tiny GLM-4 fixture (chatglm and glm4 architectures; F16, Q4_0 GGUF and fp32 Hugging Face
 * weights) the logits of a prompt evaluated in batches, then of single decode steps, are
 * bit-identical with 1, 2, 3, 4 and 7 threads (7: more threads than some matrices have row
 * chunks, so some threads get none), with either KV cache type. Each thread computes whole
 * output elements exactly as one thread would, so any difference is a bug, not rounding. */
#include "engine/engine.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PROMPT 40 /* evaluated in batches of N_BATCH: several multi-token batches */
#define N_BATCH  16
#define N_DECODE 4 /* then one token at a time */
#define N_ROWS   (N_PROMPT + N_DECODE)

static const int32_t THREAD_COUNTS[] = {1, 2, 3, 4, 7};
#define N_COUNTS (sizeof THREAD_COUNTS / sizeof THREAD_COUNTS[0])

/* All N_ROWS logit rows of the fixed token sequence `ids` on `n_threads` threads. */
static float *logits_with(const struct eng_model *m, const int32_t *ids, int32_t n_threads,
                          enum eng_kv_type kv)
{
    const size_t n_vocab = (size_t)eng_model_n_vocab(m);
    float *out = malloc(N_ROWS * n_vocab * sizeof *out);
    assert_non_null(out);
    char *why = NULL;
    struct eng_session_opts o = {
        .n_ctx = 64, .kv_type = kv, .n_batch = N_BATCH, .n_threads = n_threads};
    struct eng_session *s = eng_session_new(m, &o, &why);
    if (!s) fail_msg("session with %d threads: %s", (int)n_threads, why ? why : "?");
    assert_int_equal(eng_session_n_threads(s), n_threads);
    if (eng_session_eval(s, ids, N_PROMPT, out, true, &why) != 0) fail_msg("eval: %s", why);
    for (int32_t i = N_PROMPT; i < N_ROWS; i++)
        if (eng_session_eval(s, ids + i, 1, out + (size_t)i * n_vocab, false, &why) != 0)
            fail_msg("eval: %s", why);
    eng_session_free(s);
    return out;
}

static void check_model(const char *rel)
{
    char *why = NULL;
    struct eng_model *m = eng_model_load(tu_shared(rel), &why);
    if (!m) fail_msg("load %s: %s", rel, why ? why : "?");
    const int32_t n_vocab = eng_model_n_vocab(m);
    const size_t n = (size_t)N_ROWS * (size_t)n_vocab;

    /* Token ids spread over the whole vocabulary, the GLM-4 prompt start first. */
    int32_t ids[N_ROWS] = {151331, 151333, 151336};
    uint64_t rng = 0x7468726561647321ull;
    for (int32_t i = 3; i < N_ROWS; i++)
        ids[i] = (int32_t)(tu_rand(&rng) % (uint64_t)n_vocab);

    static const enum eng_kv_type kvs[] = {ENG_KV_F16, ENG_KV_F32};
    for (size_t k = 0; k < 2; k++) {
        float *ref = logits_with(m, ids, 1, kvs[k]);
        for (size_t c = 1; c < N_COUNTS; c++) {
            float *got = logits_with(m, ids, THREAD_COUNTS[c], kvs[k]);
            size_t first = n;
            for (size_t i = 0; i < n && first == n; i++)
                if (memcmp(&got[i], &ref[i], sizeof(float)) != 0) first = i;
            if (first != n)
                fail_msg("%s, KV %s, %d threads: row %zu, logit %zu is %.9g, with 1 thread %.9g",
                         rel, kvs[k] == ENG_KV_F16 ? "f16" : "f32", (int)THREAD_COUNTS[c],
                         first / (size_t)n_vocab, first % (size_t)n_vocab, (double)got[first],
                         (double)ref[first]);
            free(got);
        }
        free(ref);
    }
    printf("%s: %d rows bit-identical on 1..7 threads\n", rel, N_ROWS);
    eng_model_free(m);
}

static void test_chatglm_f16(void **state)
{
    (void)state;
    check_model("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf");
}

static void test_chatglm_q4_0(void **state)
{
    (void)state;
    check_model("fixtures/models/glm4-tiny64/glm4-tiny64-Q4_0.gguf");
}

static void test_chatglm_hf(void **state)
{
    (void)state;
    check_model("fixtures/models/glm4-tiny64/hf");
}

static void test_glm4_q4_0(void **state)
{
    (void)state;
    check_model("fixtures/models/glm4-0414-tiny64/glm4-0414-tiny64-Q4_0.gguf");
}

static void test_glm4_hf(void **state)
{
    (void)state;
    check_model("fixtures/models/glm4-0414-tiny64/hf");
}

/* n_threads <= 0 means the default; too many is refused at creation. */
static void test_thread_count_option(void **state)
{
    (void)state;
    char *why = NULL;
    struct eng_model *m =
        eng_model_load(tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-Q4_0.gguf"), &why);
    assert_non_null(m);
    struct eng_session_opts o = {.n_ctx = 16, .n_threads = 0};
    struct eng_session *s = eng_session_new(m, &o, NULL);
    assert_non_null(s);
    assert_true(eng_session_n_threads(s) >= 1);
    eng_session_free(s);
    o.n_threads = 100000;
    assert_null(eng_session_new(m, &o, &why));
    assert_non_null(why);
    assert_non_null(strstr(why, "threads"));
    free(why);
    eng_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chatglm_f16), cmocka_unit_test(test_chatglm_q4_0),
        cmocka_unit_test(test_chatglm_hf),  cmocka_unit_test(test_glm4_q4_0),
        cmocka_unit_test(test_glm4_hf),     cmocka_unit_test(test_thread_count_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
