/* config.json: the defaults when the file is missing, a full valid file, and every kind of
 * invalid field reported as "FILE: JSON.PATH: what". Each test has its own XDG_CONFIG_HOME. */
#include "test_util.h"
#include "app/config_int.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char g_home[256];
static char g_file[512];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    snprintf(g_home, sizeof g_home, "/tmp/glmterm-cfg-XXXXXX");
    if (!mkdtemp(g_home)) return -1;
    setenv("XDG_CONFIG_HOME", g_home, 1);
    snprintf(g_file, sizeof g_file, "%s/glmterm/config.json", g_home);
    return 0;
}

static int teardown(void **state)
{
    nftw(g_home, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void write_config(const char *text)
{
    char d[512];
    snprintf(d, sizeof d, "%s/glmterm", g_home);
    mkdir(d, 0700);
    FILE *f = fopen(g_file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void test_defaults_when_missing(void **state)
{
    struct app_config cfg;
    char *why = NULL;
    app_config_init(&cfg);
    assert_int_equal(app_config_load(&cfg, NULL, &why), 0);
    assert_false(cfg.from_file);
    assert_string_equal(cfg.path, g_file);
    assert_int_equal(cfg.n_profiles, 0);
    assert_null(cfg.default_profile);
    assert_string_equal(cfg.theme, "default-dark");
    assert_int_equal(cfg.send_key, APP_SEND_ENTER);
    assert_null(cfg.tools);
    app_config_done(&cfg);

    /* HOME is the fallback without XDG_CONFIG_HOME (and a relative one is ignored) */
    setenv("XDG_CONFIG_HOME", "relative/dir", 1);
    char *p = app_config_default_path(&why);
    char want[512];
    snprintf(want, sizeof want, "%s/.config/glmterm/config.json", getenv("HOME"));
    assert_string_equal(p, want);
    free(p);
    setenv("XDG_CONFIG_HOME", g_home, 1);

    /* a file named with --config must exist */
    app_config_init(&cfg);
    assert_int_equal(app_config_load(&cfg, "/nonexistent/glmterm.json", &why), -1);
    assert_string_equal(why, "/nonexistent/glmterm.json: No such file or directory");
    free(why);
    assert_string_equal(cfg.theme, "default-dark");
    app_config_done(&cfg);
}

static void test_full_config(void **state)
{
    write_config(
        "{\n"
        "  \"default_profile\": \"fast\",\n"
        "  \"profiles\": {\n"
        "    \"fast\": {\"type\": \"local\", \"model\": \"/models/glm4-Q4_K_M.gguf\",\n"
        "             \"threads\": 8, \"ctx\": 8192, \"kv_type\": \"f32\",\n"
        "             \"sampling\": {\"temperature\": 0.6, \"top_p\": 0.9, \"top_k\": 40,\n"
        "                          \"min_p\": 0.05, \"repeat_penalty\": 1.1, \"seed\": 42}},\n"
        "    \"plain\": {\"type\": \"local\", \"model\": \"/models/hf\"},\n"
        "    \"zhipu\": {\"type\": \"remote\", \"base_url\": \"https://open.bigmodel.cn/"
        "api/paas/v4\",\n"
        "              \"model\": \"glm-4-plus\", \"api_key_env\": \"ZHIPUAI_API_KEY\"}\n"
        "  },\n"
        "  \"theme\": \"solarized-dark\",\n"
        "  \"keys\": {\"send\": \"alt-enter\"},\n"
        "  \"tools\": {\"enabled\": [\"python\"], \"anything\": {\"goes\": 1}}\n"
        "}\n");
    struct app_config cfg;
    char *why = NULL;
    app_config_init(&cfg);
    if (app_config_load(&cfg, NULL, &why) != 0) fail_msg("%s", why);
    assert_true(cfg.from_file);
    assert_string_equal(cfg.default_profile, "fast");
    assert_int_equal(cfg.n_profiles, 3);
    const struct app_profile *p = app_config_profile(&cfg, "fast");
    assert_non_null(p);
    assert_int_equal(p->type, APP_PROFILE_LOCAL);
    assert_string_equal(p->model, "/models/glm4-Q4_K_M.gguf");
    assert_int_equal(p->threads, 8);
    assert_int_equal(p->ctx, 8192);
    assert_int_equal(p->kv_type, APP_KV_F32);
    assert_true(p->sampling.temperature == 0.6);
    assert_true(p->sampling.top_p == 0.9);
    assert_int_equal(p->sampling.top_k, 40);
    assert_true(p->sampling.min_p == 0.05);
    assert_true(p->sampling.repeat_penalty == 1.1);
    assert_true(p->sampling.has_seed);
    assert_int_equal(p->sampling.seed, 42);
    p = app_config_profile(&cfg, "plain");
    assert_int_equal(p->threads, 0);
    assert_int_equal(p->ctx, 0);
    assert_int_equal(p->kv_type, APP_KV_F16);
    assert_true(p->sampling.temperature == 0.8); /* GLM-4 generation_config.json */
    assert_true(p->sampling.top_p == 0.8);
    assert_false(p->sampling.has_seed);
    p = app_config_profile(&cfg, "zhipu");
    assert_int_equal(p->type, APP_PROFILE_REMOTE);
    assert_string_equal(p->base_url, "https://open.bigmodel.cn/api/paas/v4");
    assert_string_equal(p->model, "glm-4-plus");
    assert_string_equal(p->api_key_env, "ZHIPUAI_API_KEY");
    assert_null(app_config_profile(&cfg, "nope"));
    assert_string_equal(cfg.theme, "solarized-dark");
    assert_int_equal(cfg.send_key, APP_SEND_ALT_ENTER);
    assert_non_null(cJSON_GetObjectItem(cfg.tools, "anything"));
    app_config_done(&cfg);

    /* the same file through an explicit path; an empty object is all defaults */
    write_config("{}");
    app_config_init(&cfg);
    assert_int_equal(app_config_load(&cfg, g_file, &why), 0);
    assert_true(cfg.from_file);
    assert_int_equal(cfg.n_profiles, 0);
    app_config_done(&cfg);
}

struct bad_case {
    const char *json;
    const char *want; /* after "FILE: " */
};

#define LOCAL(extra)                                                                               \
    "{\"profiles\": {\"fast\": {\"type\": \"local\", \"model\": \"m.gguf\"" extra "}}}"
#define REMOTE(extra)                                                                              \
    "{\"profiles\": {\"z\": {\"type\": \"remote\", \"model\": \"glm-4-plus\"" extra "}}}"
#define URL ", \"base_url\": \"https://x\""

static const struct bad_case BAD[] = {
    {LOCAL(", \"ctx\": 0"), "profiles.fast.ctx: expected a positive integer"},
    {LOCAL(", \"ctx\": \"big\""), "profiles.fast.ctx: expected a positive integer"},
    {LOCAL(", \"ctx\": 1.5"), "profiles.fast.ctx: expected a positive integer"},
    {LOCAL(", \"ctx\": 100000000"), "profiles.fast.ctx: expected a positive integer up to"},
    {LOCAL(", \"threads\": -1"), "profiles.fast.threads: expected a positive integer"},
    {LOCAL(", \"kv_type\": \"q8_0\""), "profiles.fast.kv_type: expected \"f16\" or \"f32\""},
    {"{\"profiles\": {\"fast\": {\"type\": \"local\", \"model\": 3}}}",
     "profiles.fast.model: expected a string"},
    {"{\"profiles\": {\"fast\": {\"type\": \"local\", \"model\": \"\"}}}",
     "profiles.fast.model: expected a non-empty string"},
    {LOCAL(", \"sampling\": 1"), "profiles.fast.sampling: expected an object"},
    {LOCAL(", \"sampling\": {\"temperature\": -1}"),
     "profiles.fast.sampling.temperature: expected a number"},
    {LOCAL(", \"sampling\": {\"top_p\": 0}"), "profiles.fast.sampling.top_p: expected a number"},
    {LOCAL(", \"sampling\": {\"top_p\": 1.5}"), "profiles.fast.sampling.top_p: expected a number"},
    {LOCAL(", \"sampling\": {\"top_k\": -1}"),
     "profiles.fast.sampling.top_k: expected a non-negative integer"},
    {LOCAL(", \"sampling\": {\"min_p\": 2}"), "profiles.fast.sampling.min_p: expected a number"},
    {LOCAL(", \"sampling\": {\"repeat_penalty\": 0}"),
     "profiles.fast.sampling.repeat_penalty: expected a number"},
    {LOCAL(", \"sampling\": {\"seed\": 1.5}"),
     "profiles.fast.sampling.seed: expected a non-negative integer"},
    {LOCAL(", \"sampling\": {\"temprature\": 1}"),
     "profiles.fast.sampling.temprature: unknown key"},
    {LOCAL(", \"ctz\": 4096"), "profiles.fast.ctz: unknown key for a local profile"},
    {LOCAL(URL), "profiles.fast.base_url: unknown key for a local profile"},
    {"{\"profiles\": {\"fast\": {\"model\": \"m\"}}}", "profiles.fast.type: missing"},
    {"{\"profiles\": {\"fast\": {\"type\": \"cloud\", \"model\": \"m\"}}}",
     "profiles.fast.type: expected \"local\" or \"remote\""},
    {"{\"profiles\": {\"fast\": {\"type\": \"local\"}}}", "profiles.fast.model: missing"},
    {"{\"profiles\": {\"fast\": 7}}", "profiles.fast: expected an object"},
    {"{\"profiles\": {\"a.b\": {\"type\": \"local\", \"model\": \"m\", \"ctx\": 0}}}",
     "profiles[\"a.b\"].ctx: expected a positive integer"},
    {"{\"profiles\": {\"\": {\"type\": \"local\", \"model\": \"m\"}}}",
     "profiles[\"\"]: a profile name has 1 to 64 bytes"},
    {"{\"profiles\": []}", "profiles: expected an object"},
    {REMOTE(""), "profiles.z.base_url: missing"},
    {REMOTE(", \"base_url\": \"ftp://x\""), "profiles.z.base_url: expected an http:// or https://"},
    {REMOTE(URL ", \"api_key_env\": \"sk-1234.abcd\""),
     "profiles.z.api_key_env: expected the NAME of an environment variable"},
    {REMOTE(URL ", \"api_key\": \"sk-1234\""),
     "profiles.z.api_key: secrets do not belong in the config file"},
    {REMOTE(URL ", \"threads\": 4"), "profiles.z.threads: unknown key for a remote profile"},
    {"{\"default_profile\": \"nope\"}", "default_profile: no profile named \"nope\""},
    {"{\"default_profile\": 3}", "default_profile: expected a string"},
    {"{\"theme\": 5}", "theme: expected a theme name"},
    {"{\"theme\": \"../../etc\"}", "theme: expected a theme name"},
    {"{\"keys\": {\"send\": \"space\"}}", "keys.send: expected \"enter\" or \"alt-enter\""},
    {"{\"keys\": {\"sned\": \"enter\"}}", "keys.sned: unknown key"},
    {"{\"keys\": \"enter\"}", "keys: expected an object"},
    {"{\"tools\": []}", "tools: expected an object"},
    {"{\"colour\": \"red\"}", "colour: unknown key"},
    {"{\"theme\": \"a\", \"theme\": \"b\"}", "theme: duplicate key"},
    {"[1, 2]", "expected a JSON object at the top level"},
};

static void test_invalid_fields(void **state)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        write_config(BAD[i].json);
        struct app_config cfg;
        char *why = NULL;
        app_config_init(&cfg);
        if (app_config_load(&cfg, NULL, &why) == 0) fail_msg("case %zu loaded: %s", i, BAD[i].json);
        char want[1024];
        snprintf(want, sizeof want, "%s: %s", g_file, BAD[i].want);
        if (!why || strncmp(why, want, strlen(want)) != 0)
            fail_msg("case %zu: got '%s', want '%s...'", i, why, want);
        assert_null(strchr(why, '\n'));
        /* a failed load leaves the defaults */
        assert_int_equal(cfg.n_profiles, 0);
        assert_string_equal(cfg.theme, "default-dark");
        free(why);
        app_config_done(&cfg);
    }
}

static void test_invalid_json(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"theme\": }", ":1:11: invalid JSON"},
        {"{\n  \"theme\": \"x\",\n  oops\n}", ":3:"}, /* the column is cJSON's guess */
        {"{} trailing", ":1:4: invalid JSON"},
        {"", ":1:1: invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_config(cases[i].json);
        struct app_config cfg;
        char *why = NULL;
        app_config_init(&cfg);
        assert_int_equal(app_config_load(&cfg, NULL, &why), -1);
        char want[1024];
        snprintf(want, sizeof want, "%s%s", g_file, cases[i].want);
        if (strncmp(why, want, strlen(want)) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, why, want);
        assert_non_null(strstr(why, "invalid JSON"));
        free(why);
        app_config_done(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_when_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
