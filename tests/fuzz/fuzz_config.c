/* libFuzzer target for config.json checking (app/config.c): any input either loads into a
 * config whose every profile is complete (a name, a model, a base_url on remote profiles), or
 * is refused with one line that starts with the file name; a refused load leaves the
 * defaults. Not wired into CMake; build by hand, e.g.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -I/usr/include/cjson \
 *       tests/fuzz/fuzz_config.c app/config.c app/util.c -lcjson -lm -o fuzz_config
 *   ./fuzz_config -max_len=2048 corpus/   (seed: config.json files)
 */
#include "app/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz-config-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
    struct app_config cfg;
    char *why = NULL;
    app_config_init(&cfg);
    if (app_config_load(&cfg, path, &why) == 0) {
        for (size_t i = 0; i < cfg.n_profiles; i++) {
            const struct app_profile *p = &cfg.profiles[i];
            if (!p->name || !p->model) abort();
            if (p->type == APP_PROFILE_REMOTE && !p->base_url) abort();
        }
        if (cfg.default_profile && !app_config_profile(&cfg, cfg.default_profile)) abort();
    } else {
        if (!why || strchr(why, '\n') || strncmp(why, path, strlen(path)) != 0) abort();
        if (cfg.n_profiles || strcmp(cfg.theme, "default-dark") != 0) abort();
        free(why);
    }
    app_config_done(&cfg);
    return 0;
}
