/* themes — role names, the built-in default-dark theme, the `.theme` parser, the search path and
 * colour reduction.
 *
 * Data model: a `struct theme` is a flat array of styles indexed by `enum theme_role`; a theme
 * file is a list of overrides applied to a copy of a base theme (the built-in default-dark unless
 * the caller gives another), so a file that sets three keys is a complete theme. Parsing happens
 * on a private copy; the caller's `out` changes only on success.
 *
 * Theme files are untrusted input: the whole file is read under a size cap, every line is checked
 * for length, NUL bytes and UTF-8 before it is looked at, and anything echoed back in an error
 * message is cut short and has its control characters replaced.
 *
 * Search path for a theme name (first hit wins, a broken file is an error, not a skip): the user
 * dir (the caller's, else $XDG_CONFIG_HOME/glmterm/themes, else ~/.config/glmterm/themes), the
 * installed data dir (GLMTERM_THEMES_DIR), then the source tree (GLMTERM_SOURCE_THEMES_DIR) so a
 * build runs without being installed. "default-dark" also exists with no file at all.
 *
 * No state, no printing; functions reading the environment (getenv) must not race setenv.
 */
#include "themes/themes.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Caps on untrusted input. A theme with every role set and generous comments is about 4 KiB;
 * these leave plenty of room while bounding memory and the work per file. */
#define THEME_FILE_MAX (64 * 1024)
#define THEME_LINE_MAX 512
#define THEME_PATH_MAX 4096
#define THEME_LIST_MAX 1024 /* names kept by theme_list */
#define THEME_ECHO_MAX 48   /* bytes of a bad token quoted in an error */

#define THEME_DEFAULT_NAME "default-dark"
#define THEME_NAME_CAP     sizeof(((struct theme *)0)->name)

static const char *const role_names[THEME_COUNT] = {
    [THEME_NORMAL] = "normal",
    [THEME_DIM] = "dim",
    [THEME_USER] = "user",
    [THEME_ASSISTANT] = "assistant",
    [THEME_SYSTEM] = "system",
    [THEME_TOOL] = "tool",
    [THEME_OBSERVATION] = "observation",
    [THEME_ERROR] = "error",
    [THEME_WARNING] = "warning",
    [THEME_HEADING] = "heading",
    [THEME_EMPH] = "emph",
    [THEME_STRONG] = "strong",
    [THEME_CODE] = "code",
    [THEME_CODE_LABEL] = "code_label",
    [THEME_LINK] = "link",
    [THEME_QUOTE] = "quote",
    [THEME_TABLE_BORDER] = "table_border",
    [THEME_BORDER] = "border",
    [THEME_BORDER_FOCUS] = "border_focus",
    [THEME_TITLE] = "title",
    [THEME_STATUS] = "status",
    [THEME_STATUS_ACCENT] = "status_accent",
    [THEME_INPUT] = "input",
    [THEME_HINT] = "hint",
    [THEME_SELECTION] = "selection",
};

const char *theme_role_name(enum theme_role role)
{
    if ((int)role < 0 || role >= THEME_COUNT) return NULL;
    return role_names[role];
}

int theme_role_from_name(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < THEME_COUNT; i++)
        if (strcmp(role_names[i], name) == 0) return i;
    return -1;
}

/* ---- built-in default-dark --------------------------------------------------------------- */

/* Mirrors themes/default-dark.theme value for value (tests/themes checks it); see that file for
 * the reasoning behind each colour. Every RGB value is an exact xterm-256 entry, so 256-colour
 * terminals show the theme unchanged. */
#define DEF                                                                                        \
    {                                                                                              \
        THEME_COLOR_DEFAULT, 0, 0, 0, 0                                                            \
    }
#define RGB(v)                                                                                     \
    {                                                                                              \
        THEME_COLOR_RGB, 0, (uint8_t)((v) >> 16), (uint8_t)((v) >> 8), (uint8_t)(v)                \
    }
#define B THEME_ATTR_BOLD
#define I THEME_ATTR_ITALIC
#define U THEME_ATTR_UNDERLINE

