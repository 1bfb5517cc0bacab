/* themes tests: the four shipped theme files (complete, clean, default-dark equal to the built-in),
 * the parser's values, inheritance and every error with its exact message and line, the search
 * path and listing against temporary user dirs, colour reduction against brute force and known
 * xterm values, and NO_COLOR.
 *
 * The shipped files are read from the source tree: $GLMTERM_SOURCE_DIR/themes (set by CTest), or
 * the themes/ folder two levels above this file when run by hand. Tests that change the
 * environment restore it before returning. */
#include "test_util.h"

#include "themes/themes.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const shipped[] = {"default-dark", "light", "solarized-dark", "high-contrast"};
#define N_SHIPPED (sizeof shipped / sizeof shipped[0])

/* ---- helpers ------------------------------------------------------------------------------- */

static const char *source_themes_dir(void)
{
    static char dir[4096];
    const char *src = getenv("GLMTERM_SOURCE_DIR");
    if (src && *src) {
        snprintf(dir, sizeof dir, "%s/themes", src);
    } else {
        /* __FILE__ is absolute under CMake: <root>/tests/themes/test_themes.c */
        snprintf(dir, sizeof dir, "%s", __FILE__);
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(dir, '/');
            if (!slash) fail_msg("cannot find the source tree from %s", __FILE__);
            *slash = 0;
        }
        strncat(dir, "/themes", sizeof dir - strlen(dir) - 1);
    }
    return dir;
}

static const char *shipped_path(const char *name)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s.theme", source_themes_dir(), name);
    return path;
}

static void make_tmpdir(char *dir, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(dir, cap, "%s/glmterm-themes-XXXXXX", tmp);
    assert_non_null(mkdtemp(dir));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s", path);
    size_t len = strlen(text);
    if (len && fwrite(text, 1, len, f) != len) fail_msg("short write %s", path);
    fclose(f);
}

static void make_dirs(const char *path)
{
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(buf, 0700);
        *p = '/';
    }
    mkdir(buf, 0700);
}

/* Removes a directory tree this test created. */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        remove(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char child[4200];
        snprintf(child, sizeof child, "%s/%s", path, de->d_name);
        remove_tree(child);
    }
    closedir(d);
    rmdir(path);
}

/* Saves an environment variable so a test can restore it. */
struct saved_env {
    const char *name;
    char *value; /* NULL: was unset */
};

static struct saved_env env_save(const char *name)
{
    const char *v = getenv(name);
    struct saved_env s = {name, v ? strdup(v) : NULL};
    return s;
}

static void env_restore(struct saved_env *s)
{
    if (s->value)
        setenv(s->name, s->value, 1);
    else
        unsetenv(s->name);
    free(s->value);
    s->value = NULL;
}

static bool color_eq(const struct theme_color *a, const struct theme_color *b)
{
    if (a->kind != b->kind) return false;
    if (a->kind == THEME_COLOR_INDEX) return a->index == b->index;
    if (a->kind == THEME_COLOR_RGB) return a->r == b->r && a->g == b->g && a->b == b->b;
    return true;
}

static void assert_theme_eq(const struct theme *a, const struct theme *b)
{
    assert_string_equal(a->name, b->name);
    for (int i = 0; i < THEME_COUNT; i++) {
        const struct theme_style *x = &a->style[i], *y = &b->style[i];
        if (!color_eq(&x->fg, &y->fg) || !color_eq(&x->bg, &y->bg) || x->attrs != y->attrs)
            fail_msg("role %s differs", theme_role_name((enum theme_role)i));
    }
}

/* A base no shipped theme resembles: index 201 everywhere and every attribute at once. */
static void poison(struct theme *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "poison");
    for (int i = 0; i < THEME_COUNT; i++) {
        t->style[i].fg = (struct theme_color){THEME_COLOR_INDEX, 201, 0, 0, 0};
        t->style[i].bg = (struct theme_color){THEME_COLOR_INDEX, 201, 0, 0, 0};
        t->style[i].attrs = 0x1F;
    }
}

static struct theme_color rgb(uint8_t r, uint8_t g, uint8_t b)
{
    return (struct theme_color){THEME_COLOR_RGB, 0, r, g, b};
}

/* ---- roles and the shipped files ----------------------------------------------------------- */

