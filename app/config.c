/* config — reads and checks config.json (config_int.h has the format).
 *
 * The file is parsed with cJSON, then walked once against a fixed schema: every object's keys
 * are checked against the keys it may have (so a typo is an error, not a silent default),
 * every value against its type and range, and each error names the JSON path that was being
 * checked. The result is copied into plain C structs; only "tools" stays a cJSON tree, owned
 * by the config, for the tools module to read later. Loading fills a scratch config and swaps
 * it in only when everything passed, so a caller never sees half a file.
 */
#include "app/config_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"

#define MAX_NAME 64 /* bytes of a profile name */

struct ctx {
    const char *file;
    char **why;
};

static int bad(struct ctx *x, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(struct ctx *x, const char *path, const char *fmt, ...)
{
    if (x->why) {
        char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
        va_end(ap);
        if (asprintf(x->why, "%s: %s%s%s", x->file, path, path[0] ? ": " : "",
                     msg ? msg : "invalid") < 0)
            *x->why = NULL;
        /* Keys and values quoted from the file stay on one line. */
        for (char *p = *x->why; p && *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
        free(msg);
    }
    return -1;
}

void app_sampling_init(struct app_sampling *s)
{
    /* GLM-4-9B-chat generation_config.json: do_sample, temperature 0.8, top_p 0.8. */
    *s = (struct app_sampling){.temperature = 0.8, .top_p = 0.8, .repeat_penalty = 1.0};
}

void app_config_init(struct app_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->theme, sizeof cfg->theme, "default-dark");
    cfg->send_key = APP_SEND_ENTER;
}

static void profile_done(struct app_profile *p)
{
    free(p->name);
    free(p->model);
    free(p->base_url);
    free(p->api_key_env);
}

void app_config_done(struct app_config *cfg)
{
    for (size_t i = 0; i < cfg->n_profiles; i++)
        profile_done(&cfg->profiles[i]);
    free(cfg->profiles);
    free(cfg->path);
    free(cfg->default_profile);
    cJSON_Delete(cfg->tools);
    app_config_init(cfg);
}

const struct app_profile *app_config_profile(const struct app_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_profiles; i++)
        if (strcmp(cfg->profiles[i].name, name) == 0) return &cfg->profiles[i];
    return NULL;
}

char *app_config_default_path(char **why)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    char *out = NULL;
    int r;
    /* XDG base directory spec: a relative path in the variable is ignored. */
    if (xdg && xdg[0] == '/') {
        r = asprintf(&out, "%s/glmterm/config.json", xdg);
    } else {
        const char *home = getenv("HOME");
        if (!home || home[0] != '/') {
            if (why && asprintf(why, "config: neither XDG_CONFIG_HOME nor HOME is set") < 0)
                *why = NULL;
            return NULL;
        }
        r = asprintf(&out, "%s/.config/glmterm/config.json", home);
    }
    if (r < 0) {
        if (why && asprintf(why, "config: out of memory") < 0) *why = NULL;
        return NULL;
    }
    return out;
}

/* ---- schema checks ------------------------------------------------------------------------ */

/* path + "." + key, or path + "[\"key\"]" when the key is not a plain identifier. */
static void join(char *out, size_t size, const char *path, const char *key)
{
    bool plain = key[0] != 0;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            plain = false;
    if (plain)
        snprintf(out, size, "%s%s%s", path, path[0] ? "." : "", key);
    else
        snprintf(out, size, "%s[\"%.*s\"]", path, MAX_NAME, key);
}

/* Every key of `obj` is in `allowed` (NULL-terminated) and appears once. */
static int check_keys(struct ctx *x, const cJSON *obj, const char *path, const char *const *allowed,
                      const char *what)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        char p[256];
        const char *key = it->string ? it->string : "";
        join(p, sizeof p, path, key);
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (prev->string && strcmp(prev->string, key) == 0) return bad(x, p, "duplicate key");
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (ok) continue;
        if (strcmp(key, "api_key") == 0)
            return bad(x, p,
                       "secrets do not belong in the config file; name the environment "
                       "variable that holds the key with \"api_key_env\"");
        return bad(x, p, "unknown key%s%s", what ? " for " : "", what ? what : "");
    }
    return 0;
}