static const struct theme_style default_dark[THEME_COUNT] = {
    [THEME_NORMAL] = {DEF, DEF, 0},
    [THEME_DIM] = {RGB(0x8a8a8a), DEF, 0},
    [THEME_USER] = {RGB(0x5fafff), DEF, B},
    [THEME_ASSISTANT] = {RGB(0x87d787), DEF, B},
    [THEME_SYSTEM] = {RGB(0xaf87ff), DEF, I},
    [THEME_TOOL] = {RGB(0xffaf5f), DEF, 0},
    [THEME_OBSERVATION] = {RGB(0x87afaf), DEF, 0},
    [THEME_ERROR] = {RGB(0xff5f5f), DEF, B},
    [THEME_WARNING] = {RGB(0xffd75f), DEF, B},
    [THEME_HEADING] = {RGB(0x5fd7d7), DEF, B},
    [THEME_EMPH] = {DEF, DEF, I},
    [THEME_STRONG] = {RGB(0xffffff), DEF, B},
    [THEME_CODE] = {RGB(0xd7af87), RGB(0x262626), 0},
    [THEME_CODE_LABEL] = {RGB(0x949494), RGB(0x262626), I},
    [THEME_LINK] = {RGB(0x87afff), DEF, U},
    [THEME_QUOTE] = {RGB(0xa8a8a8), DEF, I},
    [THEME_TABLE_BORDER] = {RGB(0x585858), DEF, 0},
    [THEME_BORDER] = {RGB(0x4e4e4e), DEF, 0},
    [THEME_BORDER_FOCUS] = {RGB(0x5fafff), DEF, B},
    [THEME_TITLE] = {RGB(0xd0d0d0), DEF, B},
    [THEME_STATUS] = {RGB(0xd0d0d0), RGB(0x303030), 0},
    [THEME_STATUS_ACCENT] = {RGB(0x87d787), RGB(0x303030), B},
    [THEME_INPUT] = {DEF, DEF, 0},
    [THEME_HINT] = {RGB(0x808080), DEF, 0},
    [THEME_SELECTION] = {RGB(0xffffff), RGB(0x005f87), B},
};

#undef DEF
#undef RGB
#undef B
#undef I
#undef U

void theme_default(struct theme *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", THEME_DEFAULT_NAME);
    memcpy(out->style, default_dark, sizeof out->style);
}

/* ---- errors -------------------------------------------------------------------------------- */

/* Sets *why to a new formatted string (left NULL when out of memory). */
static void set_why(char **why, const char *fmt, ...)
{
    if (!why) return;
    *why = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    char *s = malloc((size_t)n + 1);
    if (!s) return;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *why = s;
}

/* Copies `len` bytes of valid UTF-8 for quoting in a message: at most THEME_ECHO_MAX bytes, cut
 * on a character boundary, control characters (C0, DEL) replaced by '?'. A theme file must not
 * be able to put escape sequences on the user's terminal through our error messages. */
static void echo_token(char *dst, size_t cap, const char *src, size_t len)
{
    size_t max = cap - 4 < THEME_ECHO_MAX ? cap - 4 : THEME_ECHO_MAX;
    size_t n = len;
    bool cut = false;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (cut) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = 0;
}

/* ---- text helpers -------------------------------------------------------------------------- */

/* True when s[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < n) return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims spaces and tabs from both ends of [*s, *s + *len). */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_space(**s))
        (*s)++, (*len)--;
    while (*len > 0 && is_space((*s)[*len - 1]))
        (*len)--;
}

static bool token_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* Theme names as used on the command line and in the config: [a-z0-9_-]+, shorter than
 * struct theme's name buffer. */
