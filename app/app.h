/* app — the program: command line, subcommands, and (later) the loop, config, history.
 *
 * This header is what main.c and the app tests use. Every subcommand is a function taking the
 * arguments after its name and returning the process exit status (0 ok, 1 runtime error,
 * 2 usage error); errors are printed to stderr as one line "glmterm: <subject>: <what>".
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "tokenizer/tokenizer.h"

enum app_exit {
    APP_EXIT_OK = 0,
    APP_EXIT_RUNTIME = 1,
    APP_EXIT_USAGE = 2,
};

/* The configuration file given with --config (NULL: the default place). Main thread. */
void app_set_config_path(const char *path);
const char *app_config_path(void);

/* Prints "glmterm: <fmt...>" and a newline to stderr. */
void app_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The tokenizer of MODEL|TOKENIZER: a .gguf file (its tokenizer.ggml.* keys), a Hugging Face
 * model directory, a tokenizer.model ranks file or a tokenizer.json. On success returns the
 * vocabulary and, when `kind` is not NULL, the chat template to use (from the template stored
 * with the model, else the architecture). NULL with *why set on failure. */
struct tok_vocab *app_tokenizer_open(const char *path, enum tok_template_kind *kind, char **why);

/* The built-in demo model (a tiny random-weight GLM-4, engine/demo.c): writes its path into
 * `path`, generating the file under $XDG_DATA_HOME/glmterm on first use. 0, or -1 with *why. */
int app_demo_model(char *path, size_t cap, char **why);
/* MODEL arguments: "demo" is the built-in demo model; anything else is returned as given.
 * NULL with *why when the demo model cannot be made. */
const char *app_model_resolve(const char *arg, char *buf, size_t cap, char **why);

/* mkdir -p: creates `dir` and every missing parent with mode 0700. Returns 0, or -1 with
 * *why (when not NULL; caller frees) one line naming the directory that failed. */
int app_mkdirs(const char *dir, char **why);

/* Reads all of `f` (at most `cap` bytes) into a malloc'd NUL-terminated buffer. NULL with
 * *why on failure or when the input is larger than cap. */
char *app_read_stream(FILE *f, const char *name, size_t cap, size_t *len, char **why);

/* Stop strings over streamed text (stop.c). Loop or engine thread: one owner at a time. */
struct app_stop {
    const char *const *strings; /* borrowed */
    size_t n;
    struct tok_buf held; /* text that may still begin a stop string */
    bool stopped;
};
void app_stop_init(struct app_stop *st, const char *const *strings, size_t n);
void app_stop_done(struct app_stop *st);
/* Appends to `out` the part of `text` that can be shown; returns 1 once a stop string was
 * found (the text before it is in `out`, later text is dropped), 0 otherwise, -1 on no
 * memory. */
int app_stop_feed(struct app_stop *st, const char *text, size_t len, struct tok_buf *out);
/* End of the stream: releases held text when no stop string matched. */
int app_stop_flush(struct app_stop *st, struct tok_buf *out);

/* Subcommands. argv[0] is the subcommand name. */
int app_cmd_tokenize(int argc, char **argv);
int app_cmd_template(int argc, char **argv);
int app_cmd_run(int argc, char **argv);
int app_cmd_bench(int argc, char **argv);
int app_cmd_chat(int argc, char **argv);
int app_cmd_perplexity(int argc, char **argv);
int app_cmd_history(int argc, char **argv);
int app_cmd_quantize(int argc, char **argv);
