/* Engine thread tests, through the sink and without libuv, on the tiny GLM-4 fixture:
 * generation matches a direct greedy loop, cancel takes effect within one token, prefix reuse
 * gives the same logits as a cold run, truncation drops whole old turns (or fails cleanly),
 * stop ids and a sink's stop end a request, and errors are events. */
#include "test_util.h"
#include "engine/eng_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sink that records events; the test thread waits for DONE/ERROR. */
struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t ids[4096];
    int32_t n_ids;
    float *rows; /* logits rows, appended */
    int32_t n_rows, n_vocab;
    int done, errors, truncated_events;
    int32_t n_dropped;
    enum eng_stop stop;
    int32_t stop_id;
    struct eng_timings tm;
    char message[256];
    /* behaviour */
    struct eng_engine *engine;
    int cancel_after_first_tokens;
    int32_t ids_when_cancelled;
    int stop_after_ids; /* return nonzero once this many ids arrived (0: never) */
};

static int sink(const struct eng_event *ev, void *user)
{
    struct rec *r = user;
    int ret = 0;
    pthread_mutex_lock(&r->mu);
    switch (ev->type) {
    case ENG_EVENT_TOKENS:
        for (int32_t i = 0; i < ev->n_ids && r->n_ids < 4096; i++)
            r->ids[r->n_ids++] = ev->ids[i];
        if (r->cancel_after_first_tokens && r->ids_when_cancelled < 0) {
            r->ids_when_cancelled = r->n_ids;
            eng_engine_cancel(r->engine, ev->request);
        }
        if (r->stop_after_ids && r->n_ids >= r->stop_after_ids) ret = 1;
        break;
    case ENG_EVENT_LOGITS:
        r->rows = realloc(r->rows,
                          (size_t)(r->n_rows + ev->n_rows) * (size_t)ev->n_vocab * sizeof(float));
        memcpy(r->rows + (size_t)r->n_rows * (size_t)ev->n_vocab, ev->logits,
               (size_t)ev->n_rows * (size_t)ev->n_vocab * sizeof(float));
        r->n_rows += ev->n_rows;
        r->n_vocab = ev->n_vocab;
        break;
    case ENG_EVENT_TRUNCATED:
        r->truncated_events++;
        r->n_dropped = ev->n_dropped;
        break;
    case ENG_EVENT_DONE:
        r->done++;
        r->stop = ev->stop;
        r->stop_id = ev->stop_id;
        r->tm = ev->timings;
        pthread_cond_signal(&r->cv);
        break;
    case ENG_EVENT_ERROR:
        r->errors++;
        snprintf(r->message, sizeof r->message, "%s", ev->message);
        pthread_cond_signal(&r->cv);
        break;
    }
    pthread_mutex_unlock(&r->mu);
    return ret;
}

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->ids_when_cancelled = -1;
}

static void rec_reset(struct rec *r)
{
    free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
    r->n_ids = 0;
    r->done = r->errors = r->truncated_events = 0;
    r->ids_when_cancelled = -1;
    r->cancel_after_first_tokens = 0;
    r->stop_after_ids = 0;
}

