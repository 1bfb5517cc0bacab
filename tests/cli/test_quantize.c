/* `glmterm quantize` driven as a user drives it (the real binary, real fixtures):
 *   - the F16 fixture GGUF to Q4_0 is, byte for byte, the Q4_0 fixture llama-quantize made
 *     (same keys, tensor order, types and data), with one progress line per tensor on stderr,
 *     and `glmterm run` on it gives the greedy ids it gives on the fixture;
 *   - the HF directory to F16 runs to the HF reference's greedy ids (BF16 -> F16 is exact here);
 *     to Q8_0 its logits stay within Q8_0's error of the HF reference, argmax agreeing wherever
 *     the reference is not a near tie;
 *   - usage errors exit 2, runtime errors 1, each with one line on stderr.
 * (The tensor-by-tensor comparison with eng_gguf_open, and HF -> F16 against the F16 fixture,
 * are in tests/engine/test_quantize.c; this program links no engine code.) */
#include "test_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROMPT "151331 151333 151336 198 14978 151337"

static const char *bin(void)
{
    const char *b = getenv("GLMTERM_BIN");
    if (!b) fail_msg("GLMTERM_BIN not set");
    return b;
}

/* Runs a shell command; returns its exit status and (when out != NULL) its stdout. */
static int sh(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "/tmp/glmterm-cli-quantize-%d-%s", (int)getpid(), name);
    return p;
}

static char *greedy(const char *model, int n)
{
    char cmd[4096], *out;
    snprintf(cmd, sizeof cmd,
             "'%s' run -m '%s' --prompt-ids '" PROMPT "' -n %d --temp 0 --ids --kv-type f32", bin(),
             model, n);
    assert_int_equal(sh(cmd, &out), 0);
    out[strcspn(out, "\n")] = 0;
    return out;
}

