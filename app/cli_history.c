/* `glmterm history`: saved conversations from the command line (history_int.h has the store).
 *
 * ls (the default) lists conversations newest first; show prints the current branch with role
 * labels, marking incomplete replies and messages that have other branches; export writes the
 * current branch as Markdown; search finds conversations whose messages contain a text. An ID
 * may be any unique prefix. Everything that comes from a file is sanitised before it reaches
 * the terminal (export keeps its bytes when it writes to a file or a pipe). Problems with one
 * file (a torn last line, a damaged file during ls/search) are warnings on stderr; the
 * conversation asked for being unreadable is an error (exit 1), bad arguments exit 2.
 */
#include "app/app.h"
#include "app/history_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char HISTORY_USAGE[] =
    "usage: glmterm history [ls | show ID | export ID [--md] [-o FILE] | search TEXT...]\n"
    "\n"
    "Lists, shows, searches and exports saved conversations (one JSONL file each in\n"
    "$XDG_DATA_HOME/glmterm/conversations, default ~/.local/share/glmterm/conversations).\n"
    "\n"
    "  ls                     conversations, newest first: id, last change, number of\n"
    "                         messages, title (the default)\n"
    "  show ID                the current branch with role labels; incomplete replies and\n"
    "                         messages with other branches are marked\n"
    "  export ID [--md] [-o FILE]  the current branch as Markdown, to standard output or FILE\n"
    "                         (written with mode 0600)\n"
    "  search TEXT...         conversations with a message containing TEXT (ASCII letters\n"
    "                         case-insensitive), with the text around the first match\n"
    "  -h, --help             this help\n"
    "\n"
    "ID may be any unique prefix of a conversation id.\n";

static void print_warnings(const struct app_hist_list *l)
{
    for (size_t i = 0; i < l->n_warnings; i++)
        app_error("warning: %s", l->warnings[i]);
}

static void local_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, size, "?");
}

/* Ends stdout; a write error (a full disk, a closed pipe) is a runtime error. */
static int finish_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        app_error("history: standard output: %s", strerror(errno));
        return APP_EXIT_RUNTIME;
    }
    return APP_EXIT_OK;
}

static int cmd_ls(void)
{
    struct app_hist_list l;
    char *why = NULL;
    if (app_hist_list(&l, &why) != 0) {
        app_error("%s", why ? why : "history: out of memory");
        free(why);
        return APP_EXIT_RUNTIME;
    }
    print_warnings(&l);
    for (size_t i = 0; i < l.n; i++) {
        char when[32];
        local_time(l.v[i].updated_ms, when, sizeof when);
        printf("%s  %s  %4zu  %s\n", l.v[i].id, when, l.v[i].n_msgs, l.v[i].title);
    }
    if (l.n == 0 && isatty(STDOUT_FILENO)) {
        char *dir = app_hist_dir(NULL);
        printf("no saved conversations%s%s\n", dir ? " in " : "", dir ? dir : "");
        free(dir);
    }
    app_hist_list_done(&l);
    return finish_stdout();
}

/* Opens the conversation named by an id prefix; NULL after printing the error. */
static struct app_hist_conv *open_conv(const char *prefix)
{
    char *id = NULL, *why = NULL;
    struct app_hist_conv *c = NULL;
    if (app_hist_resolve(prefix, &id, &why) == 0) c = app_hist_open(id, false, &why);
    if (!c)
        app_error("%s", why ? why : "history: out of memory");
    else if (c->warning)
        app_error("warning: %s", c->warning);
    free(id);
    free(why);
    return c;
}

static int cmd_show(const char *prefix)
{
    struct app_hist_conv *c = open_conv(prefix);
    if (!c) return APP_EXIT_RUNTIME;
    int32_t *path = NULL;
    size_t n = 0;
    int rc = APP_EXIT_RUNTIME;
    char *title = app_hist_title(c);
    if (!title || app_hist_path(c, c->leaf, &path, &n) != 0) {
        app_error("history: out of memory");
        goto out;
    }
    char *model = c->model ? app_hist_sanitize(c->model, strlen(c->model), false) : NULL;
    printf("conversation %s · %s", c->id, title);
    if (model) printf(" · %s", model);
    printf(" · %zu message%s\n\n", c->n_msgs, c->n_msgs == 1 ? "" : "s");
    free(model);
    for (size_t i = 0; i < n; i++) {
        const struct app_hist_msg *m = &c->msgs[path[i]];
        size_t n_sib = app_hist_children(c, m->parent, NULL, 0), k = 0;
        int32_t *sib = n_sib > 1 ? malloc(n_sib * sizeof *sib) : NULL;
        char *text = app_hist_sanitize(m->content, strlen(m->content), true);
        char *meta = m->metadata && m->metadata[0]
                         ? app_hist_sanitize(m->metadata, strlen(m->metadata), false)
                         : NULL;
        if ((n_sib > 1 && !sib) || !text || (m->metadata && m->metadata[0] && !meta)) {
            free(sib);
            free(text);
            free(meta);
            app_error("history: out of memory");
            goto out;
        }
        printf("[%s %s", m->id, app_hist_role_name(m->role));
        if (meta) printf(m->role == APP_HIST_ASSISTANT ? " · tool call %s" : " · %s", meta);
        if (n_sib > 1) {
            app_hist_children(c, m->parent, sib, n_sib);
            while (k < n_sib && sib[k] != path[i])
                k++;
            printf(" · branch %zu/%zu", k + 1, n_sib);
        }
        if (!m->complete) printf(" · incomplete");
        size_t tn = strlen(text);
        printf("]\n%s%s\n", text, tn && text[tn - 1] == '\n' ? "" : "\n");
        free(sib);
        free(text);
        free(meta);
    }
    rc = finish_stdout();
out:
    free(path);
    free(title);
    app_hist_free(c);
    return rc;
}

