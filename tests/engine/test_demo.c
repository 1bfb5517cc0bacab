/* The GGUF writer round-trips through the reader, and the built-in demo model is
 * deterministic, loads, and writes printable text that ends. */
#include "test_util.h"
#include "engine/eng_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_writer_round_trip(void **state)
{
    struct eng_gguf_writer *w = eng_gguf_writer_new();
    eng_gguf_writer_str(w, "general.architecture", "chatglm");
    eng_gguf_writer_u32(w, "x.u32", 123456);
    eng_gguf_writer_f32(w, "x.f32", 0.25f);
    eng_gguf_writer_bool(w, "x.bool", true);
    const char *strs[] = {"a", "bc", ""};
    eng_gguf_writer_arr_str(w, "x.strs", strs, NULL, 3);
    int32_t ints[] = {-1, 0, 7};
    eng_gguf_writer_arr_i32(w, "x.ints", ints, 3);
    float t1[32 * 3];
    for (int i = 0; i < 96; i++)
        t1[i] = (float)i * 0.5f;
    int64_t ne1[2] = {32, 3};
    assert_int_equal(eng_gguf_writer_tensor(w, "t1", ENG_TYPE_F32, 2, ne1, t1), 0);
    uint8_t q[34 * 2];
    memset(q, 7, sizeof q);
    int64_t ne2[1] = {64};
    assert_int_equal(eng_gguf_writer_tensor(w, "t2", ENG_TYPE_Q8_0, 1, ne2, q), 0);
    int64_t bad[1] = {33};
    assert_int_not_equal(eng_gguf_writer_tensor(w, "t3", ENG_TYPE_Q8_0, 1, bad, q), 0);
    const char *path = tu_write_temp(0, "", 0);
    char *why = NULL;
    assert_int_equal(eng_gguf_writer_write(w, path, &why), 0);
    eng_gguf_writer_free(w);

    struct eng_gguf *g = eng_gguf_open(path, &why);
    if (!g) fail_msg("%s", why);
    uint32_t u;
    float f;
    bool b;
    const char *s;
    size_t len;
    assert_int_equal(eng_gguf_get_u32(g, "x.u32", &u), 0);
    assert_int_equal(u, 123456);
    assert_int_equal(eng_gguf_get_f32(g, "x.f32", &f), 0);
    assert_true(f == 0.25f);
    assert_int_equal(eng_gguf_get_bool(g, "x.bool", &b), 0);
    assert_true(b);
    assert_int_equal(eng_gguf_get_str(g, "general.architecture", &s, &len), 0);
    assert_int_equal(len, 7);
    int64_t k = eng_gguf_find_key(g, "x.strs");
    assert_int_equal(eng_gguf_arr_str(g, k, 1, &s, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "bc", 2);
    int64_t v;
    assert_int_equal(eng_gguf_arr_int(g, eng_gguf_find_key(g, "x.ints"), 0, &v), 0);
    assert_int_equal(v, -1);
    const struct eng_gguf_tensor *t = eng_gguf_tensor_find(g, "t1");
    assert_non_null(t);
    assert_int_equal(t->ne[1], 3);
    assert_memory_equal(t->data, t1, sizeof t1);
    t = eng_gguf_tensor_find(g, "t2");
    assert_non_null(t);
    assert_int_equal(t->nbytes, 68);
    assert_memory_equal(t->data, q, sizeof q);
    assert_null(eng_gguf_tensor_find(g, "t3"));
    eng_gguf_close(g);
    /* An unwritable path is an error naming it. */
    w = eng_gguf_writer_new();
    assert_int_not_equal(eng_gguf_writer_write(w, "/nonexistent/dir/x.gguf", &why), 0);
    assert_non_null(strstr(why, "/nonexistent/dir/x.gguf"));
    free(why);
    eng_gguf_writer_free(w);
}

static void test_demo_model(void **state)
{
    char *why = NULL;
    const char *a = tu_write_temp(1, "", 0);
    const char *b = tu_write_temp(2, "", 0);
    assert_int_equal(eng_demo_write(a, &why), 0);
    assert_int_equal(eng_demo_write(b, &why), 0);
    size_t la, lb;
    char *da = tu_read_file(a, &la), *db = tu_read_file(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la); /* deterministic */
    free(da);
    free(db);

    struct eng_model *m = eng_model_load(a, &why);
    if (!m) fail_msg("%s", why);
    assert_string_equal(eng_model_arch(m), "chatglm");
    struct eng_session_opts o = {.n_ctx = 512};
    struct eng_session *s = eng_session_new(m, &o, &why);
    assert_non_null(s);
    struct eng_sampler_params p;
    eng_sampler_params_default(&p);
    p.seed = 5;
    struct eng_sampler *smp = eng_sampler_new(&p, eng_model_n_vocab(m), NULL);
    float *logits = malloc((size_t)eng_model_n_vocab(m) * sizeof *logits);
    /* [gMASK]<sop><|user|>\nhi<|assistant|> in the demo's byte vocabulary */
    int32_t prompt[] = {151331, 151333, 151336, '\n', 'h', 'i', 151337};
    assert_int_equal(eng_session_eval(s, prompt, 7, logits, false, NULL), 0);
    int stops = 0, printable = 0;
    for (int i = 0; i < 400 && eng_session_n_past(s) < 500; i++) {
        int32_t id = eng_sampler_sample(smp, logits);
        if (id == 151336) {
            stops++;
            eng_session_truncate(s, 7);
            assert_int_equal(eng_session_eval(s, prompt + 6, 0, NULL, false, NULL), 0);
            eng_session_truncate(s, 6);
            assert_int_equal(eng_session_eval(s, prompt + 6, 1, logits, false, NULL), 0);
            continue;
        }
        assert_true((id >= 32 && id <= 126) || id == '\n');
        printable++;
        assert_int_equal(eng_session_eval(s, &id, 1, logits, false, NULL), 0);
    }
    printf("demo: %d printable tokens, %d replies ended\n", printable, stops);
    assert_true(stops >= 1);
    free(logits);
    eng_sampler_free(smp);
    eng_session_free(s);
    eng_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_demo_model),
    };
    return cmocka_run_group_tests_name("gguf writer and demo model", tests, NULL, NULL);
}
