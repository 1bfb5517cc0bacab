/* libFuzzer target for the conversation store's loader (app/history.c), which reads JSONL
 * files that a crash may have torn and a user may have edited by hand.
 *
 * Each input is one conversation file. When it loads, the tree invariants are checked (a
 * parent comes before its child, the leaf is a message, strings are NUL-terminated), the
 * title and the Markdown export are built, and then the append contract is checked: opening
 * it for appending, adding one message and loading it again must succeed with exactly one
 * message more and no warning (a torn tail is sealed, never cut). When it is refused, the
 * message must be one line. Not wired into CMake; build by hand, e.g.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -DGLMTERM_VERSION='"0.1.0"' \
 *       -I. -I/usr/include/cjson tests/fuzz/fuzz_history.c app/history.c tokenizer/tok_util.c \
 *       -lcjson -lm -o fuzz_history
 *   ./fuzz_history -max_len=4096 corpus/   (seed: any file from ~/.local/share/glmterm/...)
 */
#include "app/history_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_home[64];

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
}

static void check(const struct app_hist_conv *c)
{
    if (c->leaf < -1 || c->leaf >= (int32_t)c->n_msgs) abort();
    if (c->n_msgs && c->leaf < 0) abort();
    for (size_t i = 0; i < c->n_msgs; i++) {
        const struct app_hist_msg *m = &c->msgs[i];
        if (m->parent >= (int32_t)i || m->parent < -1) abort();
        if (!m->id || !m->content || strlen(m->id) > APP_HIST_MAX_ID) abort();
    }
    char *t = app_hist_title(c);
    size_t len;
    char *md = app_hist_export_md(c, &len);
    if (!t || !md || strlen(md) != len) abort();
    free(t);
    free(md);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_home[0]) {
        snprintf(g_home, sizeof g_home, "/tmp/fuzz-hist-XXXXXX");
        if (!mkdtemp(g_home)) abort();
        setenv("XDG_DATA_HOME", g_home, 1);
        char d[128];
        snprintf(d, sizeof d, "%s/glmterm", g_home);
        mkdir(d, 0700);
        snprintf(d, sizeof d, "%s/glmterm/conversations", g_home);
        mkdir(d, 0700);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/glmterm/conversations/f.jsonl", g_home);
    write_file(path, data, size);
    char *why = NULL;
    struct app_hist_conv *c = app_hist_load_file(path, true, &why);
    if (!c) {
        if (!why || strchr(why, '\n')) abort();
        free(why);
        return 0;
    }
    check(c);
    size_t n = c->n_msgs;
    struct app_hist_new in = {
        .parent = c->leaf, .role = APP_HIST_USER, .content = "x", .content_len = 1};
    if (app_hist_append(c, &in, &why) < 0) abort();
    app_hist_free(c);
    c = app_hist_load_file(path, false, &why);
    if (!c || c->n_msgs != n + 1 || c->warning) abort();
    check(c);
    app_hist_free(c);
    return 0;
}
