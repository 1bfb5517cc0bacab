/* The conversation store: files and modes, a branched conversation through a reload, partial
 * replies after a crash, torn and damaged lines, forward compatibility, the list, search,
 * Markdown export, titles and id prefixes. Every test gets its own XDG_DATA_HOME. */
#include "test_util.h"
#include "app/history_int.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_home[256];
static char g_dir[512];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    snprintf(g_home, sizeof g_home, "/tmp/glmterm-hist-XXXXXX");
    if (!mkdtemp(g_home)) return -1;
    setenv("XDG_DATA_HOME", g_home, 1);
    snprintf(g_dir, sizeof g_dir, "%s/glmterm/conversations", g_home);
    return 0;
}

static int teardown(void **state)
{
    nftw(g_home, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Writes a conversation file by hand (mkdir -p of the directory first). */
static void write_conv(const char *id, const char *text)
{
    char p[768];
    snprintf(p, sizeof p, "%s/glmterm", g_home);
    mkdir(p, 0700);
    mkdir(g_dir, 0700);
    snprintf(p, sizeof p, "%s/%s.jsonl", g_dir, id);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static const char *conv_path(const char *id)
{
    static char p[768];
    snprintf(p, sizeof p, "%s/%s.jsonl", g_dir, id);
    return p;
}

#define HDR(id)                                                                                    \
    "{\"type\":\"header\",\"version\":1,\"id\":\"" id "\",\"created\":\"2026-11-20T10:00:00Z\","   \
    "\"app\":\"glmterm 0.1.0\",\"model\":\"glm-4-9b-chat\",\"profile\":null}\n"

static int32_t add(struct app_hist_conv *c, int32_t parent, enum app_hist_role role,
                   const char *text)
{
    struct app_hist_new in = {
        .parent = parent, .role = role, .content = text, .content_len = strlen(text)};
    char *why = NULL;
    int32_t idx = app_hist_append(c, &in, &why);
    if (idx < 0) fail_msg("append: %s", why);
    return idx;
}

static struct app_hist_conv *reload(const struct app_hist_conv *c, bool writable)
{
    char *why = NULL;
    struct app_hist_conv *r = app_hist_open(c->id, writable, &why);
    if (!r) fail_msg("reload: %s", why);
    return r;
}

static void test_create_modes(void **state)
{
    mode_t old = umask(0); /* the modes must not depend on the umask */
    char *why = NULL;
    struct app_hist_conv *c = app_hist_create("glm-4-9b-chat", "fast", &why);
    umask(old);
    assert_non_null(c);
    struct stat st;
    assert_int_equal(stat(c->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(g_dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char p[768];
    snprintf(p, sizeof p, "%s/glmterm", g_home);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* id: UTC timestamp + "-" + 4 hex digits */
    assert_int_equal(strlen(c->id), 21);
    assert_int_equal(c->id[8], 'T');
    assert_int_equal(c->id[15], 'Z');
    assert_int_equal(c->id[16], '-');
    assert_true(c->n_fsync >= 1);
    size_t len;
    char *text = tu_read_file(c->path, &len);
    cJSON *h = cJSON_ParseWithLength(text, strchr(text, '\n') - text);
    assert_non_null(h);
    assert_string_equal(cJSON_GetObjectItem(h, "type")->valuestring, "header");
    assert_int_equal(cJSON_GetObjectItem(h, "version")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(h, "id")->valuestring, c->id);
    assert_string_equal(cJSON_GetObjectItem(h, "app")->valuestring, "glmterm 0.1.0");
    assert_string_equal(cJSON_GetObjectItem(h, "model")->valuestring, "glm-4-9b-chat");
    assert_string_equal(cJSON_GetObjectItem(h, "profile")->valuestring, "fast");
    int64_t ms;
    assert_int_equal(app_hist_parse_time(cJSON_GetObjectItem(h, "created")->valuestring, &ms), 0);
    assert_null(cJSON_GetObjectItem(h, "api_key"));
    cJSON_Delete(h);
    free(text);
    app_hist_free(c);
}

/* system + user, a reply, /retry, /edit and a reply to the edit, then select: all of it must
 * come back from the file, and every append is fsync'd. */
static void test_branched_round_trip(void **state)
{
    char *why = NULL;
    struct app_hist_conv *c = app_hist_create("glm-4", NULL, &why);
    assert_non_null(c);
    uint64_t syncs = c->n_fsync;
    cJSON *tools = cJSON_Parse("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]");
    struct app_hist_new sys = {.parent = -1,
                               .role = APP_HIST_SYSTEM,
                               .content = "You are GLM-4.",
                               .content_len = 14,
                               .tools = tools};
    int32_t s = app_hist_append(c, &sys, &why);
    assert_int_equal(s, 0);
    cJSON_Delete(tools);
    assert_int_equal(c->n_fsync, syncs + 1);
    int32_t u = add(c, s, APP_HIST_USER, "北京今天天气怎么样？");
    int32_t a1 = app_hist_reply_begin(c, u, APP_HIST_ASSISTANT, "glm-4", &why);
    assert_true(a1 >= 0);
    struct app_hist_timings t = {true, 412.5, 7.9, 12, 30};
    const char *r1 = "晴，23°C。\n```python\nprint('hi')\n```";
    assert_int_equal(app_hist_reply_finish(c, a1, r1, strlen(r1), NULL, &t, true, &why), 0);
    int32_t a2 = app_hist_retry(c, a1, "glm-4", &why);
    assert_true(a2 > a1);
    assert_int_equal(c->msgs[a2].parent, u);
    assert_int_equal(app_hist_reply_finish(c, a2, "second try", 10, NULL, NULL, true, &why), 0);
    int32_t u2 = app_hist_edit(c, u, "那上海呢？", &why);
    assert_int_equal(c->msgs[u2].parent, s);
    int32_t a3 = add(c, u2, APP_HIST_ASSISTANT, "上海多云。");
    assert_int_equal(c->leaf, a3);
    assert_int_equal(app_hist_select(c, a2, &why), 0);
    assert_int_equal(c->leaf, a2);
    assert_true(c->n_fsync >= syncs + 8);
    assert_string_equal(c->msgs[u].id, "m2");
    app_hist_free(c);

    /* reopen through the latest conversation, as --resume does */
    char *latest = NULL;
    assert_int_equal(app_hist_latest(&latest, &why), 0);
    assert_non_null(latest);
    struct app_hist_conv *r = app_hist_open(latest, false, &why);
    free(latest);
    assert_non_null(r);
    assert_null(r->warning);
    assert_int_equal(r->n_msgs, 6);
    assert_string_equal(r->model, "glm-4");
    assert_null(r->profile);
    assert_int_equal(r->leaf, a2);
    assert_int_equal(r->msgs[s].parent, -1);
    assert_non_null(r->msgs[s].tools);
    assert_string_equal(r->msgs[u].content, "北京今天天气怎么样？");
    assert_string_equal(r->msgs[a1].content, r1);
    assert_true(r->msgs[a1].complete);
    assert_true(r->msgs[a1].timings.present);
    assert_int_equal(r->msgs[a1].timings.n_gen, 12);
    assert_int_equal(r->msgs[a1].timings.n_prompt, 30);
    assert_true(r->msgs[a1].timings.ttft_ms == 412.5);
    assert_string_equal(r->msgs[a1].model, "glm-4");
    /* the tree: two replies under u, two user messages under s */
    int32_t kids[4];
    assert_int_equal(app_hist_children(r, u, kids, 4), 2);
    assert_int_equal(kids[0], a1);
    assert_int_equal(kids[1], a2);
    assert_int_equal(app_hist_children(r, s, kids, 4), 2);
    assert_int_equal(kids[1], u2);
    assert_int_equal(app_hist_children(r, -1, kids, 4), 1);
    int32_t *path;
    size_t n;
    assert_int_equal(app_hist_path(r, r->leaf, &path, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(path[0], s);
    assert_int_equal(path[1], u);
    assert_int_equal(path[2], a2);
    free(path);
    /* switching to the edited branch lands on its newest leaf */
    assert_int_equal(app_hist_branch_leaf(r, u2), a3);
    assert_int_equal(app_hist_branch_leaf(r, s), a3);
    assert_int_equal(app_hist_find(r, "m4"), a2);
    app_hist_free(r);
}

/* kill -9 during a generation: the partial records are there, the final one is not. */
static void test_partial_then_crash(void **state)
{
    char *why = NULL;
    struct app_hist_conv *c = app_hist_create(NULL, NULL, &why);
    assert_non_null(c);
    int32_t u = add(c, -1, APP_HIST_USER, "write a poem");
    int32_t a = app_hist_reply_begin(c, u, APP_HIST_ASSISTANT, "glm-4", &why);
    assert_true(a >= 0);
    /* within a second of the last partial record: nothing is written */
    uint64_t syncs = c->n_fsync;
    assert_int_equal(app_hist_reply_partial(c, a, "Roses", 5, &why), 0);
    assert_int_equal(c->n_fsync, syncs);
    c->msgs[a].last_partial_ms -= APP_HIST_PARTIAL_MS; /* a second passes */
    assert_int_equal(app_hist_reply_partial(c, a, "Roses are", 9, &why), 1);
    assert_int_equal(c->n_fsync, syncs + 1);
    c->msgs[a].last_partial_ms -= APP_HIST_PARTIAL_MS;
    assert_int_equal(app_hist_reply_partial(c, a, "Roses are", 9, &why), 0); /* unchanged */
    assert_int_equal(app_hist_reply_partial(c, a, "Roses are red", 13, &why), 1);
    /* the process dies here: the file is closed without the final record */
    char id[64];
    snprintf(id, sizeof id, "%s", c->id);
    app_hist_free(c);

    struct app_hist_conv *r = app_hist_open(id, true, &why);
    assert_non_null(r);
    /* one writer at a time; readers are welcome */
    assert_null(app_hist_open(id, true, &why));
    assert_non_null(strstr(why, "open for writing in another glmterm"));
    free(why);
    why = NULL;
    struct app_hist_conv *ro = app_hist_open(id, false, &why);
    assert_non_null(ro);
    app_hist_free(ro);
    assert_null(r->warning);
    assert_int_equal(r->n_msgs, 2);
    assert_true(r->msgs[0].complete);
    assert_false(r->msgs[1].complete);
    assert_false(r->msgs[1].finished);
    assert_string_equal(r->msgs[1].content, "Roses are red");
    assert_int_equal(r->leaf, 1);
    /* the reply can be retried beside the broken one; ids keep counting */
    int32_t b = app_hist_retry(r, 1, NULL, &why);
    assert_true(b >= 0);
    assert_string_equal(r->msgs[b].id, "m3");
    assert_int_equal(app_hist_reply_finish(r, b, "Violets", 7, NULL, NULL, true, &why), 0);
    assert_int_equal(app_hist_reply_finish(r, b, "again", 5, NULL, NULL, true, &why), -1);
    free(why);
    why = NULL;
    app_hist_free(r);
    r = app_hist_open(id, false, &why);
    assert_non_null(r);
    assert_false(r->msgs[1].complete);
    assert_true(r->msgs[2].complete);
    /* the Markdown export marks the incomplete reply when its branch is current */
    assert_int_equal(r->leaf, 2);
    r->leaf = 1;
    size_t len;
    char *md = app_hist_export_md(r, &len);
    assert_non_null(strstr(md, "## Assistant *(incomplete)*\n\nRoses are red"));
    free(md);
    app_hist_free(r);
}

/* The real thing: a child process is killed with SIGKILL in the middle of a reply. Every
 * completed message is in the file and the reply is there, marked incomplete. */
static void test_kill_9_during_generation(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct app_hist_conv *c = app_hist_create("glm-4", NULL, NULL);
        if (!c) _exit(1);
        struct app_hist_new u = {
            .parent = -1, .role = APP_HIST_USER, .content = "q", .content_len = 1};
        int32_t ui = app_hist_append(c, &u, NULL);
        struct app_hist_new a = {
            .parent = ui, .role = APP_HIST_ASSISTANT, .content = "a1", .content_len = 2};
        int32_t ai = app_hist_append(c, &a, NULL);
        struct app_hist_new u2 = {
            .parent = ai, .role = APP_HIST_USER, .content = "q2", .content_len = 2};
        int32_t u2i = app_hist_append(c, &u2, NULL);
        int32_t r = app_hist_reply_begin(c, u2i, APP_HIST_ASSISTANT, "glm-4", NULL);
        if (r < 0) _exit(1);
        c->msgs[r].last_partial_ms -= APP_HIST_PARTIAL_MS;
        if (app_hist_reply_partial(c, r, "streamed so far", 15, NULL) != 1) _exit(1);
        if (write(fds[1], c->id, strlen(c->id) + 1) < 0) _exit(1);
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    close(fds[1]);
    char id[64] = "";
    ssize_t n = read(fds[0], id, sizeof id - 1);
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_true(n > 0);
    char *why = NULL;
    struct app_hist_conv *c = app_hist_open(id, false, &why);
    if (!c) fail_msg("%s", why);
    assert_null(c->warning);
    assert_int_equal(c->n_msgs, 4);
    for (int i = 0; i < 3; i++)
        assert_true(c->msgs[i].complete);
    assert_string_equal(c->msgs[2].content, "q2");
    assert_false(c->msgs[3].complete);
    assert_string_equal(c->msgs[3].content, "streamed so far");
    assert_int_equal(c->leaf, 3);
    app_hist_free(c);
}

/* A write cut by a crash: the last line is ignored with a warning; appending afterwards seals
 * it with a torn record instead of cutting the file. */
static void test_torn_last_line(void **state)
{
    char *why = NULL;
    struct app_hist_conv *c = app_hist_create(NULL, NULL, &why);
    assert_non_null(c);
    add(c, -1, APP_HIST_USER, "one");
    add(c, 0, APP_HIST_ASSISTANT, "two");
    char id[64];
    snprintf(id, sizeof id, "%s", c->id);
    char path[768];
    snprintf(path, sizeof path, "%s", c->path);
    app_hist_free(c);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 10), 0);
    size_t len;
    char *text = tu_read_file(path, &len);
    size_t last = strlen(strrchr(text, '\n') + 1);
    free(text);

    struct app_hist_conv *r = app_hist_open(id, true, &why);
    assert_non_null(r);
    assert_int_equal(r->n_msgs, 1);
    assert_non_null(r->warning);
    char want[256];
    snprintf(want, sizeof want, "conversation %s: last line torn (%zu bytes) — ignored", id, last);
    assert_string_equal(r->warning, want);
    add(r, 0, APP_HIST_ASSISTANT, "two again");
    app_hist_free(r);

    text = tu_read_file(path, &len);
    assert_true(len > (size_t)st.st_size - 10); /* nothing was cut */
    assert_non_null(strstr(text, "{\"type\":\"torn\",\"line\":3,"));
    free(text);
    r = app_hist_open(id, false, &why);
    assert_non_null(r);
    assert_null(r->warning);
    assert_int_equal(r->n_msgs, 2);
    assert_string_equal(r->msgs[1].content, "two again");
    app_hist_free(r);

    /* A torn line that ends with "\n" is tolerated as well when it is last. */
    write_conv("torn2", HDR("torn2") "{\"type\":\"message\",\"id\":\"m1\",\"parent\":null,"
                                     "\"role\":\"user\",\"content\":\"hi\",\"created\":"
                                     "\"2026-11-20T10:00:01Z\",\"complete\":true}\n"
                                     "{\"type\":\"message\",\"id\":\"m2\",\"par\n");
    r = app_hist_open("torn2", false, &why);
    assert_non_null(r);
    assert_non_null(strstr(r->warning, "last line torn (32 bytes)"));
    app_hist_free(r);
}

static void expect_load_error(const char *id, const char *text, const char *want)
{
    char *why = NULL;
    write_conv(id, text);
    struct app_hist_conv *c = app_hist_open(id, false, &why);
    if (c) fail_msg("%s: loaded, want error '%s'", id, want);
    assert_non_null(why);
    char full[1024];
    snprintf(full, sizeof full, "%s%s", conv_path(id), want);
    if (strncmp(why, full, strlen(full)) != 0) fail_msg("got '%s', want '%s...'", why, full);
    free(why);
}

#define MSG(id, parent, role, content)                                                             \
    "{\"type\":\"message\",\"id\":\"" id "\",\"parent\":" parent ",\"role\":\"" role               \
    "\",\"content\":\"" content "\",\"created\":\"2026-11-20T10:00:01Z\",\"complete\":true}\n"

static void test_damaged_lines(void **state)
{
    expect_load_error("mid",
                      HDR("mid") MSG("m1", "null", "user", "a") "{\"type\":\"mess\n" MSG(
                          "m2", "\"m1\"", "assistant", "b"),
                      ":3: not a JSON object");
    expect_load_error("role", HDR("role") MSG("m1", "null", "robot", "a"), ":2: role: expected");
    expect_load_error("parent", HDR("parent") MSG("m1", "\"m9\"", "user", "a"),
                      ":2: parent: no earlier message 'm9'");
    expect_load_error("nopar",
                      HDR("nopar") "{\"type\":\"message\",\"id\":\"m1\",\"role\":\"user\","
                                   "\"content\":\"a\",\"created\":\"2026-11-20T10:00:"
                                   "01Z\",\"complete\":true}\n" MSG("m2", "\"m1\"", "user", "b"),
                      ":2: parent: missing");
    expect_load_error("content",
                      HDR("content") "{\"type\":\"message\",\"id\":\"m1\",\"parent\":"
                                     "null,\"role\":\"user\",\"content\":7,\"created\":"
                                     "\"2026-11-20T10:00:01Z\",\"complete\":true}\n" MSG(
                                         "m2", "\"m1\"", "user", "b"),
                      ":2: content: expected a string");
    expect_load_error("created",
                      HDR("created") "{\"type\":\"message\",\"id\":\"m1\",\"parent\":"
                                     "null,\"role\":\"user\",\"content\":\"a\","
                                     "\"created\":\"yesterday\",\"complete\":true}\n",
                      ":2: created: expected an ISO-8601 time");
    expect_load_error("dup",
                      HDR("dup") MSG("m1", "null", "user", "a") MSG("m1", "null", "user", "b"),
                      ":3: id: message 'm1' is already complete");
    expect_load_error("tools",
                      HDR("tools") "{\"type\":\"message\",\"id\":\"m1\",\"parent\":null,"
                                   "\"role\":\"user\",\"content\":\"a\",\"tools\":[],"
                                   "\"created\":\"2026-11-20T10:00:01Z\",\"complete\":"
                                   "true}\n",
                      ":2: tools: only the system message");
    expect_load_error("timings",
                      HDR("timings") "{\"type\":\"message\",\"id\":\"m1\",\"parent\":"
                                     "null,\"role\":\"user\",\"content\":\"a\","
                                     "\"timings\":{\"n_gen\":-1},\"created\":\"2026-11-"
                                     "20T10:00:01Z\",\"complete\":true}\n",
                      ":2: timings.n_gen: expected a non-negative integer");
    expect_load_error("select",
                      HDR("select")
                          MSG("m1", "null", "user", "a") "{\"type\":\"select\",\"leaf\":\"m5\"}\n",
                      ":3: leaf: no earlier message 'm5'");
    expect_load_error("nohdr", MSG("m1", "null", "user", "a"), ":1: type: the first line must");
    expect_load_error("newer",
                      "{\"type\":\"header\",\"version\":2,\"id\":\"newer\",\"created\":"
                      "\"2026-11-20T10:00:00Z\"}\n",
                      ":1: version: format 2 is newer");
    expect_load_error("empty", "", ": empty file");
    /* an invalid line followed by a torn record that does not name it is still an error */
    expect_load_error("badseal",
                      HDR("badseal") "{\"ty\n{\"type\":\"torn\",\"line\":2,\"bytes\":9}\n",
                      ":2: not a JSON object");
}

static void test_forward_compatible(void **state)
{
    char *why = NULL;
    write_conv(
        "fwd",
        HDR("fwd") MSG(
            "m1", "null", "user",
            "hi") "{\"type\":\"vote\",\"leaf\":\"m1\",\"score\":1}\n"
                  "{\"type\":\"branch\",\"from\":\"m1\"}\n"
                  "{\"type\":\"message\",\"id\":\"m2\",\"parent\":\"m1\",\"role\":\"assistant\","
                  "\"content\":\"hello\",\"created\":\"2026-11-20T10:00:02+08:00\",\"complete\":"
                  "true,"
                  "\"future_field\":{\"x\":1}}\n"
                  "{\"type\":\"title\",\"title\":\"Greetings\",\"created\":\"2026-11-21T09:00:"
                  "00Z\"}\n");
    struct app_hist_conv *c = app_hist_open("fwd", false, &why);
    if (!c) fail_msg("%s", why);
    assert_int_equal(c->n_msgs, 2);
    assert_string_equal(c->title, "Greetings");
    int64_t want;
    assert_int_equal(app_hist_parse_time("2026-11-21T09:00:00.000Z", &want), 0);
    assert_true(c->updated_ms == want);
    /* +08:00 is taken into account */
    int64_t a, b;
    assert_int_equal(app_hist_parse_time("2026-11-20T10:00:02+08:00", &a), 0);
    assert_int_equal(app_hist_parse_time("2026-11-20T02:00:02Z", &b), 0);
    assert_true(a == b);
    assert_true(c->msgs[1].created_ms == a);
    app_hist_free(c);
}

static void test_list_search_export(void **state)
{
    char *why = NULL;
    write_conv("20261120T100000Z-aaaa",
               HDR("20261120T100000Z-aaaa") MSG("m1", "null", "user", "Hello WORLD, how are you?")
                   MSG("m2", "\"m1\"", "assistant", "Fine.\\n```c\\nint x = 1;\\n```"));
    write_conv(
        "20261121T100000Z-bbbb",
        "{\"type\":\"header\",\"version\":1,\"id\":\"b\",\"created\":"
        "\"2026-11-21T10:00:00Z\"}\n" MSG("m1", "null", "system", "sys") MSG(
            "m2", "\"m1\"", "user",
            "second\\nline two") "{\"type\":\"message\",\"id\":\"m3\",\"parent\":\"m2\",\"role\":"
                                 "\"assistant\",\"content\":\"{\\\"city\\\": "
                                 "\\\"北京\\\"}\",\"metadata\":"
                                 "\"get_weather\",\"created\":\"2026-11-21T10:00:05Z\","
                                 "\"complete\":true}\n"
                                 "{\"type\":\"message\",\"id\":\"m4\",\"parent\":\"m3\",\"role\":"
                                 "\"observation\",\"content\":\"{\\\"temp_c\\\": 23}\",\"created\":"
                                 "\"2026-11-21T10:00:06Z\",\"complete\":true}\n");
    write_conv("broken", "garbage\n");
    struct app_hist_list l;
    assert_int_equal(app_hist_list(&l, &why), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].id, "20261121T100000Z-bbbb"); /* newest first */
    assert_string_equal(l.v[0].title, "second");
    assert_int_equal(l.v[0].n_msgs, 4);
    assert_string_equal(l.v[1].title, "Hello WORLD, how are you?");
    assert_int_equal(l.n_warnings, 1);
    assert_non_null(strstr(l.warnings[0], "broken.jsonl:1:"));
    app_hist_list_done(&l);

    assert_int_equal(app_hist_search("world", &l, &why), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].id, "20261120T100000Z-aaaa");
    assert_string_equal(l.v[0].match_id, "m1");
    assert_string_equal(l.v[0].snippet, "Hello WORLD, how are you?");
    app_hist_list_done(&l);
    assert_int_equal(app_hist_search("北京", &l, &why), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].match_id, "m3");
    app_hist_list_done(&l);
    assert_int_equal(app_hist_search("nowhere to be found", &l, &why), 0);
    assert_int_equal(l.n, 0);
    app_hist_list_done(&l);

    struct app_hist_conv *c = app_hist_open("20261120T100000Z-aaaa", false, &why);
    assert_non_null(c);
    size_t len;
    char *md = app_hist_export_md(c, &len);
    assert_int_equal(strlen(md), len);
    assert_non_null(strstr(md, "# Hello WORLD, how are you?\n"));
    assert_non_null(strstr(md, "## User\n\nHello WORLD, how are you?\n\n## Assistant\n\nFine.\n"
                               "```c\nint x = 1;\n```\n"));
    assert_null(strstr(md, "incomplete"));
    free(md);
    app_hist_free(c);
    c = app_hist_open("20261121T100000Z-bbbb", false, &why);
    md = app_hist_export_md(c, &len);
    assert_non_null(strstr(md, "## System\n\nsys\n"));
    assert_non_null(strstr(md, "## Assistant · tool call `get_weather`\n\n```json\n{\"city\": "
                               "\"北京\"}\n```\n"));
    assert_non_null(strstr(md, "## Observation\n\n```json\n{\"temp_c\": 23}\n```\n"));
    free(md);
    app_hist_free(c);

    /* id prefixes */
    char *id = NULL;
    assert_int_equal(app_hist_resolve("20261120", &id, &why), 0);
    assert_string_equal(id, "20261120T100000Z-aaaa");
    free(id);
    assert_int_equal(app_hist_resolve("2026112", &id, &why), -1);
    assert_non_null(strstr(why, "ambiguous"));
    free(why);
    why = NULL;
    assert_int_equal(app_hist_resolve("1999", &id, &why), -1);
    assert_non_null(strstr(why, "no such conversation"));
    free(why);
    why = NULL;
    assert_int_equal(app_hist_resolve("../etc/passwd", &id, &why), -1);
    free(why);
    why = NULL;
    assert_int_equal(app_hist_latest(&id, &why), 0);
    assert_string_equal(id, "20261121T100000Z-bbbb");
    free(id);
}

static void test_titles(void **state)
{
    char *why = NULL;
    struct app_hist_conv *c = app_hist_create(NULL, NULL, &why);
    char *t = app_hist_title(c);
    assert_string_equal(t, "(untitled)");
    free(t);
    /* 40 CJK characters = 80 columns: cut to 59 columns + "…" = 29 characters + "…" */
    const char *cjk =
        "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十";
    add(c, -1, APP_HIST_USER, cjk);
    t = app_hist_title(c);
    assert_int_equal(strlen(t), 29 * 3 + 3);
    assert_int_equal(strncmp(t, cjk, 29 * 3), 0);
    assert_string_equal(t + 29 * 3, "…");
    free(t);
    add(c, -1, APP_HIST_USER, "  \x1b[31mred\x1b[0m title\nsecond line");
    t = app_hist_title(c);
    assert_string_equal(t, "red title");
    free(t);
    assert_int_equal(app_hist_set_title(c, "My chat", &why), 0);
    struct app_hist_conv *r = reload(c, false);
    t = app_hist_title(r);
    assert_string_equal(t, "My chat");
    free(t);
    app_hist_free(r);
    app_hist_free(c);
    char *s = app_hist_sanitize("a\x1b]0;evil\x07z\xc2\x9b\tb\x1b[1mc\xff", 21, false);
    assert_string_equal(s, "az bc\xef\xbf\xbd");
    free(s);
    assert_int_equal(app_hist_cp_width(0x4e00), 2);
    assert_int_equal(app_hist_cp_width('a'), 1);
    assert_int_equal(app_hist_cp_width(0x301), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_branched_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_then_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_9_during_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_compatible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_search_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_titles, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
