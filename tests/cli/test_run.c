/* `glmterm run` and `glmterm perplexity` driven as a user drives them (the real binary, real
 * fixture models): greedy ids equal the references for every fixture model, --dump-logits rows
 * match the exact-arithmetic references, the chat template / --raw / --prompt-ids paths give the
 * same prompt, --prefill, -n 0, seeds, perplexity against an independent computation from
 * dumped logits, and one-line errors with the documented exit statuses. */
#include "test_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
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

static cJSON *load_ref(const char *rel)
{
    size_t len;
    char *text = tu_read_file(tu_shared(rel), &len);
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(j);
    return j;
}

static void ids_string(const cJSON *arr, char *out, size_t cap)
{
    out[0] = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%d", l ? " " : "", it->valueint);
    }
}

struct model_case {
    const char *model;     /* relative to shared/ */
    const char *reference; /* greedy + logits reference */
    double tol;            /* max |Δlogit| */
};

static const struct model_case CASES[] = {
    {"fixtures/models/glm4-tiny64/hf", "fixtures/models/glm4-tiny64/reference/HF-fp32-prompt1.json",
     1e-4},
    {"fixtures/models/glm4-0414-tiny64/hf",
     "fixtures/models/glm4-0414-tiny64/reference/HF-fp32-prompt2.json", 1e-4},
    {"fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf",
     "fixtures/models/glm4-tiny64/reference/F16-prompt2.json", 2e-3},
    {"fixtures/models/glm4-tiny64/glm4-tiny64-Q4_0.gguf",
     "fixtures/models/glm4-tiny64/reference/Q4_0-prompt1.json", 5e-2},
    {"fixtures/models/glm4-0414-tiny64/glm4-0414-tiny64-Q4_0.gguf",
     "fixtures/models/glm4-0414-tiny64/reference/Q4_0-prompt1.json", 5e-2},
};

/* Greedy generation through the CLI reproduces the reference where its top-2 gap is clear;
 * on these fixtures that is every token of the first 16 for HF and F16. */
static void test_greedy_and_dump(void **state)
{
    char cmd[20000], ids[4096], all[4096];
    int total_rows = 0, total_agree = 0;
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        char model[1024];
        snprintf(model, sizeof model, "%s", tu_shared(CASES[c].model));
        cJSON *ref = load_ref(CASES[c].reference);
        const cJSON *prompt = cJSON_GetObjectItem(ref, "prompt_ids");
        const cJSON *greedy = cJSON_GetObjectItem(ref, "greedy_ids");
        const cJSON *rows = cJSON_GetObjectItem(ref, "rows");
        int n_greedy = cJSON_GetArraySize(greedy);
        ids_string(prompt, ids, sizeof ids);

        /* Logits of prompt + greedy continuation, one row per position. */
        char both[8200];
        ids_string(greedy, all, sizeof all);
        snprintf(both, sizeof both, "%s %s", ids, all);
        const char *dump = tu_write_temp(3, "", 0);
        snprintf(cmd, sizeof cmd,
                 "'%s' run -m '%s' --prompt-ids '%s' -n 0 --kv-type f32 "
                 "--dump-logits '%s'",
                 bin(), model, both, dump);
        assert_int_equal(sh(cmd, NULL), 0);
        size_t len;
        char *raw = tu_read_file(dump, &len);
        int n_rows = cJSON_GetArraySize(rows);
        const size_t nv = 151552;
        assert_int_equal(len, (size_t)n_rows * nv * sizeof(float));
        const float *lg = (const float *)raw;
        double maxd = 0;
        int agree = 0;
        double worst_gap = 0; /* the largest reference top-2 gap among disagreeing rows */
        for (int r = 0; r < n_rows; r++) {
            const cJSON *row = cJSON_GetArrayItem(rows, r);
            const cJSON *top = cJSON_GetObjectItem(row, "top");
            const cJSON *e;
            cJSON_ArrayForEach(e, top)
            {
                int id = cJSON_GetArrayItem(e, 0)->valueint;
                double want = cJSON_GetArrayItem(e, 1)->valuedouble;
                double d = fabs(lg[(size_t)r * nv + (size_t)id] - want);
                if (d > maxd) maxd = d;
            }
            size_t best = 0;
            for (size_t i = 1; i < nv; i++)
                if (lg[(size_t)r * nv + i] > lg[(size_t)r * nv + best]) best = i;
            if ((int)best == cJSON_GetArrayItem(cJSON_GetArrayItem(top, 0), 0)->valueint) {
                agree++;
            } else {
                double gap = cJSON_GetArrayItem(cJSON_GetArrayItem(top, 0), 1)->valuedouble -
                             cJSON_GetArrayItem(cJSON_GetArrayItem(top, 1), 1)->valuedouble;
                if (gap > worst_gap) worst_gap = gap;
            }
        }
        printf("%s: max |dlogit| %.3g over %d rows, argmax agrees on %d\n", CASES[c].model, maxd,
               n_rows, agree);
        if (maxd > CASES[c].tol)
            fail_msg("%s: max |dlogit| %g > %g", CASES[c].model, maxd, CASES[c].tol);
        /* A different argmax is only acceptable where the reference itself is a near tie. */
        if (worst_gap > 2 * maxd)
            fail_msg("%s: argmax differs where the reference's top-2 gap is %g", CASES[c].model,
                     worst_gap);
        total_rows += n_rows;
        total_agree += agree;
        free(raw);

        /* Greedy ids through the CLI equal the reference's (HF and F16: exact arithmetic). */
        if (CASES[c].tol <= 2e-3) {
            char *out;
            snprintf(cmd, sizeof cmd,
                     "'%s' run -m '%s' --prompt-ids '%s' -n %d --temp 0 --ids "
                     "--kv-type f32",
                     bin(), model, ids, n_greedy);
            assert_int_equal(sh(cmd, &out), 0);
            out[strcspn(out, "\n")] = 0;
            if (strcmp(out, all) != 0) fail_msg("%s: greedy %s, want %s", CASES[c].model, out, all);
            free(out);
        }
        cJSON_Delete(ref);
    }
    /* Over all references, the argmax agrees on at least 95% of rows. */
    printf("argmax agrees on %d of %d rows\n", total_agree, total_rows);
    assert_true(total_agree * 100 >= 95 * total_rows);
}