static int get_string(struct ctx *x, const cJSON *it, const char *path, char **out)
{
    if (!cJSON_IsString(it) || !it->valuestring) return bad(x, path, "expected a string");
    if (!it->valuestring[0]) return bad(x, path, "expected a non-empty string");
    char *s = strdup(it->valuestring);
    if (!s) return bad(x, path, "out of memory");
    free(*out);
    *out = s;
    return 0;
}

static bool is_int(const cJSON *it)
{
    return cJSON_IsNumber(it) && isfinite(it->valuedouble) &&
           it->valuedouble == floor(it->valuedouble);
}

static int get_pos_int(struct ctx *x, const cJSON *it, const char *path, int32_t max, int32_t *out)
{
    if (!is_int(it) || it->valuedouble < 1) return bad(x, path, "expected a positive integer");
    if (it->valuedouble > max) return bad(x, path, "expected a positive integer up to %d", max);
    *out = (int32_t)it->valuedouble;
    return 0;
}

/* A number in [lo, hi] (lo excluded when lo_open). */
static int get_range(struct ctx *x, const cJSON *it, const char *path, double lo, bool lo_open,
                     double hi, double *out)
{
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble > hi ||
        (lo_open ? it->valuedouble <= lo : it->valuedouble < lo))
        return bad(x, path, "expected a number %s %g and at most %g", lo_open ? "above" : "from",
                   lo, hi);
    *out = it->valuedouble;
    return 0;
}

static int get_choice(struct ctx *x, const cJSON *it, const char *path, const char *const *choices,
                      int *out)
{
    if (cJSON_IsString(it) && it->valuestring)
        for (int i = 0; choices[i]; i++)
            if (strcmp(it->valuestring, choices[i]) == 0) {
                *out = i;
                return 0;
            }
    char list[128] = "";
    for (int i = 0; choices[i]; i++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s\"%s\"", i ? (choices[i + 1] ? ", " : " or ") : "",
                 choices[i]);
    }
    return bad(x, path, "expected %s", list);
}

static int check_object(struct ctx *x, const cJSON *it, const char *path)
{
    return cJSON_IsObject(it) ? 0 : bad(x, path, "expected an object");
}

static int load_sampling(struct ctx *x, const cJSON *obj, const char *path, struct app_sampling *s)
{
    static const char *const keys[] = {"temperature",    "top_p", "top_k", "min_p",
                                       "repeat_penalty", "seed",  NULL};
    if (check_object(x, obj, path) || check_keys(x, obj, path, keys, NULL)) return -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        char p[256];
        join(p, sizeof p, path, it->string);
        const char *k = it->string;
        int rc = 0;
        if (strcmp(k, "temperature") == 0) {
            rc = get_range(x, it, p, 0, false, 100, &s->temperature);
        } else if (strcmp(k, "top_p") == 0) {
            rc = get_range(x, it, p, 0, true, 1, &s->top_p);
        } else if (strcmp(k, "min_p") == 0) {
            rc = get_range(x, it, p, 0, false, 1, &s->min_p);
        } else if (strcmp(k, "repeat_penalty") == 0) {
            rc = get_range(x, it, p, 0, true, 100, &s->repeat_penalty);
        } else if (strcmp(k, "top_k") == 0) {
            if (!is_int(it) || it->valuedouble < 0 || it->valuedouble > INT32_MAX)
                rc = bad(x, p, "expected a non-negative integer (0 = off)");
            else
                s->top_k = (int32_t)it->valuedouble;
        } else if (strcmp(k, "seed") == 0) {
            /* 2^53: the largest integer a JSON number holds exactly as a double. */
            if (!is_int(it) || it->valuedouble < 0 || it->valuedouble > 9007199254740992.0)
                rc = bad(x, p, "expected a non-negative integer up to 2^53");
            else
                s->seed = (uint64_t)it->valuedouble, s->has_seed = true;
        }
        if (rc) return -1;
    }
    return 0;
}

