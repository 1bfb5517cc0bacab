/* glmterm's entry point: the subcommand dispatcher of the DESIGN.md command-line contract.
 *
 * `glmterm [GLOBAL OPTIONS] [SUBCOMMAND] [ARGS]`; with no subcommand (or only chat options)
 * the TUI is meant. Each subcommand parses its own options and answers --help. Subcommands
 * this version does not have yet say so and exit 2, so scripts can tell "not here" from a
 * runtime failure (1).
 */
#include "app/app.h"

#include <stdlib.h>
#include <string.h>

typedef int (*app_cmd_cb)(int argc, char **argv);

struct command {
    const char *name;
    app_cmd_cb run; /* NULL: not built yet */
    const char *usage;
};

static const struct command COMMANDS[] = {
    {"chat", app_cmd_chat, NULL},
    {"run", app_cmd_run, NULL},
    {"tokenize", app_cmd_tokenize, NULL},
    {"template", app_cmd_template, NULL},
    {"perplexity", app_cmd_perplexity, NULL},
    {"bench", app_cmd_bench, NULL},
    {"quantize", app_cmd_quantize, NULL},
    {"serve", NULL,
     "usage: glmterm serve -m MODEL [--host 127.0.0.1] [--port 8080]\n"
     "\n"
     "OpenAI-compatible HTTP server with native GLM-4 tool calls.\n"},
    {"history", app_cmd_history, NULL},
    {"replay", NULL,
     "usage: glmterm replay FILE\n"
     "\n"
     "Re-runs a recorded session's tool calls and shows how the results differ.\n"},
};

#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *out)
{
    fputs("usage: glmterm [--config FILE] [SUBCOMMAND] [OPTIONS]\n"
          "\n"
          "A terminal workstation for GLM-4 models: chat, side-by-side comparison and\n"
          "tool-call debugging, with its own CPU engine for GGUF and Hugging Face weights.\n"
          "\n"
          "Subcommands:\n"
          "  chat        the terminal workstation (default)\n"
          "  run         headless generation\n"
          "  tokenize    GLM-4 token ids of standard input\n"
          "  template    render a conversation as the GLM-4 prompt (text or ids)\n"
          "  perplexity  perplexity of a text file (as llama-perplexity)\n"
          "  bench       prompt and generation speed, memory, bandwidth roofline\n"
          "  quantize    GGUF or HF directory to a quantised GGUF\n"
          "  serve       OpenAI-compatible server                          [not built yet]\n"
          "  history     saved conversations: ls, show, export --md, search\n"
          "  replay      re-run a recorded session's tool calls            [not built yet]\n"
          "\n"
          "Options:\n"
          "  --config FILE  configuration file (default $XDG_CONFIG_HOME/glmterm/config.json)\n"
          "  -h, --help     this help; `glmterm SUBCOMMAND --help` for a subcommand\n"
          "  -V, --version  print the version\n"
          "\n"
          "MODEL is a .gguf file or a Hugging Face model directory. Exit status: 0 ok,\n"
          "1 runtime error, 2 usage error (or a subcommand this version does not have).\n"
          "See glmterm(1).\n",
          out);
}

static int not_built(const struct command *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(cmd->usage, stdout);
            printf("\nNot built yet in glmterm %s.\n", GLMTERM_VERSION);
            return APP_EXIT_OK;
        }
    }
    app_error("%s: not built yet in this version (%s)", cmd->name, GLMTERM_VERSION);
    return APP_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    int i = 1;
    /* Global options come before the subcommand. */
    while (i < argc && argv[i][0] == '-') {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return APP_EXIT_OK;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("glmterm %s\n", GLMTERM_VERSION);
            return APP_EXIT_OK;
        }
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                app_error("--config: missing FILE");
                return APP_EXIT_USAGE;
            }
            app_set_config_path(argv[i + 1]);
            i += 2;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) {
            app_set_config_path(a + 9);
            i++;
            continue;
        }
        break; /* a chat option such as -m: the default subcommand */
    }
    const struct command *cmd = &COMMANDS[0];
    if (i < argc && argv[i][0] != '-') {
        cmd = NULL;
        for (size_t k = 0; k < N_COMMANDS; k++)
            if (strcmp(argv[i], COMMANDS[k].name) == 0) cmd = &COMMANDS[k];
        if (!cmd) {
            app_error("%s: unknown subcommand (see glmterm --help)", argv[i]);
            return APP_EXIT_USAGE;
        }
        i++;
    }
    /* The subcommand sees its own name as argv[0]. */
    char **sub_argv = argv + i - 1;
    int sub_argc = argc - i + 1;
    char *saved = sub_argv[0];
    sub_argv[0] = (char *)cmd->name;
    int rc = cmd->run ? cmd->run(sub_argc, sub_argv) : not_built(cmd, sub_argc, sub_argv);
    sub_argv[0] = saved;
    return rc;
}