static void test_role_names(void **state)
{
    (void)state;
    for (int i = 0; i < THEME_COUNT; i++) {
        const char *n = theme_role_name((enum theme_role)i);
        assert_non_null(n);
        assert_int_equal(theme_role_from_name(n), i);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, theme_role_name((enum theme_role)j));
    }
    assert_string_equal(theme_role_name(THEME_CODE_LABEL), "code_label");
    assert_string_equal(theme_role_name(THEME_STATUS_ACCENT), "status_accent");
    assert_null(theme_role_name(THEME_COUNT));
    assert_int_equal(theme_role_from_name("nope"), -1);
    assert_int_equal(theme_role_from_name(NULL), -1);
}

/* Every shipped file parses cleanly and sets fg, bg and attr of every role itself. */
static void test_shipped_complete(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_SHIPPED; k++) {
        struct theme base, t;
        poison(&base);
        char *why = (char *)"unset";
        int rc = theme_load_file(shipped_path(shipped[k]), &base, &t, &why);
        if (rc != 0) fail_msg("%s: %s", shipped[k], why ? why : "(no message)");
        assert_null(why);
        assert_string_equal(t.name, shipped[k]);
        for (int i = 0; i < THEME_COUNT; i++) {
            const struct theme_style *s = &t.style[i];
            const char *role = theme_role_name((enum theme_role)i);
            if (color_eq(&s->fg, &base.style[i].fg)) fail_msg("%s: %s.fg unset", shipped[k], role);
            if (color_eq(&s->bg, &base.style[i].bg)) fail_msg("%s: %s.bg unset", shipped[k], role);
            if (s->attrs == 0x1F) fail_msg("%s: %s.attr unset", shipped[k], role);
        }
    }
}

static void test_default_file_equals_builtin(void **state)
{
    (void)state;
    struct theme base, file, builtin;
    poison(&base);
    char *why = NULL;
    assert_int_equal(theme_load_file(shipped_path("default-dark"), &base, &file, &why), 0);
    theme_default(&builtin);
    assert_theme_eq(&file, &builtin);
    /* A base of NULL means the built-in. */
    assert_int_equal(theme_load_file(shipped_path("light"), NULL, &file, &why), 0);
    assert_string_equal(file.name, "light");
}

/* Light themes must not leave a background to a (possibly dark) terminal, and spot values. */
static void test_shipped_values(void **state)
{
    (void)state;
    struct theme t;
    char *why = NULL;
    assert_int_equal(theme_load_file(shipped_path("solarized-dark"), NULL, &t, &why), 0);
    struct theme_color base03 = rgb(0x00, 0x2b, 0x36), base0 = rgb(0x83, 0x94, 0x96);
    assert_true(color_eq(&t.style[THEME_NORMAL].fg, &base0));
    assert_true(color_eq(&t.style[THEME_NORMAL].bg, &base03));
    struct theme_color blue = rgb(0x26, 0x8b, 0xd2), red = rgb(0xdc, 0x32, 0x2f);
    assert_true(color_eq(&t.style[THEME_USER].fg, &blue));
    assert_true(color_eq(&t.style[THEME_ERROR].fg, &red));

    static const char *const painted[] = {"light", "solarized-dark", "high-contrast"};
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(theme_load_file(shipped_path(painted[k]), NULL, &t, &why), 0);
        for (int i = 0; i < THEME_COUNT; i++) {
            if (t.style[i].bg.kind == THEME_COLOR_DEFAULT ||
                t.style[i].fg.kind == THEME_COLOR_DEFAULT)
                fail_msg("%s: %s uses the terminal default", painted[k],
                         theme_role_name((enum theme_role)i));
            if (strcmp(painted[k], "high-contrast") == 0 && (t.style[i].attrs & THEME_ATTR_DIM))
                fail_msg("high-contrast: %s is dim", theme_role_name((enum theme_role)i));
        }
    }
    assert_int_equal(theme_load_file(shipped_path("high-contrast"), NULL, &t, &why), 0);
    struct theme_color black = rgb(0, 0, 0), white = rgb(255, 255, 255);
    assert_true(color_eq(&t.style[THEME_NORMAL].fg, &white));
    assert_true(color_eq(&t.style[THEME_NORMAL].bg, &black));
    assert_true(t.style[THEME_ERROR].attrs & THEME_ATTR_REVERSE);
    assert_true(t.style[THEME_LINK].attrs & THEME_ATTR_UNDERLINE);
}

/* ---- parser -------------------------------------------------------------------------------- */