/* The chat template, --raw with special-token text and --prompt-ids give the same prompt. */
static void test_prompt_paths_agree(void **state)
{
    char cmd[4096], model[1024];
    snprintf(model, sizeof model, "%s",
             tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"));
    char *a, *b, *c;
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -p hello -n 8 --temp 0 --ids", bin(), model);
    assert_int_equal(sh(cmd, &a), 0);
    snprintf(cmd, sizeof cmd,
             "printf '[gMASK]<sop><|user|>\\nhello<|assistant|>' | '%s' run -m '%s' --raw -n 8 "
             "--temp 0 --ids",
             bin(), model);
    assert_int_equal(sh(cmd, &b), 0);
    snprintf(cmd, sizeof cmd,
             "'%s' run -m '%s' --prompt-ids '151331 151333 151336 198 14978 151337' -n 8 "
             "--temp 0 --ids",
             bin(), model);
    assert_int_equal(sh(cmd, &c), 0);
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    assert_int_equal(strlen(a) > 8, 1);
    free(a);
    free(b);
    free(c);

    /* --stop: the reply ends before the first occurrence of the stop string. */
    char *full;
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -p hello -n 16 --temp 0", bin(), model);
    assert_int_equal(sh(cmd, &full), 0);
    size_t k = 4, fl = strlen(full);
    while (k + 1 < fl && !((unsigned char)full[k] < 0x80 && full[k] != '\n' &&
                           (unsigned char)full[k + 1] < 0x80 && full[k + 1] != '\n' &&
                           full[k] != '\'' && full[k + 1] != '\''))
        k++;
    if (k + 1 < fl) {
        char stop[3] = {full[k], full[k + 1], 0};
        size_t at = (size_t)(strstr(full, stop) - full);
        char *cut;
        snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -p hello -n 16 --temp 0 --stop '%s'", bin(),
                 model, stop);
        assert_int_equal(sh(cmd, &cut), 0);
        if (strlen(cut) != at + 1 || strncmp(cut, full, at) != 0 || cut[at] != '\n')
            fail_msg("--stop '%s': got '%s' from '%s'", stop, cut, full);
        free(cut);
    }
    free(full);

    /* -n 0 prints nothing; --prefill text starts the reply; seeds reproduce. */
    char *out;
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -p hi -n 0", bin(), model);
    assert_int_equal(sh(cmd, &out), 0);
    assert_string_equal(out, "");
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -p hi -n 4 --prefill 'get_weather' --seed 3", bin(),
             model);
    assert_int_equal(sh(cmd, &out), 0);
    assert_true(strncmp(out, "get_weather", 11) == 0);
    free(out);
    char *s1, *s2;
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -p hi -n 24 --temp 1.0 --top-p 1 --seed 77 --ids",
             bin(), model);
    assert_int_equal(sh(cmd, &s1), 0);
    assert_int_equal(sh(cmd, &s2), 0);
    assert_string_equal(s1, s2);
    free(s1);
    free(s2);
}