static bool name_valid(const char *s, size_t len)
{
    if (len == 0 || len >= THEME_NAME_CAP) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- values ---------------------------------------------------------------------------------- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* `#RRGGBB`, `default`, or a decimal xterm index 0..255 (1 to 3 digits). */
static int parse_color(const char *s, size_t len, struct theme_color *out)
{
    struct theme_color c = {THEME_COLOR_DEFAULT, 0, 0, 0, 0};
    if (token_is(s, len, "default")) {
        *out = c;
        return 0;
    }
    if (len == 7 && s[0] == '#') {
        int v[6];
        for (int i = 0; i < 6; i++)
            if ((v[i] = hex_digit(s[1 + i])) < 0) return -1;
        c.kind = THEME_COLOR_RGB;
        c.r = (uint8_t)(v[0] << 4 | v[1]);
        c.g = (uint8_t)(v[2] << 4 | v[3]);
        c.b = (uint8_t)(v[4] << 4 | v[5]);
        *out = c;
        return 0;
    }
    if (len >= 1 && len <= 3) {
        int v = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') return -1;
            v = v * 10 + (s[i] - '0');
        }
        if (v > 255) return -1;
        c.kind = THEME_COLOR_INDEX;
        c.index = (uint8_t)v;
        *out = c;
        return 0;
    }
    return -1;
}

static const struct {
    const char *name;
    uint32_t bit;
} attr_names[] = {
    {"bold", THEME_ATTR_BOLD},       {"dim", THEME_ATTR_DIM},
    {"italic", THEME_ATTR_ITALIC},   {"underline", THEME_ATTR_UNDERLINE},
    {"reverse", THEME_ATTR_REVERSE},
};

/* A comma list of attribute names, or `none` alone. -1 for a bad item (*bad and *bad_len give
 * it; empty for an empty item), -2 for `none` combined with other items. */
static int parse_attrs(const char *s, size_t len, uint32_t *out, const char **bad, size_t *bad_len)
{
    uint32_t attrs = 0;
    const char *p = s, *end = s + len;
    bool none = false;
    int items = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item = p;
        size_t n = (size_t)((comma ? comma : end) - p);
        trim(&item, &n);
        *bad = item;
        *bad_len = n;
        if (n == 0) return -1;
        items++;
        if (token_is(item, n, "none")) {
            none = true;
        } else {
            size_t k = 0, count = sizeof attr_names / sizeof attr_names[0];
            while (k < count && !token_is(item, n, attr_names[k].name))
                k++;
            if (k == count) return -1;
            attrs |= attr_names[k].bit;
        }
        if (none && items > 1) return -2; /* `none` combined with anything is a contradiction */
        if (!comma) break;
        p = comma + 1;
    }
    *out = attrs;
    return 0;
}

/* ---- the parser ---------------------------------------------------------------------------- */

enum { PROP_FG, PROP_BG, PROP_ATTR, PROP_COUNT };

struct parse {
    const char *path;
    struct theme th;
    int seen[THEME_COUNT][PROP_COUNT]; /* line that set each key, 0 if none */
    int name_line;
    char **why;
};

static int line_error(struct parse *ps, int line, const char *fmt, ...)
{
    if (!ps->why) return -1;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    set_why(ps->why, "%s:%d: %s", ps->path, line, what);
    return -1;
}