static void test_values(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF# a BOM, CRLF lines, tabs and trailing comments\r\n"
                       "name = my_theme-2\r\n"
                       "\tuser.fg\t=\t#A0b1C2   # mixed-case hex\r\n"
                       "user.bg = 0\n"
                       "user.attr = bold, italic ,underline\n"
                       "tool.fg = 255\n"
                       "tool.bg = default\n"
                       "tool.attr = none\n"
                       "error.attr = reverse,dim\n"
                       "code.fg=#000000\n"
                       "\n"
                       "   # indented comment\n"
                       "link.attr = underline # links: 中文 comment\n";
    const char *path = tu_write_temp(0, text, strlen(text));
    struct theme t, def;
    char *why = NULL;
    assert_int_equal(theme_load_file(path, NULL, &t, &why), 0);
    assert_null(why);
    theme_default(&def);
    assert_string_equal(t.name, "my_theme-2");
    struct theme_color c = rgb(0xa0, 0xb1, 0xc2);
    assert_true(color_eq(&t.style[THEME_USER].fg, &c));
    assert_int_equal(t.style[THEME_USER].bg.kind, THEME_COLOR_INDEX);
    assert_int_equal(t.style[THEME_USER].bg.index, 0);
    assert_int_equal(t.style[THEME_USER].attrs,
                     THEME_ATTR_BOLD | THEME_ATTR_ITALIC | THEME_ATTR_UNDERLINE);
    assert_int_equal(t.style[THEME_TOOL].fg.kind, THEME_COLOR_INDEX);
    assert_int_equal(t.style[THEME_TOOL].fg.index, 255);
    assert_int_equal(t.style[THEME_TOOL].bg.kind, THEME_COLOR_DEFAULT);
    assert_int_equal(t.style[THEME_TOOL].attrs, 0);
    assert_int_equal(t.style[THEME_ERROR].attrs, THEME_ATTR_REVERSE | THEME_ATTR_DIM);
    assert_true(color_eq(&t.style[THEME_ERROR].fg, &def.style[THEME_ERROR].fg));
    c = rgb(0, 0, 0);
    assert_true(color_eq(&t.style[THEME_CODE].fg, &c));
    assert_int_equal(t.style[THEME_LINK].attrs, THEME_ATTR_UNDERLINE);

    /* The buffer form: no NUL needed, same messages. */
    static const char mem[] = "user.fg = 9\nuser.bg = 9x"; /* parsed without its last byte */
    assert_int_equal(theme_load_mem("buf.theme", mem, strlen("user.fg = 9\n"), NULL, &t, &why), 0);
    assert_string_equal(t.name, "buf");
    assert_int_equal(t.style[THEME_USER].fg.index, 9);
    assert_int_equal(theme_load_mem("buf.theme", mem, sizeof mem - 2, NULL, &t, &why), 0);
    assert_int_equal(t.style[THEME_USER].bg.index, 9);
    assert_int_equal(theme_load_mem("buf.theme", mem, sizeof mem - 1, NULL, &t, &why), -1);
    assert_string_equal(why, "buf.theme:2: bad colour '9x' (want #RRGGBB, default or 0..255)");
    free(why);
    assert_int_equal(theme_load_mem("none.theme", NULL, 0, NULL, &t, &why), 0);
    assert_string_equal(t.name, "none");

    /* An empty file is the base; without `name` the name is the file's stem. */
    char dir[512];
    make_tmpdir(dir, sizeof dir);
    write_file(dir, "empty-one.theme", "");
    char p[600];
    snprintf(p, sizeof p, "%s/empty-one.theme", dir);
    assert_int_equal(theme_load_file(p, NULL, &t, &why), 0);
    snprintf(def.name, sizeof def.name, "empty-one");
    assert_theme_eq(&t, &def);
    remove_tree(dir);
}

