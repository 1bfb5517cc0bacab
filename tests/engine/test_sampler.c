/* Sampler tests: greedy, reproducibility by seed, top-k / top-p / min-p truncation, the
 * drawn distribution against softmax, penalties, and parameter validation. */
#include "test_util.h"
#include "engine/eng_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 1000

static void fill(float *l, uint64_t seed)
{
    for (int i = 0; i < N; i++)
        l[i] = (float)(tu_rand(&seed) % 2000) / 200.0f - 5.0f;
}

static struct eng_sampler *make(float temp, int32_t top_k, float top_p, float min_p, uint64_t seed)
{
    struct eng_sampler_params p;
    eng_sampler_params_default(&p);
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    char *why = NULL;
    struct eng_sampler *s = eng_sampler_new(&p, N, &why);
    if (!s) fail_msg("%s", why);
    return s;
}

static int argmax(const float *l)
{
    int b = 0;
    for (int i = 1; i < N; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static void test_greedy(void **state)
{
    float l[N];
    fill(l, 7);
    struct eng_sampler *s = make(0.0f, 0, 1.0f, 0.0f, 1);
    assert_int_equal(eng_sampler_sample(s, l), argmax(l));
    eng_sampler_free(s);
    /* top-k 1, a tiny top-p and min-p 1 all reduce to greedy at any temperature. */
    s = make(1.5f, 1, 1.0f, 0.0f, 1);
    for (int i = 0; i < 20; i++)
        assert_int_equal(eng_sampler_sample(s, l), argmax(l));
    eng_sampler_free(s);
    s = make(1.5f, 0, 1e-6f, 0.0f, 2);
    for (int i = 0; i < 20; i++)
        assert_int_equal(eng_sampler_sample(s, l), argmax(l));
    eng_sampler_free(s);
    s = make(1.5f, 0, 1.0f, 1.0f, 3);
    for (int i = 0; i < 20; i++)
        assert_int_equal(eng_sampler_sample(s, l), argmax(l));
    eng_sampler_free(s);
}

static void test_seed_reproducible(void **state)
{
    float l[N];
    fill(l, 9);
    int32_t a[50], b[50], c[50];
    struct eng_sampler *s1 = make(1.0f, 40, 0.95f, 0.0f, 1234);
    struct eng_sampler *s2 = make(1.0f, 40, 0.95f, 0.0f, 1234);
    struct eng_sampler *s3 = make(1.0f, 40, 0.95f, 0.0f, 99);
    for (int i = 0; i < 50; i++) {
        a[i] = eng_sampler_sample(s1, l);
        b[i] = eng_sampler_sample(s2, l);
        c[i] = eng_sampler_sample(s3, l);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_true(memcmp(a, c, sizeof a) != 0);
    /* reset reseeds: the same sequence again */
    eng_sampler_reset(s1);
    for (int i = 0; i < 50; i++)
        assert_int_equal(eng_sampler_sample(s1, l), a[i]);
    eng_sampler_free(s1);
    eng_sampler_free(s2);
    eng_sampler_free(s3);
}

/* Draws follow softmax(l / T) over the kept set: 4 live candidates, 40000 draws. */
static void test_distribution(void **state)
{
    float l[N];
    for (int i = 0; i < N; i++)
        l[i] = -1e9f;
    l[10] = 2.0f, l[20] = 1.0f, l[30] = 0.5f, l[40] = 0.0f;
    const float T = 0.7f;
    double z = 0, p[4];
    int ids[4] = {10, 20, 30, 40};
    for (int k = 0; k < 4; k++)
        z += exp(l[ids[k]] / T);
    for (int k = 0; k < 4; k++)
        p[k] = exp(l[ids[k]] / T) / z;
    struct eng_sampler *s = make(T, 0, 1.0f, 0.0f, 42);
    int count[4] = {0};
    const int draws = 40000;
    for (int i = 0; i < draws; i++) {
        int32_t id = eng_sampler_sample(s, l);
        int k = 0;
        while (k < 4 && ids[k] != id)
            k++;
        assert_true(k < 4);
        count[k]++;
    }
    for (int k = 0; k < 4; k++) {
        double freq = (double)count[k] / draws;
        /* 5 standard deviations of a binomial proportion */
        double tol = 5 * sqrt(p[k] * (1 - p[k]) / draws);
        if (fabs(freq - p[k]) > tol) fail_msg("id %d: freq %.4f, want %.4f", ids[k], freq, p[k]);
    }
    eng_sampler_free(s);
    /* top-p 0.75 keeps the smallest prefix reaching 75% at T=1: {10, 20} (57.9% + 21.3%) */
    s = make(1.0f, 0, 0.75f, 0.0f, 5);
    for (int i = 0; i < 2000; i++) {
        int32_t id = eng_sampler_sample(s, l);
        assert_true(id == 10 || id == 20);
    }
    eng_sampler_free(s);
    /* top-k 3 never draws the 4th */
    s = make(5.0f, 3, 1.0f, 0.0f, 6);
    for (int i = 0; i < 2000; i++)
        assert_int_not_equal(eng_sampler_sample(s, l), 40);
    eng_sampler_free(s);
    /* min-p 0.5: p_i >= 0.5 p_max keeps ids with logit >= 2 + ln 0.5 = 1.31: only 10 */
    s = make(1.0f, 0, 1.0f, 0.5f, 7);
    for (int i = 0; i < 200; i++)
        assert_int_equal(eng_sampler_sample(s, l), 10);
    eng_sampler_free(s);
}

static void test_penalties(void **state)
{
    float l[N];
    for (int i = 0; i < N; i++)
        l[i] = 0.0f;
    l[1] = 3.0f, l[2] = 2.5f;
    struct eng_sampler_params p;
    eng_sampler_params_default(&p);
    p.temperature = 0;
    p.repeat_penalty = 1.5f; /* 3.0 / 1.5 = 2.0 < 2.5 */
    struct eng_sampler *s = eng_sampler_new(&p, N, NULL);
    assert_int_equal(eng_sampler_sample(s, l), 1);
    eng_sampler_accept(s, 1);
    assert_int_equal(eng_sampler_sample(s, l), 2);
    assert_true(l[1] == 3.0f); /* the caller's logits are untouched */
    eng_sampler_free(s);
    p.repeat_penalty = 1.0f;
    p.presence_penalty = 0.3f;  /* 3.0 - 0.3 > 2.5 */
    p.frequency_penalty = 0.2f; /* twice: 3.0 - 0.3 - 0.4 = 2.3 < 2.5 */
    s = eng_sampler_new(&p, N, NULL);
    eng_sampler_accept(s, 1);
    assert_int_equal(eng_sampler_sample(s, l), 1);
    eng_sampler_accept(s, 1);
    assert_int_equal(eng_sampler_sample(s, l), 2);
    eng_sampler_free(s);
    /* The window forgets: after repeat_last_n other ids, 1 is no longer penalised. */
    p.presence_penalty = 0;
    p.frequency_penalty = 0;
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 4;
    s = eng_sampler_new(&p, N, NULL);
    eng_sampler_accept(s, 1);
    assert_int_equal(eng_sampler_sample(s, l), 2);
    for (int i = 0; i < 4; i++)
        eng_sampler_accept(s, 500 + i);
    assert_int_equal(eng_sampler_sample(s, l), 1);
    eng_sampler_free(s);
}

static void test_invalid(void **state)
{
    struct eng_sampler_params p;
    eng_sampler_params_default(&p);
    p.top_p = 0.0f;
    char *why = NULL;
    assert_null(eng_sampler_new(&p, N, &why));
    assert_non_null(why);
    assert_null(strchr(why, '\n'));
    free(why);
    eng_sampler_params_default(&p);
    p.top_k = -1;
    assert_null(eng_sampler_new(&p, N, NULL));
    eng_sampler_params_default(&p);
    p.temperature = NAN;
    assert_null(eng_sampler_new(&p, N, NULL));
    eng_sampler_params_default(&p);
    assert_null(eng_sampler_new(&p, 0, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),       cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_distribution), cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