/* One significant line: `key = value` with an optional ` # comment` after the value. */
static int parse_line(struct parse *ps, int lineno, const char *s, size_t len)
{
    char echo[THEME_ECHO_MAX + 4];
    const char *eq = memchr(s, '=', len);
    if (!eq) return line_error(ps, lineno, "missing '=' (want key = value)");

    const char *key = s, *val = eq + 1;
    size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
    trim(&key, &klen);
    trim(&val, &vlen);
    /* A comment after the value starts at a '#' preceded by blank space; a '#' that opens the
     * value is a colour. */
    for (size_t i = 1; i < vlen; i++) {
        if (val[i] == '#' && is_space(val[i - 1])) {
            vlen = i;
            trim(&val, &vlen);
            break;
        }
    }
    if (klen == 0) return line_error(ps, lineno, "missing key before '='");
    echo_token(echo, sizeof echo, key, klen);

    if (token_is(key, klen, "name")) {
        if (ps->name_line)
            return line_error(ps, lineno, "duplicate key 'name' (first set on line %d)",
                              ps->name_line);
        if (!name_valid(val, vlen)) {
            char v[THEME_ECHO_MAX + 4];
            echo_token(v, sizeof v, val, vlen);
            return line_error(ps, lineno, "bad name '%s' (want [a-z0-9_-]+, at most %d bytes)", v,
                              (int)sizeof ps->th.name - 1);
        }
        memcpy(ps->th.name, val, vlen);
        ps->th.name[vlen] = 0;
        ps->name_line = lineno;
        return 0;
    }

    const char *dot = memchr(key, '.', klen);
    if (!dot) return line_error(ps, lineno, "unknown key '%s'", echo);
    size_t rlen = (size_t)(dot - key);
    int role = -1;
    for (int i = 0; i < THEME_COUNT && role < 0; i++)
        if (token_is(key, rlen, role_names[i])) role = i;
    if (role < 0) {
        char r[THEME_ECHO_MAX + 4];
        echo_token(r, sizeof r, key, rlen);
        return line_error(ps, lineno, "unknown role '%s'", r);
    }
    const char *prop = dot + 1;
    size_t plen = klen - rlen - 1;
    int p;
    if (token_is(prop, plen, "fg"))
        p = PROP_FG;
    else if (token_is(prop, plen, "bg"))
        p = PROP_BG;
    else if (token_is(prop, plen, "attr"))
        p = PROP_ATTR;
    else
        return line_error(ps, lineno, "unknown key '%s' (want %s.fg, .bg or .attr)", echo,
                          role_names[role]);
    if (ps->seen[role][p])
        return line_error(ps, lineno, "duplicate key '%s' (first set on line %d)", echo,
                          ps->seen[role][p]);

    struct theme_style *st = &ps->th.style[role];
    char v[THEME_ECHO_MAX + 4];
    if (p == PROP_ATTR) {
        const char *bad;
        size_t bad_len;
        uint32_t attrs;
        int arc = parse_attrs(val, vlen, &attrs, &bad, &bad_len);
        if (arc == -2)
            return line_error(ps, lineno, "'none' cannot be combined with other attributes");
        if (arc != 0) {
            if (bad_len == 0) return line_error(ps, lineno, "empty attribute in '%s'", echo);
            echo_token(v, sizeof v, bad, bad_len);
            return line_error(ps, lineno,
                              "unknown attribute '%s' (want bold, dim, italic, underline, "
                              "reverse or none)",
                              v);
        }
        st->attrs = attrs;
    } else {
        struct theme_color c;
        if (parse_color(val, vlen, &c) != 0) {
            echo_token(v, sizeof v, val, vlen);
            return line_error(ps, lineno, "bad colour '%s' (want #RRGGBB, default or 0..255)", v);
        }
        if (p == PROP_FG)
            st->fg = c;
        else
            st->bg = c;
    }
    ps->seen[role][p] = lineno;
    return 0;
}