/* Roles and keys a file leaves out keep the base's values. */
static void test_inheritance(void **state)
{
    (void)state;
    struct theme light, t;
    char *why = NULL;
    assert_int_equal(theme_load_file(shipped_path("light"), NULL, &light, &why), 0);
    const char *text = "name = light-tweak\nuser.fg = #010203\nheading.attr = italic\n";
    const char *path = tu_write_temp(1, text, strlen(text));
    assert_int_equal(theme_load_file(path, &light, &t, &why), 0);
    assert_string_equal(t.name, "light-tweak");
    struct theme_color c = rgb(1, 2, 3);
    assert_true(color_eq(&t.style[THEME_USER].fg, &c));
    assert_true(color_eq(&t.style[THEME_USER].bg, &light.style[THEME_USER].bg));
    assert_int_equal(t.style[THEME_USER].attrs, light.style[THEME_USER].attrs);
    assert_int_equal(t.style[THEME_HEADING].attrs, THEME_ATTR_ITALIC);
    assert_true(color_eq(&t.style[THEME_HEADING].fg, &light.style[THEME_HEADING].fg));
    for (int i = 0; i < THEME_COUNT; i++) {
        if (i == THEME_USER || i == THEME_HEADING) continue;
        assert_true(color_eq(&t.style[i].fg, &light.style[i].fg));
        assert_true(color_eq(&t.style[i].bg, &light.style[i].bg));
        assert_int_equal(t.style[i].attrs, light.style[i].attrs);
    }
    /* NULL base: the built-in default-dark. */
    struct theme def;
    theme_default(&def);
    assert_int_equal(theme_load_file(path, NULL, &t, &why), 0);
    assert_true(color_eq(&t.style[THEME_USER].fg, &c));
    assert_true(color_eq(&t.style[THEME_ASSISTANT].fg, &def.style[THEME_ASSISTANT].fg));
    assert_int_equal(t.style[THEME_HEADING].attrs, THEME_ATTR_ITALIC);
    assert_true(color_eq(&t.style[THEME_HEADING].fg, &def.style[THEME_HEADING].fg));
}

struct bad_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
    int line;
    const char *what;
};

static const struct bad_case bad_cases[] = {
    {"name = x\n\n# comment\nfoo.fg = #000000\n", 0, 4, "unknown role 'foo'"},
    {"user.fg = 1\nbogus = 1\n", 0, 2, "unknown key 'bogus'"},
    {"user.colour = #ffffff\n", 0, 1, "unknown key 'user.colour' (want user.fg, .bg or .attr)"},
    {"user.fg.x = 1\n", 0, 1, "unknown key 'user.fg.x' (want user.fg, .bg or .attr)"},
    {"User.fg = 1\n", 0, 1, "unknown role 'User'"},
    {".fg = 1\n", 0, 1, "unknown role ''"},
    {"user.fg = #12345\n", 0, 1, "bad colour '#12345' (want #RRGGBB, default or 0..255)"},
    {"user.fg = #1234567\n", 0, 1, "bad colour '#1234567' (want #RRGGBB, default or 0..255)"},
    {"user.fg = #gg0000\n", 0, 1, "bad colour '#gg0000' (want #RRGGBB, default or 0..255)"},
    {"\nuser.bg = 256\n", 0, 2, "bad colour '256' (want #RRGGBB, default or 0..255)"},
    {"user.bg = -1\n", 0, 1, "bad colour '-1' (want #RRGGBB, default or 0..255)"},
    {"user.bg = 1000\n", 0, 1, "bad colour '1000' (want #RRGGBB, default or 0..255)"},
    {"user.fg = red\n", 0, 1, "bad colour 'red' (want #RRGGBB, default or 0..255)"},
    {"user.fg = Default\n", 0, 1, "bad colour 'Default' (want #RRGGBB, default or 0..255)"},
    {"user.fg =\n", 0, 1, "bad colour '' (want #RRGGBB, default or 0..255)"},
    {"user.fg = 12 # ok\nuser.bg = 1 2\n", 0, 2,
     "bad colour '1 2' (want #RRGGBB, default or 0..255)"},
    {"user.fg = 1\n\nuser.fg = 2\n", 0, 3, "duplicate key 'user.fg' (first set on line 1)"},
    {"name = a\nuser.attr = bold\nname = b\n", 0, 3, "duplicate key 'name' (first set on line 1)"},
    {"user.fg #ffffff\n", 0, 1, "missing '=' (want key = value)"},
    {"# fine\nuser.fg = 1\njunk\n", 0, 3, "missing '=' (want key = value)"},
    {" = 3\n", 0, 1, "missing key before '='"},
    {"user.attr = bold,blink\n", 0, 1,
     "unknown attribute 'blink' (want bold, dim, italic, underline, reverse or none)"},
    {"user.attr = Bold\n", 0, 1,
     "unknown attribute 'Bold' (want bold, dim, italic, underline, reverse or none)"},
    {"user.attr = bold,,italic\n", 0, 1, "empty attribute in 'user.attr'"},
    {"user.attr =\n", 0, 1, "empty attribute in 'user.attr'"},
    {"user.attr = bold,\n", 0, 1, "empty attribute in 'user.attr'"},
    {"user.attr = none,bold\n", 0, 1, "'none' cannot be combined with other attributes"},
    {"user.attr = bold, none\n", 0, 1, "'none' cannot be combined with other attributes"},
    {"name = My Theme\n", 0, 1, "bad name 'My Theme' (want [a-z0-9_-]+, at most 63 bytes)"},
    {"name =\n", 0, 1, "bad name '' (want [a-z0-9_-]+, at most 63 bytes)"},
    {"# ok\n# \xff\n", 0, 2, "invalid UTF-8"},
    {"user.fg = 1\nuser.bg = \xc0\xaf\n", 0, 2, "invalid UTF-8"}, /* overlong '/' */
    {"# \xed\xa0\x80 surrogate\n", 0, 1, "invalid UTF-8"},        /* U+D800 */
    {"# \xf4\x90\x80\x80 too big\n", 0, 1, "invalid UTF-8"},      /* U+110000 */
    {"\n\n\n# cut \xe2\x82", 0, 4, "invalid UTF-8"},              /* truncated at EOF */
    {"user.fg = 1\x00\nuser.bg = 2\n", 25, 1, "NUL byte"},
    /* Control characters in echoed tokens are neutralised. */
    {"\x1b[31m.fg = 1\n", 0, 1, "unknown role '?[31m'"},
};

