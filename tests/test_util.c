/* Test helpers: shared/ lookup with the CI rule, file I/O, line splitting, a PRNG. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tu_shared(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("GLMTERM_SHARED");
    struct stat st;
    if (!dir || !*dir) dir = "../shared";
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        const char *ci = getenv("CI");
        if (ci && *ci && strcmp(ci, "false") != 0 && strcmp(ci, "0") != 0)
            fail_msg("shared folder missing: %s (CI=%s): tests need ../shared", dir, ci);
        skip();
    }
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (stat(path, &st) != 0) fail_msg("shared fixture missing: %s", path);
    return path;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    assert_non_null(buf);
    if (sz > 0 && fread(buf, 1, (size_t)sz, f) != (size_t)sz) fail_msg("short read %s", path);
    fclose(f);
    buf[sz] = 0;
    if (len) *len = (size_t)sz;
    return buf;
}

static char g_temp_paths[8][256];

/* Temporary files go when the test program ends, whatever the outcome of the tests. */
static void remove_temps(void)
{
    for (int i = 0; i < 8; i++)
        if (g_temp_paths[i][0]) remove(g_temp_paths[i]);
}

const char *tu_write_temp(int slot, const void *data, size_t len)
{
    static int registered;
    char(*paths)[256] = g_temp_paths;
    if (!registered) {
        atexit(remove_temps);
        registered = 1;
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    slot &= 7;
    snprintf(paths[slot], sizeof paths[slot], "%s/glmterm-test-%d-%d", tmp, (int)getpid(), slot);
    FILE *f = fopen(paths[slot], "wb");
    if (!f) fail_msg("cannot create %s", paths[slot]);
    if (len && fwrite(data, 1, len, f) != len) fail_msg("short write %s", paths[slot]);
    fclose(f);
    return paths[slot];
}

char **tu_split_lines(char *buf, size_t *n)
{
    size_t cap = 64, cnt = 0;
    char **lines = malloc(cap * sizeof *lines);
    assert_non_null(lines);
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (cnt == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
            assert_non_null(lines);
        }
        lines[cnt++] = p;
        if (!nl) break;
        *nl = 0;
        p = nl + 1;
    }
    *n = cnt;
    return lines;
}

uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}