static void rec_wait(struct rec *r, int want)
{
    pthread_mutex_lock(&r->mu);
    while (r->done + r->errors < want)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static struct eng_model *g_model;

static struct eng_model *model(void)
{
    if (!g_model) {
        char *why = NULL;
        g_model =
            eng_model_load(tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"), &why);
        if (!g_model) fail_msg("%s", why);
    }
    return g_model;
}

static struct eng_session *session(int32_t n_ctx)
{
    struct eng_session_opts o = {.n_ctx = n_ctx, .kv_type = ENG_KV_F32};
    char *why = NULL;
    struct eng_session *s = eng_session_new(model(), &o, &why);
    if (!s) fail_msg("%s", why);
    return s;
}

/* [gMASK]<sop><|user|>\nhello<|assistant|> (the reference prompt1) */
static const int32_t PROMPT[] = {151331, 151333, 151336, 198, 14978, 151337};
#define N_PROMPT 6

static struct eng_request greedy_request(uint64_t id, struct eng_session *s, const int32_t *p,
                                         int32_t n, int32_t n_predict)
{
    struct eng_request r = {
        .id = id, .session = s, .prompt = p, .n_prompt = n, .n_predict = n_predict};
    eng_sampler_params_default(&r.sampling);
    r.sampling.temperature = 0;
    return r;
}

static int argmax(const float *l, int32_t n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static void test_generate_matches_direct(void **state)
{
    struct rec rec;
    rec_init(&rec);
    char *why = NULL;
    struct eng_engine *e = eng_engine_new(model(), sink, &rec, &why);
    assert_non_null(e);
    struct eng_session *s = session(256);
    struct eng_request r = greedy_request(1, s, PROMPT, N_PROMPT, 12);
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.errors, 0);
    assert_int_equal(rec.stop, ENG_STOP_LENGTH);
    assert_int_equal(rec.n_ids, 12);
    assert_int_equal(rec.tm.n_gen, 12);
    assert_int_equal(rec.tm.n_prefill, N_PROMPT);

    /* The same with a direct greedy loop on a fresh session. */
    struct eng_session *d = session(256);
    int32_t nv = eng_model_n_vocab(model());
    float *logits = malloc((size_t)nv * sizeof *logits);
    assert_int_equal(eng_session_eval(d, PROMPT, N_PROMPT, logits, false, NULL), 0);
    for (int i = 0; i < 12; i++) {
        int32_t id = argmax(logits, nv);
        assert_int_equal(id, rec.ids[i]);
        assert_int_equal(eng_session_eval(d, &id, 1, logits, false, NULL), 0);
    }
    free(logits);
    eng_session_free(d);
    eng_engine_free(e);
    eng_session_free(s);
    rec_reset(&rec);
}

static void test_cancel_within_one_token(void **state)
{
    struct rec rec;
    rec_init(&rec);
    struct eng_engine *e = eng_engine_new(model(), sink, &rec, NULL);
    rec.engine = e;
    rec.cancel_after_first_tokens = 1;
    struct eng_session *s = session(2048);
    struct eng_request r = greedy_request(7, s, PROMPT, N_PROMPT, -1);
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.stop, ENG_STOP_CANCELLED);
    /* Nothing was generated after the cancel was seen. */
    assert_int_equal(rec.n_ids, rec.ids_when_cancelled);
    assert_true(rec.tm.n_gen <= rec.n_ids + 1);

    /* A queued request cancelled before it runs ends at once. */
    rec_reset(&rec);
    eng_engine_cancel(e, 8);
    r.id = 8;
    r.n_predict = 5;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.stop, ENG_STOP_CANCELLED);
    assert_int_equal(rec.n_ids, 0);

    /* The engine still works afterwards. */
    rec_reset(&rec);
    r.id = 9;
    r.n_predict = 3;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.stop, ENG_STOP_LENGTH);
    assert_int_equal(rec.n_ids, 3);
    eng_engine_free(e);
    eng_session_free(s);
    rec_reset(&rec);
}

/* A second turn re-evaluates only the new tokens, and its logits equal a cold run's. */
static void test_prefix_reuse(void **state)
{
    struct rec rec;
    rec_init(&rec);
    struct eng_engine *e = eng_engine_new(model(), sink, &rec, NULL);
    struct eng_session *s = session(256);
    int32_t longer[N_PROMPT + 5];
    memcpy(longer, PROMPT, sizeof PROMPT);
    int32_t extra[] = {198, 9703, 11, 1879, 151336};
    memcpy(longer + N_PROMPT, extra, sizeof extra);

    struct eng_request r = greedy_request(1, s, PROMPT, N_PROMPT, 0);
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    rec_reset(&rec);
    r = greedy_request(2, s, longer, N_PROMPT + 5, 0);
    r.logits_all = true;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.tm.n_reused, N_PROMPT);
    assert_int_equal(rec.tm.n_prefill, 5);
    assert_int_equal(rec.n_rows, 5);
    float *warm = rec.rows;
    rec.rows = NULL;
    int32_t nv = rec.n_vocab;

    /* Cold: a fresh session evaluates all of it. */
    struct eng_session *cold = session(256);
    rec_reset(&rec);
    r.id = 3;
    r.session = cold;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.tm.n_reused, 0);
    assert_int_equal(rec.n_rows, N_PROMPT + 5);
    double maxd = 0;
    for (int32_t row = 0; row < 5; row++)
        for (int32_t i = 0; i < nv; i++) {
            double d =
                fabs(warm[(size_t)row * nv + i] - rec.rows[(size_t)(N_PROMPT + row) * nv + i]);
            if (d > maxd) maxd = d;
        }
    assert_true(maxd <= 1e-5);

    /* Editing the conversation (a different last turn) reuses only the common prefix. */
    rec_reset(&rec);
    longer[N_PROMPT + 1] = 14978;
    r.id = 4;
    r.session = s;
    r.logits_all = false;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.tm.n_reused, N_PROMPT + 1);
    assert_int_equal(rec.tm.n_prefill, 4);
    free(warm);
    eng_engine_free(e);
    eng_session_free(s);
    eng_session_free(cold);
    rec_reset(&rec);
}