static int load_profile(struct ctx *x, const cJSON *obj, const char *path, struct app_profile *p)
{
    static const char *const local_keys[] = {"type",    "model",    "threads", "ctx",
                                             "kv_type", "sampling", NULL};
    static const char *const remote_keys[] = {"type", "base_url", "model", "api_key_env", NULL};
    static const char *const types[] = {"local", "remote", NULL};
    static const char *const kv_types[] = {"f16", "f32", NULL};
    char q[256];
    if (check_object(x, obj, path)) return -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    join(q, sizeof q, path, "type");
    if (!type) return bad(x, q, "missing (\"local\" or \"remote\")");
    int t;
    if (get_choice(x, type, q, types, &t)) return -1;
    p->type = (enum app_profile_type)t;
    p->kv_type = APP_KV_F16;
    app_sampling_init(&p->sampling);
    if (check_keys(x, obj, path, t == APP_PROFILE_LOCAL ? local_keys : remote_keys,
                   t == APP_PROFILE_LOCAL ? "a local profile" : "a remote profile"))
        return -1;
    const char *required[] = {"model", t == APP_PROFILE_REMOTE ? "base_url" : NULL};
    for (int i = 0; i < 2; i++) {
        if (!required[i]) continue;
        join(q, sizeof q, path, required[i]);
        if (!cJSON_GetObjectItemCaseSensitive(obj, required[i]))
            return bad(x, q, "missing (a %s profile needs it)", types[t]);
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        const char *k = it->string;
        join(q, sizeof q, path, k);
        int rc = 0, v;
        if (strcmp(k, "model") == 0) {
            rc = get_string(x, it, q, &p->model);
        } else if (strcmp(k, "threads") == 0) {
            rc = get_pos_int(x, it, q, APP_CONFIG_MAX_THREADS, &p->threads);
        } else if (strcmp(k, "ctx") == 0) {
            rc = get_pos_int(x, it, q, APP_CONFIG_MAX_CTX, &p->ctx);
        } else if (strcmp(k, "kv_type") == 0) {
            rc = get_choice(x, it, q, kv_types, &v);
            p->kv_type = (enum app_kv_type)v;
        } else if (strcmp(k, "sampling") == 0) {
            rc = load_sampling(x, it, q, &p->sampling);
        } else if (strcmp(k, "base_url") == 0) {
            rc = get_string(x, it, q, &p->base_url);
            if (!rc && strncmp(p->base_url, "http://", 7) != 0 &&
                strncmp(p->base_url, "https://", 8) != 0)
                rc = bad(x, q, "expected an http:// or https:// URL");
        } else if (strcmp(k, "api_key_env") == 0) {
            rc = get_string(x, it, q, &p->api_key_env);
            for (const char *s = p->api_key_env; !rc && *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
                      (s > p->api_key_env && *s >= '0' && *s <= '9')))
                    rc = bad(x, q,
                             "expected the NAME of an environment variable (such as "
                             "ZHIPUAI_API_KEY), not the key");
        }
        if (rc) return -1;
    }
    return 0;
}

static int load_profiles(struct ctx *x, const cJSON *obj, struct app_config *cfg)
{
    if (check_object(x, obj, "profiles")) return -1;
    size_t n = (size_t)cJSON_GetArraySize(obj);
    if (n && !(cfg->profiles = calloc(n, sizeof *cfg->profiles)))
        return bad(x, "profiles", "out of memory");
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        char p[256];
        const char *name = it->string ? it->string : "";
        join(p, sizeof p, "profiles", name);
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (prev->string && strcmp(prev->string, name) == 0)
                return bad(x, p, "duplicate profile");
        if (!name[0] || strlen(name) > MAX_NAME)
            return bad(x, p, "a profile name has 1 to %d bytes", MAX_NAME);
        for (const unsigned char *s = (const unsigned char *)name; *s; s++)
            if (*s < 0x20 || *s == 0x7f) return bad(x, p, "control character in a profile name");
        struct app_profile *pr = &cfg->profiles[cfg->n_profiles++];
        if (!(pr->name = strdup(name))) return bad(x, p, "out of memory");
        if (load_profile(x, it, p, pr)) return -1;
    }
    return 0;
}