/* Every error: -1, the exact "<path>:<line>: <what>", and `out` untouched. */
static void test_errors(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++) {
        const struct bad_case *bc = &bad_cases[k];
        size_t len = bc->len ? bc->len : strlen(bc->text);
        const char *path = tu_write_temp(2, bc->text, len);
        struct theme out, before;
        poison(&out);
        before = out;
        char *why = NULL;
        int rc = theme_load_file(path, NULL, &out, &why);
        if (rc != -1) fail_msg("case %zu: accepted", k);
        assert_non_null(why);
        char want[512];
        snprintf(want, sizeof want, "%s:%d: %s", path, bc->line, bc->what);
        if (strcmp(why, want) != 0) fail_msg("case %zu:\n got  %s\n want %s", k, why, want);
        free(why);
        assert_memory_equal(&out, &before, sizeof out);
        /* why is optional. */
        assert_int_equal(theme_load_file(path, NULL, &out, NULL), -1);
    }
}

static void test_limits(void **state)
{
    (void)state;
    char *why = NULL;
    struct theme t;
    char want[512];

    /* A 512-byte line is fine, 513 is not (line 2). */
    char *buf = malloc(2048);
    assert_non_null(buf);
    int n = snprintf(buf, 2048, "user.fg = 1\n");
    memset(buf + n, '#', 512);
    buf[n + 512] = '\n';
    size_t len = (size_t)n + 513;
    const char *path = tu_write_temp(3, buf, len);
    assert_int_equal(theme_load_file(path, NULL, &t, &why), 0);
    memset(buf + n, '#', 513);
    buf[n + 513] = '\n';
    path = tu_write_temp(3, buf, len + 1);
    assert_int_equal(theme_load_file(path, NULL, &t, &why), -1);
    snprintf(want, sizeof want, "%s:2: line too long (max 512 bytes)", path);
    assert_string_equal(why, want);
    free(why);
    free(buf);

    /* 64 KiB of comments loads; one byte more is refused before parsing. */
    len = 64 * 1024;
    buf = malloc(len + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (i % 64 == 63) ? '\n' : '#';
    path = tu_write_temp(3, buf, len);
    assert_int_equal(theme_load_file(path, NULL, &t, &why), 0);
    buf[len] = '\n';
    path = tu_write_temp(3, buf, len + 1);
    assert_int_equal(theme_load_file(path, NULL, &t, &why), -1);
    snprintf(want, sizeof want, "%s: file too large (max 65536 bytes)", path);
    assert_string_equal(why, want);
    free(why);
    free(buf);

    /* A missing file names the path and the reason. */
    assert_int_equal(theme_load_file("/nonexistent/x.theme", NULL, &t, &why), -1);
    assert_string_equal(why, "/nonexistent/x.theme: No such file or directory");
    free(why);
    /* A directory is not a theme file. */
    assert_int_equal(theme_load_file(source_themes_dir(), NULL, &t, &why), -1);
    assert_non_null(why);
    assert_non_null(strstr(why, "Is a directory"));
    free(why);
}

/* ---- search path and listing --------------------------------------------------------------- */

static void test_search_path(void **state)
{
    (void)state;
    char user[512], empty[512];
    make_tmpdir(user, sizeof user);
    make_tmpdir(empty, sizeof empty);
    struct theme t, shipped_light;
    char *why = NULL, *path = NULL;
    assert_int_equal(theme_load_file(shipped_path("light"), NULL, &shipped_light, &why), 0);

    /* With nothing in the user dir, "light" comes from the installed or source themes. */
    assert_int_equal(theme_load("light", empty, &t, &why), 0);
    assert_theme_eq(&t, &shipped_light);
    assert_int_equal(theme_find("default-dark", empty, &path, &why), 0);
    assert_non_null(path);
    assert_true(strstr(path, "/default-dark.theme") != NULL);
    free(path);

    /* A user theme of the same name wins. */
    write_file(user, "light.theme", "name = light\nuser.fg = #010203\n");
    assert_int_equal(theme_load("light", user, &t, &why), 0);
    struct theme_color c = rgb(1, 2, 3);
    assert_true(color_eq(&t.style[THEME_USER].fg, &c));
    assert_int_equal(theme_find("light", user, &path, &why), 0);
    char want[1200];
    snprintf(want, sizeof want, "%s/light.theme", user);
    assert_string_equal(path, want);
    free(path);
    /* ... and is layered over the built-in default-dark, not over the installed light. */
    struct theme def;
    theme_default(&def);
    assert_true(color_eq(&t.style[THEME_ASSISTANT].fg, &def.style[THEME_ASSISTANT].fg));

    /* A broken user theme is an error, not a silent fallback to the installed one. */
    write_file(user, "high-contrast.theme", "user.fg = #010203\nbogus\n");
    assert_int_equal(theme_load("high-contrast", user, &t, &why), -1);
    snprintf(want, sizeof want, "%s/high-contrast.theme:2: missing '=' (want key = value)", user);
    assert_string_equal(why, want);
    free(why);

    /* Names with '/' or ending in .theme are paths. */
    snprintf(want, sizeof want, "%s/light.theme", user);
    assert_int_equal(theme_load(want, NULL, &t, &why), 0);
    assert_true(color_eq(&t.style[THEME_USER].fg, &c));
    assert_int_equal(theme_load("no-such-dir/x", empty, &t, &why), -1);
    assert_string_equal(why, "no-such-dir/x: No such file or directory");
    free(why);
    assert_int_equal(theme_find("plain.theme", empty, &path, &why), 0);
    assert_string_equal(path, "plain.theme");
    free(path);

    /* Bad names, unknown names, and the built-in that needs no file. */
    static const char *const bad[] = {"Light", "a b", "x.y", "", "caf\xc3\xa9"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(theme_load(bad[k], empty, &t, &why), -1);
        assert_non_null(why);
        free(why);
    }
    assert_int_equal(theme_load("Light", empty, &t, &why), -1);
    assert_string_equal(why,
                        "theme 'Light': bad name (want [a-z0-9_-]+, or a path to a .theme file)");
    free(why);
    assert_int_equal(theme_load(NULL, empty, &t, &why), -1);
    free(why);
    assert_int_equal(theme_load("no-such-theme", empty, &t, &why), -1);
    assert_non_null(why);
    assert_true(strncmp(why, "theme no-such-theme: not found (looked in ", 42) == 0);
    assert_non_null(strstr(why, empty));
    free(why);

    remove_tree(user);
    remove_tree(empty);
}

/* With no user_dir: $XDG_CONFIG_HOME/glmterm/themes, or ~/.config/glmterm/themes when that
 * variable is unset, empty or relative. */
static void test_search_path_env(void **state)
{
    (void)state;
    struct saved_env xdg = env_save("XDG_CONFIG_HOME"), home = env_save("HOME");
    char a[512], b[512], dir[700];
    make_tmpdir(a, sizeof a);
    make_tmpdir(b, sizeof b);
    snprintf(dir, sizeof dir, "%s/glmterm/themes", a);
    make_dirs(dir);
    write_file(dir, "from-xdg.theme", "user.fg = 7\n");
    snprintf(dir, sizeof dir, "%s/.config/glmterm/themes", b);
    make_dirs(dir);
    write_file(dir, "from-home.theme", "user.fg = 8\n");

    struct theme t;
    char *why = NULL;
    setenv("XDG_CONFIG_HOME", a, 1);
    setenv("HOME", b, 1);
    assert_int_equal(theme_load("from-xdg", NULL, &t, &why), 0);
    assert_int_equal(t.style[THEME_USER].fg.index, 7);
    assert_string_equal(t.name, "from-xdg");
    assert_int_equal(theme_load("from-home", NULL, &t, &why), -1);
    free(why);

    setenv("XDG_CONFIG_HOME", "relative/dir", 1);
    assert_int_equal(theme_load("from-home", NULL, &t, &why), 0);
    assert_int_equal(t.style[THEME_USER].fg.index, 8);
    unsetenv("XDG_CONFIG_HOME");
    assert_int_equal(theme_load("from-home", NULL, &t, &why), 0);
    assert_int_equal(theme_load("from-xdg", NULL, &t, &why), -1);
    free(why);
    /* An explicit user_dir replaces the environment's. */
    snprintf(dir, sizeof dir, "%s/glmterm/themes", a);
    assert_int_equal(theme_load("from-xdg", dir, &t, &why), 0);

    /* No HOME and no XDG: installed themes still work. */
    unsetenv("HOME");
    assert_int_equal(theme_load("light", NULL, &t, &why), 0);
    assert_string_equal(t.name, "light");

    env_restore(&xdg);
    env_restore(&home);
    remove_tree(a);
    remove_tree(b);
}

static bool list_has(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

static void test_list(void **state)
{
    (void)state;
    char user[512], sub[700];
    make_tmpdir(user, sizeof user);
    write_file(user, "zz-mine.theme", "user.fg = 1\n");
    write_file(user, "light.theme", "user.fg = 2\n"); /* shadows an installed name */
    write_file(user, "Bad Name.theme", "");
    write_file(user, "notes.txt", "");
    write_file(user, ".theme", "");
    snprintf(sub, sizeof sub, "%s/dir.theme", user);
    make_dirs(sub);

    char **names = NULL;
    int n = theme_list(user, &names);
    assert_true(n >= 5);
    assert_non_null(names);
    for (size_t k = 0; k < N_SHIPPED; k++)
        if (!list_has(names, n, shipped[k])) fail_msg("%s missing from the list", shipped[k]);
    assert_true(list_has(names, n, "zz-mine"));
    assert_false(list_has(names, n, "Bad Name"));
    assert_false(list_has(names, n, "notes"));
    assert_false(list_has(names, n, "dir"));
    assert_false(list_has(names, n, ""));
    for (int i = 1; i < n; i++)
        assert_true(strcmp(names[i - 1], names[i]) < 0); /* sorted, unique */
    theme_list_free(names, n);

    /* A missing user dir is not an error, and the built-in is always there. */
    snprintf(sub, sizeof sub, "%s/missing", user);
    n = theme_list(sub, &names);
    assert_true(n >= (int)N_SHIPPED);
    assert_true(list_has(names, n, "default-dark"));
    assert_false(list_has(names, n, "zz-mine"));
    theme_list_free(names, n);
    theme_list_free(NULL, 0);
    remove_tree(user);
}

/* ---- colour reduction ---------------------------------------------------------------------- */

static int sq(int r1, int g1, int b1, const uint8_t c[3])
{
    return (r1 - c[0]) * (r1 - c[0]) + (g1 - c[1]) * (g1 - c[1]) + (b1 - c[2]) * (b1 - c[2]);
}

static void test_reduce_256(void **state)
{
    (void)state;
    static const struct {
        uint32_t rgb;
        uint8_t want;
    } known[] = {
        {0x000000, 16},  {0xffffff, 231}, {0x808080, 244}, {0xff0000, 196}, {0x00ff00, 46},
        {0x0000ff, 21},  {0x5fafff, 75},  {0x080808, 232}, {0xeeeeee, 255}, {0x121212, 233},
        {0x767676, 243}, {0xd7af87, 180}, {0x7f7f7f, 244}, {0x101010, 233}, {0x030303, 16},
        {0x050505, 232}, {0xfafafa, 231}, {0x002b36, 234}, {0x268bd2, 32},  {0xdc322f, 166},
        {0xf0f0f0, 255},
    };
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        uint32_t v = known[k].rgb;
        uint8_t got = theme_rgb_to_256((uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v);
        if (got != known[k].want) fail_msg("#%06x: got %d want %d", v, got, known[k].want);
    }
    /* Every cube and ramp entry maps to itself (the ramp never repeats a cube grey). */
    uint8_t c[3];
    for (int i = 16; i < 256; i++) {
        theme_index_to_rgb((uint8_t)i, c);
        assert_int_equal(theme_rgb_to_256(c[0], c[1], c[2]), i);
    }
    theme_index_to_rgb(244, c);
    assert_int_equal(c[0], 128);
    theme_index_to_rgb(75, c);
    assert_int_equal(c[0], 0x5f);
    assert_int_equal(c[1], 0xaf);
    assert_int_equal(c[2], 0xff);
    /* Against brute force over 16..255: the choice is always at minimum distance. */
    uint64_t seed = 0x7468656d6573ULL;
    for (int it = 0; it < 20000; it++) {
        uint64_t x = tu_rand(&seed);
        int r = (int)(x & 255), g = (int)((x >> 8) & 255), b = (int)((x >> 16) & 255);
        int best = -1;
        for (int i = 16; i < 256; i++) {
            theme_index_to_rgb((uint8_t)i, c);
            int d = sq(r, g, b, c);
            if (best < 0 || d < best) best = d;
        }
        theme_index_to_rgb(theme_rgb_to_256((uint8_t)r, (uint8_t)g, (uint8_t)b), c);
        if (sq(r, g, b, c) != best) fail_msg("#%02x%02x%02x not nearest", r, g, b);
    }
}

static void test_reduce_16(void **state)
{
    (void)state;
    static const struct {
        uint32_t rgb;
        uint8_t want;
    } known[] = {
        {0x000000, 0},  {0xffffff, 15}, {0xff0000, 9},  {0xcd0000, 1},
        {0x800000, 1},  {0x808080, 8},  {0xc0c0c0, 7},  {0x0000ff, 4},
        {0xffff00, 11}, {0x00ffff, 14}, {0x5c5cff, 12}, {0xff00ff, 13},
        {0x00cd00, 2},  {0x303030, 0},  {0x5fafff, 12}, {0x87d787, 8},
    };
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        uint32_t v = known[k].rgb;
        uint8_t got = theme_rgb_to_16((uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v);
        if (got != known[k].want) fail_msg("#%06x: got %d want %d", v, got, known[k].want);
    }
    uint8_t c[3];
    for (int i = 0; i < 16; i++) {
        theme_index_to_rgb((uint8_t)i, c);
        assert_int_equal(theme_rgb_to_16(c[0], c[1], c[2]), i);
    }

    /* theme_color_reduce: what ui/ asks with curses' COLORS. */
    struct theme_color def = {THEME_COLOR_DEFAULT, 0, 0, 0, 0};
    struct theme_color idx200 = {THEME_COLOR_INDEX, 200, 0, 0, 0}; /* #ff00d7 */
    struct theme_color idx3 = {THEME_COLOR_INDEX, 3, 0, 0, 0};
    struct theme_color grey = rgb(0x80, 0x80, 0x80);
    assert_int_equal(theme_color_reduce(&def, 256), -1);
    assert_int_equal(theme_color_reduce(&idx200, 256), 200);
    assert_int_equal(theme_color_reduce(&idx200, 16), 13);
    assert_int_equal(theme_color_reduce(&idx200, 8), 5);
    assert_int_equal(theme_color_reduce(&idx3, 8), 3);
    assert_int_equal(theme_color_reduce(&grey, 256), 244);
    assert_int_equal(theme_color_reduce(&grey, 88), 8);
    struct theme_color silver = rgb(0xc0, 0xc0, 0xc0);
    assert_int_equal(theme_color_reduce(&silver, 8), 7);
    assert_int_equal(theme_color_reduce(&grey, 2), -1);
}

static void test_no_color(void **state)
{
    (void)state;
    struct saved_env s = env_save("NO_COLOR");
    unsetenv("NO_COLOR");
    assert_false(theme_no_color());
    setenv("NO_COLOR", "", 1);
    assert_false(theme_no_color());
    setenv("NO_COLOR", "1", 1);
    assert_true(theme_no_color());
    setenv("NO_COLOR", "0", 1); /* any non-empty value, per no-color.org */
    assert_true(theme_no_color());
    env_restore(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_shipped_complete),
        cmocka_unit_test(test_default_file_equals_builtin),
        cmocka_unit_test(test_shipped_values),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_inheritance),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_search_path),
        cmocka_unit_test(test_search_path_env),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_reduce_256),
        cmocka_unit_test(test_reduce_16),
        cmocka_unit_test(test_no_color),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
