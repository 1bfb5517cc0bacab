/* Small helpers shared by the engine's source files. */
#include "engine/eng_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int eng_fail(char **why, int err, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        char *msg = NULL;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
        va_end(ap);
        free(*why);
        *why = msg;
    }
    return err;
}

int64_t eng_mem_available(void)
{
    /* GLMTERM_MEM_AVAILABLE (bytes) overrides, for tests of the refusal path. */
    const char *env = getenv("GLMTERM_MEM_AVAILABLE");
    if (env && *env) return strtoll(env, NULL, 10);
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    int64_t kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "MemAvailable:", 13) == 0) {
            kib = strtoll(line + 13, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}