static void test_truncation(void **state)
{
    struct rec rec;
    rec_init(&rec);
    struct eng_engine *e = eng_engine_new(model(), sink, &rec, NULL);
    struct eng_session *s = session(64);
    /* system block (10 tokens) then 6 turns of 12 tokens: 82 tokens > 64. */
    int32_t p[82], turns[6];
    for (int i = 0; i < 82; i++)
        p[i] = 100 + i;
    for (int t = 0; t < 6; t++) {
        turns[t] = 10 + 12 * t;
        p[turns[t]] = t % 2 ? 151337 : 151336;
    }
    struct eng_request r = greedy_request(1, s, p, 82, 8);
    r.n_keep = 10;
    r.turn_starts = turns;
    r.n_turn_starts = 6;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.errors, 0);
    assert_int_equal(rec.truncated_events, 1);
    /* 82 + 8 > 64: drop whole turns until 10 + rest + 8 <= 64: three turns (36 tokens). */
    assert_int_equal(rec.n_dropped, 36);
    assert_int_equal(rec.tm.n_prefill, 82 - 36);
    assert_int_equal(rec.n_ids, 8);

    /* Without turn boundaries it cannot fit: one ERROR event, no DONE. */
    rec_reset(&rec);
    r.id = 2;
    r.n_turn_starts = 0;
    r.turn_starts = NULL;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.errors, 1);
    assert_int_equal(rec.done, 0);
    assert_non_null(strstr(rec.message, "does not fit"));
    eng_engine_free(e);
    eng_session_free(s);
    rec_reset(&rec);
}

static void test_stops_and_errors(void **state)
{
    struct rec rec;
    rec_init(&rec);
    struct eng_engine *e = eng_engine_new(model(), sink, &rec, NULL);
    struct eng_session *s = session(256);
    /* Learn the greedy continuation, then make its 3rd token a stop id. */
    struct eng_request r = greedy_request(1, s, PROMPT, N_PROMPT, 6);
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    int32_t third = rec.ids[2];
    int k = 0;
    while (rec.ids[k] != third)
        k++; /* the first occurrence stops it */
    rec_reset(&rec);
    r.id = 2;
    r.stop_ids = &third;
    r.n_stop_ids = 1;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.stop, ENG_STOP_EOS);
    assert_int_equal(rec.stop_id, third);
    assert_int_equal(rec.n_ids, k);

    /* The sink can end a request. */
    rec_reset(&rec);
    rec.stop_after_ids = 1;
    r.id = 3;
    r.n_stop_ids = 0;
    r.n_predict = 200;
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.stop, ENG_STOP_SINK);
    assert_true(rec.n_ids < 200);

    /* An id outside the vocabulary is an ERROR event naming it. */
    rec_reset(&rec);
    int32_t bad[] = {151331, 999999};
    r = greedy_request(4, s, bad, 2, 3);
    assert_int_equal(eng_engine_submit(e, &r, NULL), 0);
    rec_wait(&rec, 1);
    assert_int_equal(rec.errors, 1);
    assert_non_null(strstr(rec.message, "999999"));
    /* Bad requests are refused at submit. */
    r.id = 0;
    char *why = NULL;
    assert_int_not_equal(eng_engine_submit(e, &r, &why), 0);
    assert_non_null(why);
    free(why);
    eng_engine_free(e);
    eng_session_free(s);
    rec_reset(&rec);
}

static int teardown(void **state)
{
    eng_model_free(g_model);
    g_model = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_matches_direct),
        cmocka_unit_test(test_cancel_within_one_token),
        cmocka_unit_test(test_prefix_reuse),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_stops_and_errors),
    };
    return cmocka_run_group_tests_name("engine thread", tests, NULL, teardown);
}
