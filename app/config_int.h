/* config — glmterm's configuration file, config.json, read once at start-up.
 *
 * Where: `--config FILE`, else $XDG_CONFIG_HOME/glmterm/config.json, else
 * ~/.config/glmterm/config.json. A missing default file means the defaults; a missing file
 * named by --config is an error. The file (every key optional):
 *
 *   {"default_profile": "fast",
 *    "profiles": {"fast": {"type": "local", "model": "PATH", "threads": N, "ctx": N,
 *                          "kv_type": "f16|f32",
 *                          "sampling": {"temperature", "top_p", "top_k", "min_p",
 *                                       "repeat_penalty", "seed"}},
 *                 "zhipu": {"type": "remote", "base_url": "https://...", "model": "glm-4-plus",
 *                           "api_key_env": "ZHIPUAI_API_KEY"}},
 *    "theme": "default-dark",
 *    "keys": {"send": "enter|alt-enter"},
 *    "tools": {...}}                kept as JSON for the tools module
 *
 * Validation is strict so typos do not pass silently: an unknown key (anywhere but under
 * "tools"), a wrong type, a value out of range or a duplicate key is an error of one line
 * naming the file and the JSON path of the field: "PATH: profiles.fast.ctx: expected a
 * positive integer". Secrets never live here: a profile names the environment variable that
 * holds its API key, and an "api_key" key is refused with that advice.
 *
 * Thread: loaded and read on the loop thread; the struct is immutable once loaded.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define APP_CONFIG_MAX_FILE    (1u << 20)
#define APP_CONFIG_MAX_THREADS 1024
#define APP_CONFIG_MAX_CTX     (1 << 24)

enum app_profile_type {
    APP_PROFILE_LOCAL,
    APP_PROFILE_REMOTE,
};

enum app_kv_type {
    APP_KV_F16,
    APP_KV_F32,
};

enum app_send_key {
    APP_SEND_ENTER,     /* Enter sends, Alt-Enter is a newline */
    APP_SEND_ALT_ENTER, /* Alt-Enter sends, Enter is a newline */
};

/* Sampling settings; a field the file leaves out keeps its default (GLM-4's
 * generation_config.json: temperature 0.8, top_p 0.8; the rest off). */
struct app_sampling {
    double temperature;    /* >= 0; 0 = greedy */
    double top_p;          /* (0, 1] */
    int32_t top_k;         /* >= 0; 0 = off */
    double min_p;          /* [0, 1]; 0 = off */
    double repeat_penalty; /* > 0; 1 = off */
    uint64_t seed;         /* meaningful when has_seed */
    bool has_seed;         /* false: a random seed per generation */
};

struct app_profile {
    char *name;
    enum app_profile_type type;
    char *model; /* local: a .gguf file or HF directory; remote: the served model name */
    /* local */
    int32_t threads; /* 0 = one per core */
    int32_t ctx;     /* 0 = the model's context length */
    enum app_kv_type kv_type;
    struct app_sampling sampling;
    /* remote */
    char *base_url;    /* http:// or https:// */
    char *api_key_env; /* the NAME of the environment variable with the key, or NULL */
};

struct app_config {
    char *path;            /* the file read, or the default path that was missing */
    bool from_file;        /* false: defaults */
    char *default_profile; /* NULL when unset */
    struct app_profile *profiles;
    size_t n_profiles;
    char theme[64]; /* default "default-dark" */
    enum app_send_key send_key;
    cJSON *tools; /* the "tools" object as written, NULL when absent; owned */
};

/* The default path ($XDG_CONFIG_HOME/glmterm/config.json, else $HOME/.config/...). Returns a
 * new string; caller frees. NULL with *why when neither variable is usable. */
char *app_config_default_path(char **why);

/* The defaults: no profiles, theme "default-dark", Enter sends. */
void app_config_init(struct app_config *cfg);

/* Loads `path` (NULL: the default path, where a missing file means the defaults) into `cfg`,
 * which must be initialised (its old contents are released). On error returns -1 with *why =
 * "FILE: JSON.PATH: what" (or "FILE:LINE:COL: invalid JSON") and cfg holds the defaults. */
int app_config_load(struct app_config *cfg, const char *path, char **why);

void app_config_done(struct app_config *cfg);

/* The profile called `name`, or NULL. Borrowed. */
const struct app_profile *app_config_profile(const struct app_config *cfg, const char *name);

/* The default sampling settings. */
void app_sampling_init(struct app_sampling *s);
