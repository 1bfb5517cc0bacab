/* themes — colour themes by semantic role (as htop's CRT.c: code names roles, themes colour them).
 *
 * Owns: the role list, the `.theme` file format and its parser, the search path (user themes in
 * $XDG_CONFIG_HOME/glmterm/themes/, installed ones in the data dir, the source tree's themes/
 * when running from a build), and colour reduction for terminals with 256 or 16 colours.
 * Uses libc only; ui/ maps a theme onto curses colour pairs.
 *
 * File format (UTF-8, one `key = value` per line, blank lines ignored; `#` opens a comment at
 * the start of a line or, after a value, when preceded by a space or tab):
 *     name = default-dark                       ([a-z0-9_-]+; default: the file name's stem)
 *     role.fg = #RRGGBB | default | 0..255      role.bg = ...
 *     role.attr = none | bold,dim,italic,underline,reverse (any comma list)
 * with role names as in theme_role_name(). Unknown keys, bad values and duplicate keys are
 * errors naming file and line. The shipped files (default-dark, light, solarized-dark,
 * high-contrast) set every key of every role; tests/themes holds them to that.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum theme_role {
    THEME_NORMAL,        /* body text */
    THEME_DIM,           /* secondary text, timestamps */
    THEME_USER,          /* "you" label and user messages */
    THEME_ASSISTANT,     /* model label */
    THEME_SYSTEM,        /* system prompt */
    THEME_TOOL,          /* tool calls */
    THEME_OBSERVATION,   /* tool results */
    THEME_ERROR,         /* errors */
    THEME_WARNING,       /* notices (truncation, random-weights label) */
    THEME_HEADING,       /* markdown headings */
    THEME_EMPH,          /* *emphasis* */
    THEME_STRONG,        /* **strong** */
    THEME_CODE,          /* inline code and code blocks */
    THEME_CODE_LABEL,    /* fenced block language label and number */
    THEME_LINK,          /* links and citations */
    THEME_QUOTE,         /* block quotes */
    THEME_TABLE_BORDER,  /* table rules */
    THEME_BORDER,        /* pane borders */
    THEME_BORDER_FOCUS,  /* border of the focused pane */
    THEME_TITLE,         /* pane titles */
    THEME_STATUS,        /* status bar */
    THEME_STATUS_ACCENT, /* status bar highlights (state, speed) */
    THEME_INPUT,         /* the input editor */
    THEME_HINT,          /* key hints, placeholder text */
    THEME_SELECTION,     /* selected list entry */
    THEME_COUNT
};

/* A colour: the terminal's default, an xterm-256 index, or 24-bit RGB. */
struct theme_color {
    enum { THEME_COLOR_DEFAULT, THEME_COLOR_INDEX, THEME_COLOR_RGB } kind;
    uint8_t index;   /* THEME_COLOR_INDEX */
    uint8_t r, g, b; /* THEME_COLOR_RGB */
};

enum {
    THEME_ATTR_BOLD = 1 << 0,
    THEME_ATTR_DIM = 1 << 1,
    THEME_ATTR_ITALIC = 1 << 2,
    THEME_ATTR_UNDERLINE = 1 << 3,
    THEME_ATTR_REVERSE = 1 << 4,
};

struct theme_style {
    struct theme_color fg, bg;
    uint32_t attrs; /* THEME_ATTR_* */
};

struct theme {
    char name[64];
    struct theme_style style[THEME_COUNT];
};

/* "normal", "dim", "user", ...: the key prefix in theme files. A static string; NULL for a
 * value outside the enum. Any thread. */
const char *theme_role_name(enum theme_role role);

/* The role named `name` ("code_label"), or -1. Any thread. */
int theme_role_from_name(const char *name);

/* Parses a theme file. Keys the file does not set keep `base`'s value (NULL: the built-in
 * default-dark); without a `name` key the name is the file name's stem. 0, or -1 with
 * *why = "<path>:<line>: <what is wrong>" (or "<path>: <what>" when the file cannot be read)
 * that the caller frees; `out` is written only on success. Errors: unknown role or key, bad
 * colour, bad attribute, bad name, duplicate key, missing '=', invalid UTF-8, NUL byte, a line
 * over 512 bytes, a file over 64 KiB. Any thread; no globals. */
int theme_load_file(const char *path, const struct theme *base, struct theme *out, char **why);

/* theme_load_file on a buffer: `path` only names the text in messages and gives the default
 * name; `data` need not be NUL-terminated. Same results and errors. Any thread. */
int theme_load_mem(const char *path, const char *data, size_t len, const struct theme *base,
                   struct theme *out, char **why);

/* Where theme `name` lives: a `name` containing '/' or ending in ".theme" is a path and is
 * returned as is; otherwise it must match [a-z0-9_-]+ and the first <dir>/<name>.theme that is a
 * regular file wins, dirs in order: `user_dir` (NULL: $XDG_CONFIG_HOME/glmterm/themes, or
 * ~/.config/glmterm/themes when that variable is unset or relative), the installed themes, the
 * source tree's themes/. 0 with *path a new string the caller frees; 0 with *path NULL for
 * "default-dark" when no file exists (use theme_default); -1 with *why. Reads the
 * environment: not concurrently with setenv. */
int theme_find(const char *name, const char *user_dir, char **path, char **why);

/* Finds theme `name` (as theme_find) and loads it over the built-in default-dark. A file found
 * but broken is an error, never skipped. 0, or -1 with *why the caller frees. */
int theme_load(const char *name, const char *user_dir, struct theme *out, char **why);

/* The built-in default-dark theme (always available, no file needed). */
void theme_default(struct theme *out);

/* Names of the available themes (built-in, installed, user), sorted, de-duplicated; returns
 * the count and a malloc'd array of malloc'd strings the caller frees with theme_list_free,
 * or -1 (out of memory, *names NULL). Only files whose stem is a valid name are listed (the
 * ones theme_load can find by name); at most 1024. */
int theme_list(const char *user_dir, char ***names);
void theme_list_free(char **names, int n);

/* Nearest xterm-256 index (16..255: the 6x6x6 cube, levels 0,95,135,175,215,255, and the grey
 * ramp 8+10k) by squared RGB distance, the grey when strictly nearer; and nearest of xterm's
 * 16 default ANSI colours. 0..15 are avoided in 256 mode since users restyle them. */
uint8_t theme_rgb_to_256(uint8_t r, uint8_t g, uint8_t b);
uint8_t theme_rgb_to_16(uint8_t r, uint8_t g, uint8_t b);

/* The RGB value of an xterm-256 index (0..15: xterm's defaults) into rgb[0..2]. */
void theme_index_to_rgb(uint8_t index, uint8_t rgb[3]);

/* The colour index to use on a terminal with `ncolors` colours (curses COLORS): -1 for the
 * terminal default (and for ncolors < 8), an index below ncolors otherwise; an index the
 * terminal lacks and RGB values are reduced to the nearest of 256, 16 or 8 colours. */
int theme_color_reduce(const struct theme_color *c, int ncolors);

/* True when colour is disabled by the environment (NO_COLOR set and non-empty, per
 * https://no-color.org); attributes still apply. Reads the environment. */
bool theme_no_color(void);