/* Reads the whole of `path` (at most THEME_FILE_MAX bytes) into a new buffer. */
static int read_capped(const char *path, char **buf, size_t *len, char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_why(why, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    char *b = malloc(THEME_FILE_MAX + 1);
    if (!b) {
        set_why(why, "%s: out of memory", path);
        goto out;
    }
    size_t n = fread(b, 1, THEME_FILE_MAX + 1, f);
    if (ferror(f)) {
        set_why(why, "%s: %s", path, errno ? strerror(errno) : "read error");
        goto out;
    }
    if (n > THEME_FILE_MAX) {
        set_why(why, "%s: file too large (max %d bytes)", path, THEME_FILE_MAX);
        goto out;
    }
    *buf = b;
    *len = n;
    b = NULL;
    rc = 0;
out:
    free(b);
    fclose(f);
    return rc;
}

/* Derives a theme name from a file name ("dir/my-theme.theme" -> "my-theme") for files without
 * a `name` key; left as the base's name when the stem is not a valid name. */
static void name_from_path(const char *path, char *name, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (ends_with(base, ".theme")) n -= strlen(".theme");
    if (n < cap && name_valid(base, n)) {
        memcpy(name, base, n);
        name[n] = 0;
    }
}

int theme_load_mem(const char *path, const char *data, size_t len, const struct theme *base,
                   struct theme *out, char **why)
{
    if (why) *why = NULL;
    if (!path || !out || (!data && len)) {
        set_why(why, "theme: bad arguments");
        return -1;
    }
    if (len > THEME_FILE_MAX) {
        set_why(why, "%s: file too large (max %d bytes)", path, THEME_FILE_MAX);
        return -1;
    }
    struct parse *ps = calloc(1, sizeof *ps);
    if (!ps) {
        set_why(why, "%s: out of memory", path);
        return -1;
    }
    int rc = -1;
    ps->path = path;
    ps->why = why;
    if (base)
        ps->th = *base;
    else
        theme_default(&ps->th);
    name_from_path(path, ps->th.name, sizeof ps->th.name);

    const char *p = data, *end = data + len;
    int lineno = 0;
    while (p < end) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p;
        size_t n = (size_t)((nl ? nl : end) - p);
        p = nl ? nl + 1 : end;
        if (n > 0 && s[n - 1] == '\r') n--;
        if (n > THEME_LINE_MAX) {
            line_error(ps, lineno, "line too long (max %d bytes)", THEME_LINE_MAX);
            goto out;
        }
        if (memchr(s, 0, n)) {
            line_error(ps, lineno, "NUL byte");
            goto out;
        }
        if (!utf8_valid((const unsigned char *)s, n)) {
            line_error(ps, lineno, "invalid UTF-8");
            goto out;
        }
        if (lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, n -= 3;
        trim(&s, &n);
        if (n == 0 || s[0] == '#') continue;
        if (parse_line(ps, lineno, s, n) != 0) goto out;
    }
    *out = ps->th;
    rc = 0;
out:
    free(ps);
    return rc;
}

int theme_load_file(const char *path, const struct theme *base, struct theme *out, char **why)
{
    if (why) *why = NULL;
    if (!path || !out) {
        set_why(why, "theme: no file given");
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    if (read_capped(path, &buf, &len, why) != 0) return -1;
    int rc = theme_load_mem(path, buf, len, base, out, why);
    free(buf);
    return rc;
}

/* ---- search path --------------------------------------------------------------------------- */

#define THEME_DIRS_MAX 3

/* Fills dirs[] with the search path, first to last; returns how many. A directory whose path
 * would not fit is left out. */
static int search_dirs(const char *user_dir, char (*dirs)[THEME_PATH_MAX])
{
    int n = 0;
    int w = -1;
    if (user_dir && *user_dir) {
        w = snprintf(dirs[n], THEME_PATH_MAX, "%s", user_dir);
    } else {
        /* XDG Base Directory spec: a relative $XDG_CONFIG_HOME is invalid and ignored. */
        const char *xdg = getenv("XDG_CONFIG_HOME");
        const char *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            w = snprintf(dirs[n], THEME_PATH_MAX, "%s/glmterm/themes", xdg);
        else if (home && *home)
            w = snprintf(dirs[n], THEME_PATH_MAX, "%s/.config/glmterm/themes", home);
    }
    if (w > 0 && w < THEME_PATH_MAX) n++;
#ifdef GLMTERM_THEMES_DIR
    w = snprintf(dirs[n], THEME_PATH_MAX, "%s", GLMTERM_THEMES_DIR);
    if (w > 0 && w < THEME_PATH_MAX) n++;
#endif
#ifdef GLMTERM_SOURCE_THEMES_DIR
    w = snprintf(dirs[n], THEME_PATH_MAX, "%s", GLMTERM_SOURCE_THEMES_DIR);
    if (w > 0 && w < THEME_PATH_MAX) n++;
#endif
    return n;
}

static bool is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_path(const char *name)
{
    return strchr(name, '/') || ends_with(name, ".theme");
}

int theme_find(const char *name, const char *user_dir, char **path, char **why)
{
    if (why) *why = NULL;
    *path = NULL;
    if (!name || !*name) {
        set_why(why, "theme: empty name");
        return -1;
    }
    if (is_path(name)) {
        if (!(*path = strdup(name))) {
            set_why(why, "%s: out of memory", name);
            return -1;
        }
        return 0;
    }
    size_t len = strlen(name);
    if (!name_valid(name, len)) {
        char echo[THEME_ECHO_MAX + 4];
        echo_token(echo, sizeof echo, name, len);
        set_why(why, "theme '%s': bad name (want [a-z0-9_-]+, or a path to a .theme file)", echo);
        return -1;
    }

    char(*dirs)[THEME_PATH_MAX] = malloc(THEME_DIRS_MAX * sizeof *dirs);
    char *file = malloc(THEME_PATH_MAX);
    int rc = -1;
    if (!dirs || !file) {
        set_why(why, "theme %s: out of memory", name);
        goto out;
    }
    int n = search_dirs(user_dir, dirs);
    for (int i = 0; i < n; i++) {
        int w = snprintf(file, THEME_PATH_MAX, "%s/%s.theme", dirs[i], name);
        if (w <= 0 || w >= THEME_PATH_MAX || !is_regular(file)) continue;
        if (!(*path = strdup(file))) {
            set_why(why, "theme %s: out of memory", name);
            goto out;
        }
        rc = 0;
        goto out;
    }
    if (strcmp(name, THEME_DEFAULT_NAME) == 0) {
        rc = 0; /* the built-in */
        goto out;
    }
    set_why(why, "theme %s: not found (looked in %s%s%s%s%s)", name, n > 0 ? dirs[0] : "",
            n > 1 ? ", " : "", n > 1 ? dirs[1] : "", n > 2 ? ", " : "", n > 2 ? dirs[2] : "");
out:
    free(dirs);
    free(file);
    return rc;
}

int theme_load(const char *name, const char *user_dir, struct theme *out, char **why)
{
    char *path = NULL;
    if (theme_find(name, user_dir, &path, why) != 0) return -1;
    if (!path) {
        theme_default(out);
        return 0;
    }
    int rc = theme_load_file(path, NULL, out, why);
    free(path);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds `s[0..len)` to the list unless full; -1 when out of memory. */
static int list_add(char ***names, int *n, int *cap, const char *s, size_t len)
{
    if (*n >= THEME_LIST_MAX) return 0;
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        char **grown = realloc(*names, (size_t)ncap * sizeof *grown);
        if (!grown) return -1;
        *names = grown;
        *cap = ncap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, s, len);
    copy[len] = 0;
    (*names)[(*n)++] = copy;
    return 0;
}

int theme_list(const char *user_dir, char ***names)
{
    *names = NULL;
    char **list = NULL;
    int n = 0, cap = 0;
    char(*dirs)[THEME_PATH_MAX] = malloc(THEME_DIRS_MAX * sizeof *dirs);
    char *file = malloc(THEME_PATH_MAX);
    if (!dirs || !file) goto fail;
    if (list_add(&list, &n, &cap, THEME_DEFAULT_NAME, strlen(THEME_DEFAULT_NAME)) != 0) goto fail;

    int nd = search_dirs(user_dir, dirs);
    for (int i = 0; i < nd; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) continue; /* a missing directory is normal (no user themes yet) */
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *fn = de->d_name;
            if (!ends_with(fn, ".theme")) continue;
            size_t len = strlen(fn) - strlen(".theme");
            if (!name_valid(fn, len)) continue; /* theme_load could not find it by name */
            int w = snprintf(file, THEME_PATH_MAX, "%s/%s", dirs[i], fn);
            if (w <= 0 || w >= THEME_PATH_MAX || !is_regular(file)) continue;
            if (list_add(&list, &n, &cap, fn, len) != 0) {
                closedir(d);
                goto fail;
            }
        }
        closedir(d);
    }
    free(dirs);
    free(file);

    qsort(list, (size_t)n, sizeof *list, cmp_names);
    int out = 0;
    for (int i = 0; i < n; i++) {
        if (out > 0 && strcmp(list[out - 1], list[i]) == 0)
            free(list[i]);
        else
            list[out++] = list[i];
    }
    *names = list;
    return out;
fail:
    theme_list_free(list, n);
    free(dirs);
    free(file);
    return -1;
}