/* perplexity equals exp(mean NLL) computed here from dumped logits of the same chunks. */
static void test_perplexity(void **state)
{
    char cmd[65536], model[1024];
    snprintf(model, sizeof model, "%s",
             tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"));
    /* A text of a few hundred tokens. */
    char text[8192] = "";
    for (int i = 0; i < 40; i++)
        strcat(text, "The quick brown fox jumps over the lazy dog. 敏捷的棕色狐狸。 ");
    const char *file = tu_write_temp(4, text, strlen(text));
    char *ids_out;
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' < '%s'", bin(), model, file);
    assert_int_equal(sh(cmd, &ids_out), 0);
    int32_t ids[4096];
    int n = 0;
    for (char *p = ids_out, *end; *p && n < 4096; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p) break;
        ids[n++] = (int32_t)v;
    }
    free(ids_out);
    const int ctx = 64;
    int chunks = n / ctx;
    assert_true(chunks >= 2);
    double nll = 0;
    long count = 0;
    const size_t nv = 151552;
    for (int ch = 0; ch < chunks; ch++) {
        char list[4096] = "";
        for (int i = 0; i < ctx; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%d", i ? " " : "", ids[ch * ctx + i]);
        }
        const char *dump = tu_write_temp(5, "", 0);
        snprintf(cmd, sizeof cmd,
                 "'%s' run -m '%s' --prompt-ids '%s' -n 0 -c %d "
                 "--dump-logits '%s'",
                 bin(), model, list, ctx, dump);
        assert_int_equal(sh(cmd, NULL), 0);
        size_t len;
        char *raw = tu_read_file(dump, &len);
        assert_int_equal(len, (size_t)ctx * nv * sizeof(float));
        const float *lg = (const float *)raw;
        for (int j = ctx / 2; j < ctx - 1; j++) {
            const float *row = lg + (size_t)j * nv;
            double mx = row[0], sum = 0;
            for (size_t k = 1; k < nv; k++)
                mx = row[k] > mx ? row[k] : mx;
            for (size_t k = 0; k < nv; k++)
                sum += exp(row[k] - mx);
            nll -= row[ids[ch * ctx + j + 1]] - mx - log(sum);
            count++;
        }
        free(raw);
    }
    double want = exp(nll / (double)count);
    char *out;
    snprintf(cmd, sizeof cmd, "'%s' perplexity -m '%s' -f '%s' -c %d 2>/dev/null", bin(), model,
             file, ctx);
    assert_int_equal(sh(cmd, &out), 0);
    double got = 0;
    assert_int_equal(sscanf(out, "perplexity: %lf", &got), 1);
    printf("perplexity %.4f (independent: %.4f)\n", got, want);
    assert_true(fabs(got - want) <= 1e-3 * want);
    free(out);
}

/* Errors: one stderr line "glmterm: ...", exit 1 (runtime) or 2 (usage). */
static void expect(const char *args, int status, const char *pattern)
{
    char cmd[4096], *err;
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1 >/dev/null", bin(), args);
    int st = sh(cmd, &err);
    if (st != status || !strstr(err, pattern) || strncmp(err, "glmterm: ", 9) != 0 ||
        strchr(err, '\n') != err + strlen(err) - 1)
        fail_msg("`glmterm %s`: exit %d (want %d), stderr: %s", args, st, status, err);
    free(err);
}

static void test_errors(void **state)
{
    char args[4096], model[1024];
    snprintf(model, sizeof model, "%s",
             tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"));
    expect("run -p hi", 2, "-m MODEL is required");
    expect("run -m /nonexistent.gguf -p hi", 1, "/nonexistent.gguf");
    snprintf(args, sizeof args, "run -m '%s' -p hi -n abc", model);
    expect(args, 2, "-n");
    snprintf(args, sizeof args, "run -m '%s' -p hi --kv-type f8", model);
    expect(args, 2, "--kv-type");
    snprintf(args, sizeof args, "run -m '%s' -p hi --tools python", model);
    expect(args, 2, "not built yet");
    snprintf(args, sizeof args, "run -m '%s' --prompt-ids '1 2 x'", model);
    expect(args, 2, "--prompt-ids");
    snprintf(args, sizeof args, "run -m '%s' --prompt-ids '151331 999999' -n 1", model);
    expect(args, 1, "999999");
    snprintf(args, sizeof args, "run -m '%s' -p hi -c 4", model);
    expect(args, 1, "does not fit");
    /* A truncated copy of the model. */
    size_t len;
    char *raw = tu_read_file(model, &len);
    const char *cut = tu_write_temp(6, raw, len / 2);
    free(raw);
    snprintf(args, sizeof args, "run -m '%s' -p hi", cut);
    expect(args, 1, "past end of file");
    /* A context whose KV cache does not fit in memory is refused before allocating. */
    char cmd[4096], *err;
    snprintf(cmd, sizeof cmd, "GLMTERM_MEM_AVAILABLE=100000 '%s' run -m '%s' -p hi -c 2048 2>&1",
             bin(), model);
    assert_int_equal(sh(cmd, &err), 1);
    if (!strstr(err, "KV cache") || !strstr(err, "2048")) fail_msg("memory check: %s", err);
    free(err);
    snprintf(args, sizeof args, "perplexity -m '%s' -f /nonexistent.txt", model);
    expect(args, 1, "/nonexistent.txt");
    snprintf(args, sizeof args, "perplexity -m '%s'", model);
    expect(args, 2, "-f FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_and_dump),
        cmocka_unit_test(test_prompt_paths_agree),
        cmocka_unit_test(test_perplexity),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("run cli", tests, NULL, NULL);
}