static int write_file(const char *file, const char *s, size_t len)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        app_error("%s: %s", file, strerror(errno));
        return APP_EXIT_RUNTIME;
    }
    while (len > 0) {
        ssize_t w = write(fd, s, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            app_error("%s: %s", file, w < 0 ? strerror(errno) : "short write");
            close(fd);
            return APP_EXIT_RUNTIME;
        }
        s += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0) {
        app_error("%s: %s", file, strerror(errno));
        return APP_EXIT_RUNTIME;
    }
    return APP_EXIT_OK;
}

static int cmd_export(int argc, char **argv)
{
    const char *id = NULL, *file = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--md") == 0 || strcmp(a, "--markdown") == 0) continue;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) {
                app_error("history export: %s: missing FILE", a);
                return APP_EXIT_USAGE;
            }
            file = argv[++i];
        } else if (strncmp(a, "--output=", 9) == 0) {
            file = a + 9;
        } else if (a[0] == '-' && a[1]) {
            app_error("history export: %s: unknown option (the format is --md)", a);
            return APP_EXIT_USAGE;
        } else if (id) {
            app_error("history export: %s: only one ID", a);
            return APP_EXIT_USAGE;
        } else {
            id = a;
        }
    }
    if (!id) {
        app_error("history export: ID is required");
        return APP_EXIT_USAGE;
    }
    struct app_hist_conv *c = open_conv(id);
    if (!c) return APP_EXIT_RUNTIME;
    size_t len = 0;
    char *md = app_hist_export_md(c, &len);
    int rc = APP_EXIT_RUNTIME;
    app_hist_free(c);
    if (!md) {
        app_error("history: out of memory");
        return APP_EXIT_RUNTIME;
    }
    if (file) {
        rc = write_file(file, md, len);
    } else if (isatty(STDOUT_FILENO)) {
        char *clean = app_hist_sanitize(md, len, true);
        if (clean) {
            fputs(clean, stdout);
            rc = finish_stdout();
        } else {
            app_error("history: out of memory");
        }
        free(clean);
    } else {
        fwrite(md, 1, len, stdout);
        rc = finish_stdout();
    }
    free(md);
    return rc;
}

static int cmd_search(int argc, char **argv)
{
    size_t total = 0;
    for (int i = 2; i < argc; i++)
        total += strlen(argv[i]) + 1;
    if (total <= 1) {
        app_error("history search: TEXT is required");
        return APP_EXIT_USAGE;
    }
    char *text = malloc(total);
    if (!text) {
        app_error("history: out of memory");
        return APP_EXIT_RUNTIME;
    }
    text[0] = 0;
    for (int i = 2; i < argc; i++) {
        if (i > 2) strcat(text, " ");
        strcat(text, argv[i]);
    }
    struct app_hist_list l;
    char *why = NULL;
    int rc = app_hist_search(text, &l, &why);
    free(text);
    if (rc != 0) {
        app_error("%s", why ? why : "history: out of memory");
        free(why);
        return APP_EXIT_RUNTIME;
    }
    print_warnings(&l);
    for (size_t i = 0; i < l.n; i++)
        printf("%s  %s\n    %s: %s\n", l.v[i].id, l.v[i].title, l.v[i].match_id, l.v[i].snippet);
    app_hist_list_done(&l);
    return finish_stdout();
}

int app_cmd_history(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(HISTORY_USAGE, stdout);
            return APP_EXIT_OK;
        }
    }
    const char *sub = argc > 1 ? argv[1] : "ls";
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        if (argc > 2) {
            app_error("history ls: %s: unexpected argument", argv[2]);
            return APP_EXIT_USAGE;
        }
        return cmd_ls();
    }
    if (strcmp(sub, "show") == 0) {
        if (argc != 3 || argv[2][0] == '-') {
            app_error("history show: %s", argc < 3 ? "ID is required" : "expected one ID");
            return APP_EXIT_USAGE;
        }
        return cmd_show(argv[2]);
    }
    if (strcmp(sub, "export") == 0) return cmd_export(argc, argv);
    if (strcmp(sub, "search") == 0) return cmd_search(argc, argv);
    app_error("history: %s: unknown command (ls, show, export or search)", sub);
    return APP_EXIT_USAGE;
}