static void test_f16_to_q4_0(void **state)
{
    char f16[1024], ref[1024], cmd[4096];
    snprintf(f16, sizeof f16, "%s", tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"));
    snprintf(ref, sizeof ref, "%s", tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-Q4_0.gguf"));
    const char *out = tmp_path("q4_0.gguf"), *err = tmp_path("q4_0.err");
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s' Q4_0 2>'%s'", bin(), f16, out, err);
    assert_int_equal(sh(cmd, NULL), 0);

    size_t la, lb, le;
    char *a = tu_read_file(out, &la), *b = tu_read_file(ref, &lb), *e = tu_read_file(err, &le);
    assert_int_equal(la, lb);
    assert_true(memcmp(a, b, la) == 0); /* keys, tensor infos, order, alignment and data */
    /* One progress line per tensor, in file order, with types and shape. */
    size_t n_lines = 0;
    for (size_t i = 0; i < le; i++)
        n_lines += e[i] == '\n';
    assert_int_equal(n_lines, 17);
    assert_non_null(strstr(e, "[  1/ 17] output.weight"));
    assert_non_null(strstr(e, "f16 -> q8_0  64 x 151552"));
    assert_non_null(strstr(e, "[ 10/ 17] blk.0.ffn_up.weight"));
    assert_non_null(strstr(e, "f16 -> q4_0  64 x 320"));
    free(a);
    free(b);
    free(e);

    char *x = greedy(out, 16), *y = greedy(ref, 16);
    assert_string_equal(x, y);
    free(x);
    free(y);
    unlink(out);
    unlink(err);
}

static void test_hf(void **state)
{
    char hf[1024], cmd[8192];
    snprintf(hf, sizeof hf, "%s", tu_shared("fixtures/models/glm4-tiny64/hf"));
    size_t len;
    char *text =
        tu_read_file(tu_shared("fixtures/models/glm4-tiny64/reference/HF-fp32-prompt1.json"), &len);
    cJSON *refj = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(refj);
    const cJSON *g = cJSON_GetObjectItem(refj, "greedy_ids"), *it;
    char want[4096] = "";
    cJSON_ArrayForEach(it, g)
    {
        size_t l = strlen(want);
        snprintf(want + l, sizeof want - l, "%s%d", l ? " " : "", it->valueint);
    }

    /* F16: exact for these BF16 weights, so greedy equals the fp32 reference. */
    const char *f16 = tmp_path("hf-f16.gguf");
    snprintf(cmd, sizeof cmd, "'%s' quantize -q '%s' '%s' F16", bin(), hf, f16);
    assert_int_equal(sh(cmd, NULL), 0);
    char *got = greedy(f16, cJSON_GetArraySize(g));
    assert_string_equal(got, want);
    free(got);
    unlink(f16);

    /* Q8_0: logits of prompt + reference continuation within Q8_0's error. */
    const char *q8 = tmp_path("hf-q8_0.gguf"), *dump = tmp_path("hf-q8_0.logits");
    snprintf(cmd, sizeof cmd, "'%s' quantize -q '%s' '%s' Q8_0", bin(), hf, q8);
    assert_int_equal(sh(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd,
             "'%s' run -m '%s' --prompt-ids '" PROMPT " %s' -n 0 --kv-type f32 --dump-logits '%s'",
             bin(), q8, want, dump);
    assert_int_equal(sh(cmd, NULL), 0);
    char *raw = tu_read_file(dump, &len);
    const cJSON *rows = cJSON_GetObjectItem(refj, "rows");
    const size_t nv = 151552;
    const int n_rows = cJSON_GetArraySize(rows);
    assert_int_equal(len, (size_t)n_rows * nv * sizeof(float));
    const float *lg = (const float *)raw;
    double maxd = 0, worst_gap = 0;
    for (int r = 0; r < n_rows; r++) {
        const cJSON *top = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, r), "top"), *e;
        cJSON_ArrayForEach(e, top)
        {
            double d = fabs(lg[(size_t)r * nv + (size_t)cJSON_GetArrayItem(e, 0)->valueint] -
                            cJSON_GetArrayItem(e, 1)->valuedouble);
            if (d > maxd) maxd = d;
        }
        size_t best = 0;
        for (size_t i = 1; i < nv; i++)
            if (lg[(size_t)r * nv + i] > lg[(size_t)r * nv + best]) best = i;
        const cJSON *t0 = cJSON_GetArrayItem(top, 0), *t1 = cJSON_GetArrayItem(top, 1);
        if ((int)best != cJSON_GetArrayItem(t0, 0)->valueint) {
            double gap =
                cJSON_GetArrayItem(t0, 1)->valuedouble - cJSON_GetArrayItem(t1, 1)->valuedouble;
            if (gap > worst_gap) worst_gap = gap;
        }
    }
    printf("HF -> Q8_0: max |dlogit| %.3g over %d rows\n", maxd, n_rows);
    /* 8-bit weights, and 8-bit activations as llama.cpp pairs with Q8_0 (README: a few 1e-2) */
    assert_true(maxd < 5e-2);
    assert_true(worst_gap <= 2 * maxd);
    free(raw);
    cJSON_Delete(refj);
    unlink(q8);
    unlink(dump);
}

static void test_errors(void **state)
{
    char cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "'%s' quantize --help", bin());
    assert_int_equal(sh(cmd, &out), 0);
    assert_non_null(strstr(out, "usage: glmterm quantize IN OUT TYPE"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' quantize a b 2>&1", bin());
    assert_int_equal(sh(cmd, &out), 2);
    assert_non_null(strstr(out, "glmterm: quantize:"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' quantize a b Q3_K_M 2>&1", bin());
    assert_int_equal(sh(cmd, &out), 2);
    assert_non_null(strstr(out, "unknown type"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' quantize /nonexistent.gguf '%s' Q4_0 2>&1", bin(),
             tmp_path("never.gguf"));
    assert_int_equal(sh(cmd, &out), 1);
    assert_non_null(strstr(out, "glmterm: quantize: /nonexistent.gguf"));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_to_q4_0),
        cmocka_unit_test(test_hf),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
