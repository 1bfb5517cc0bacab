/* Small helpers of the app: the one-line error printer and stream slurping. */
#include "app/app.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void app_error(const char *fmt, ...)
{
    va_list ap;
    fputs("glmterm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

char *app_read_stream(FILE *f, const char *name, size_t cap, size_t *len, char **why)
{
    size_t n = 0, size = 1 << 16;
    char *buf = malloc(size);
    if (!buf) goto nomem;
    for (;;) {
        if (n + 1 >= size) {
            if (size >= cap + 1) {
                free(buf);
                if (why && asprintf(why, "%s: input larger than %zu bytes", name, cap) < 0)
                    *why = NULL;
                return NULL;
            }
            size_t ns = size * 2 > cap + 1 ? cap + 1 : size * 2;
            char *nb = realloc(buf, ns);
            if (!nb) goto nomem;
            buf = nb;
            size = ns;
        }
        size_t got = fread(buf + n, 1, size - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        if (why && asprintf(why, "%s: %s", name, strerror(e)) < 0) *why = NULL;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
nomem:
    free(buf);
    if (why && asprintf(why, "%s: out of memory", name) < 0) *why = NULL;
    return NULL;
}

static const char *g_config_path;

void app_set_config_path(const char *path)
{
    g_config_path = path;
}

const char *app_config_path(void)
{
    return g_config_path;
}

int app_mkdirs(const char *dir, char **why)
{
    char *p = strdup(dir);
    int rc = -1;
    if (!p) {
        if (why && asprintf(why, "%s: out of memory", dir) < 0) *why = NULL;
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != 0) continue;
        char saved = *s;
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            if (why && asprintf(why, "%s: %s", p, strerror(errno)) < 0) *why = NULL;
            goto out;
        }
        *s = saved;
        if (!saved) break;
    }
    rc = 0;
out:
    free(p);
    return rc;
}