static int load_tree(struct ctx *x, const cJSON *root, struct app_config *cfg)
{
    static const char *const keys[] = {"default_profile", "profiles", "theme", "keys",
                                       "tools",           NULL};
    static const char *const key_keys[] = {"send", NULL};
    static const char *const sends[] = {"enter", "alt-enter", NULL};
    if (!cJSON_IsObject(root)) return bad(x, "", "expected a JSON object at the top level");
    if (check_keys(x, root, "", keys, NULL)) return -1;
    const cJSON *it;
    /* Profiles first: default_profile is checked against them. */
    const cJSON *profiles = cJSON_GetObjectItemCaseSensitive(root, "profiles");
    if (profiles && load_profiles(x, profiles, cfg)) return -1;
    cJSON_ArrayForEach(it, root)
    {
        const char *k = it->string;
        int rc = 0, v;
        if (strcmp(k, "default_profile") == 0) {
            rc = get_string(x, it, k, &cfg->default_profile);
            if (!rc && !app_config_profile(cfg, cfg->default_profile))
                rc = bad(x, k, "no profile named \"%s\" in \"profiles\"", cfg->default_profile);
        } else if (strcmp(k, "theme") == 0) {
            if (!cJSON_IsString(it) || !it->valuestring || !it->valuestring[0] ||
                strlen(it->valuestring) >= sizeof cfg->theme || strchr(it->valuestring, '/'))
                rc = bad(x, k, "expected a theme name (such as \"default-dark\")");
            else
                snprintf(cfg->theme, sizeof cfg->theme, "%s", it->valuestring);
        } else if (strcmp(k, "keys") == 0) {
            rc = check_object(x, it, k) || check_keys(x, it, k, key_keys, NULL);
            const cJSON *send = cJSON_GetObjectItemCaseSensitive(it, "send");
            if (!rc && send) {
                rc = get_choice(x, send, "keys.send", sends, &v);
                cfg->send_key = (enum app_send_key)v;
            }
        } else if (strcmp(k, "tools") == 0) {
            rc = check_object(x, it, k);
            if (!rc && !(cfg->tools = cJSON_Duplicate(it, 1))) rc = bad(x, k, "out of memory");
        }
        if (rc) return -1;
    }
    return 0;
}

/* "FILE:LINE:COL: invalid JSON" for a parse error at `at`. */
static int parse_error(struct ctx *x, const char *text, size_t len, const char *at)
{
    size_t line = 1, col = 1;
    if (!at || at < text || at > text + len) at = text + len;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*p & 0xc0) != 0x80) {
            col++;
        }
    }
    if (x->why && asprintf(x->why, "%s:%zu:%zu: invalid JSON", x->file, line, col) < 0)
        *x->why = NULL;
    return -1;
}

int app_config_load(struct app_config *cfg, const char *path, char **why)
{
    struct app_config next;
    char *def = NULL, *text = NULL;
    cJSON *root = NULL;
    FILE *f = NULL;
    int rc = -1;
    app_config_init(&next);
    if (!path && !(path = def = app_config_default_path(why))) goto out;
    struct ctx x = {.file = path, .why = why};
    if (!(next.path = strdup(path))) {
        bad(&x, "", "out of memory");
        goto out;
    }
    f = fopen(path, "rb");
    if (!f && errno == ENOENT && def) {
        rc = 0; /* no file: the defaults */
        goto out;
    }
    if (!f) {
        bad(&x, "", "%s", strerror(errno));
        goto out;
    }
    size_t len;
    if (!(text = app_read_stream(f, path, APP_CONFIG_MAX_FILE, &len, why))) goto out;
    if (memchr(text, 0, len)) {
        bad(&x, "", "a NUL byte in the file");
        goto out;
    }
    const char *end = NULL;
    /* len + 1: the NUL app_read_stream adds is where cJSON checks for trailing text. */
    root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!root) {
        parse_error(&x, text, len, end ? end : cJSON_GetErrorPtr());
        goto out;
    }
    if (load_tree(&x, root, &next)) goto out;
    next.from_file = true;
    rc = 0;
out:
    if (f) fclose(f);
    app_config_done(cfg);
    if (rc == 0)
        *cfg = next;
    else
        app_config_done(&next);
    cJSON_Delete(root);
    free(text);
    free(def);
    return rc;
}