void theme_list_free(char **names, int n)
{
    if (!names) return;
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- colour reduction ---------------------------------------------------------------------- */

/* xterm's 256-colour table (256colres.h): indices 16..231 are a 6x6x6 cube with these channel
 * levels, 232..255 a grey ramp 8, 18, ..., 238. */
static const uint8_t cube_levels[6] = {0, 95, 135, 175, 215, 255};

/* xterm's default 16 ANSI colours (XTerm-col.ad / charproc.c defaults). */
static const uint8_t ansi16[16][3] = {
    {0x00, 0x00, 0x00}, {0xcd, 0x00, 0x00}, {0x00, 0xcd, 0x00}, {0xcd, 0xcd, 0x00},
    {0x00, 0x00, 0xee}, {0xcd, 0x00, 0xcd}, {0x00, 0xcd, 0xcd}, {0xe5, 0xe5, 0xe5},
    {0x7f, 0x7f, 0x7f}, {0xff, 0x00, 0x00}, {0x00, 0xff, 0x00}, {0xff, 0xff, 0x00},
    {0x5c, 0x5c, 0xff}, {0xff, 0x00, 0xff}, {0x00, 0xff, 0xff}, {0xff, 0xff, 0xff},
};

static int sq_dist(int r1, int g1, int b1, int r2, int g2, int b2)
{
    return (r1 - r2) * (r1 - r2) + (g1 - g2) * (g1 - g2) + (b1 - b2) * (b1 - b2);
}

static int cube_nearest(int v)
{
    int best = 0;
    for (int i = 1; i < 6; i++)
        if (abs(v - cube_levels[i]) < abs(v - cube_levels[best])) best = i;
    return best;
}

uint8_t theme_rgb_to_256(uint8_t r, uint8_t g, uint8_t b)
{
    /* The cube is a product of per-channel levels, so the nearest cube entry is the nearest
     * level in each channel. */
    int ri = cube_nearest(r), gi = cube_nearest(g), bi = cube_nearest(b);
    int cube_d = sq_dist(r, g, b, cube_levels[ri], cube_levels[gi], cube_levels[bi]);
    int k = 0, grey_d = -1;
    for (int i = 0; i < 24; i++) {
        int v = 8 + 10 * i;
        int d = sq_dist(r, g, b, v, v, v);
        if (grey_d < 0 || d < grey_d) k = i, grey_d = d;
    }
    if (grey_d < cube_d) return (uint8_t)(232 + k);
    return (uint8_t)(16 + 36 * ri + 6 * gi + bi);
}

uint8_t theme_rgb_to_16(uint8_t r, uint8_t g, uint8_t b)
{
    int best = 0, best_d = -1;
    for (int i = 0; i < 16; i++) {
        int d = sq_dist(r, g, b, ansi16[i][0], ansi16[i][1], ansi16[i][2]);
        if (best_d < 0 || d < best_d) best = i, best_d = d;
    }
    return (uint8_t)best;
}

void theme_index_to_rgb(uint8_t index, uint8_t rgb[3])
{
    if (index < 16) {
        memcpy(rgb, ansi16[index], 3);
    } else if (index < 232) {
        int i = index - 16;
        rgb[0] = cube_levels[i / 36];
        rgb[1] = cube_levels[(i / 6) % 6];
        rgb[2] = cube_levels[i % 6];
    } else {
        rgb[0] = rgb[1] = rgb[2] = (uint8_t)(8 + 10 * (index - 232));
    }
}

int theme_color_reduce(const struct theme_color *c, int ncolors)
{
    if (c->kind == THEME_COLOR_DEFAULT || ncolors < 8) return -1;
    uint8_t rgb[3];
    if (c->kind == THEME_COLOR_INDEX) {
        if (c->index < ncolors) return c->index;
        theme_index_to_rgb(c->index, rgb);
    } else {
        rgb[0] = c->r, rgb[1] = c->g, rgb[2] = c->b;
    }
    if (ncolors >= 256) return theme_rgb_to_256(rgb[0], rgb[1], rgb[2]);
    if (ncolors >= 16) return theme_rgb_to_16(rgb[0], rgb[1], rgb[2]);
    int best = 0, best_d = -1;
    for (int i = 0; i < 8; i++) {
        int d = sq_dist(rgb[0], rgb[1], rgb[2], ansi16[i][0], ansi16[i][1], ansi16[i][2]);
        if (best_d < 0 || d < best_d) best = i, best_d = d;
    }
    return best;
}

bool theme_no_color(void)
{
    /* https://no-color.org: "when present and not an empty string". */
    const char *v = getenv("NO_COLOR");
    return v && *v;
}
