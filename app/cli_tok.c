/* `glmterm tokenize` and `glmterm template`: the tokenizer and the prompt builder from the
 * command line (for scripts, tests and debugging prompts).
 *
 * tokenize: stdin is one text (ids space-separated on one line), or with --jsonl one JSON
 * object per line whose "text" is encoded (one JSON array of ids per line). --special makes
 * special-token text ("<|user|>") count as the special token; without it, such text is plain.
 * template: stdin is {"messages": [...], "add_generation_prompt": bool, "tools": [...]};
 * prints the rendered prompt text, or with --ids its ids on one line.
 */
#include "app/app.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (256u << 20)

static const char TOKENIZE_USAGE[] =
    "usage: glmterm tokenize -m MODEL|TOKENIZER [--jsonl] [--special]\n"
    "\n"
    "Encodes standard input with the model's GLM-4 tokenizer and prints the ids.\n"
    "\n"
    "  -m, --model PATH  a .gguf file, a Hugging Face model directory, tokenizer.model\n"
    "                    (tiktoken ranks) or tokenizer.json\n"
    "      --jsonl       each input line is a JSON object with a \"text\" string; prints one\n"
    "                    JSON array of ids per line\n"
    "      --special     recognise special-token text such as <|user|> as the special token\n"
    "                    (by default all input is ordinary text)\n"
    "  -h, --help        this help\n";

static const char TEMPLATE_USAGE[] =
    "usage: glmterm template -m MODEL|TOKENIZER [--ids] [--template NAME] < conversation.json\n"
    "\n"
    "Renders a conversation as the GLM-4 prompt the model sees, byte-identical to the model's\n"
    "own chat template. Input: {\"messages\": [...], \"add_generation_prompt\": true|false}\n"
    "with messages {\"role\", \"content\", \"metadata\"?, \"tools\"?} (roles: system, user,\n"
    "assistant, observation) and optionally top-level \"tools\".\n"
    "\n"
    "  -m, --model PATH    a .gguf file, a Hugging Face model directory, tokenizer.model or\n"
    "                      tokenizer.json; its chat template decides the layout\n"
    "      --ids           print the ids (special tokens by id, text BPE-encoded) on one line\n"
    "      --template NAME force a layout: glm4-chat, glm4-0414 or glm-z1\n"
    "  -h, --help          this help\n";

enum { OPT_JSONL = 256, OPT_SPECIAL, OPT_IDS, OPT_TEMPLATE };

static void print_ids(const struct tok_ids *ids, int json)
{
    if (json) putchar('[');
    for (size_t i = 0; i < ids->n; i++) {
        if (i) fputs(json ? ", " : " ", stdout);
        printf("%d", (int)ids->v[i]);
    }
    if (json) putchar(']');
    putchar('\n');
}

int app_cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"jsonl", no_argument, NULL, OPT_JSONL},
                                         {"special", no_argument, NULL, OPT_SPECIAL},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL;
    int jsonl = 0, special = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_JSONL: jsonl = 1; break;
        case OPT_SPECIAL: special = 1; break;
        case 'h': fputs(TOKENIZE_USAGE, stdout); return APP_EXIT_OK;
        default: fputs(TOKENIZE_USAGE, stderr); return APP_EXIT_USAGE;
        }
    }
    if (!model || optind != argc) {
        app_error("tokenize: %s", model ? "unexpected argument" : "-m MODEL|TOKENIZER is required");
        return APP_EXIT_USAGE;
    }
    char *why = NULL;
    struct tok_vocab *v = app_tokenizer_open(model, NULL, &why);
    if (!v) {
        app_error("%s", why ? why : "out of memory");
        free(why);
        return APP_EXIT_RUNTIME;
    }
    int status = APP_EXIT_OK;
    size_t len;
    char *input = app_read_stream(stdin, "stdin", MAX_INPUT, &len, &why);
    if (!input) {
        app_error("%s", why ? why : "stdin: out of memory");
        free(why);
        tok_vocab_free(v);
        return APP_EXIT_RUNTIME;
    }
    int (*encode)(const struct tok_vocab *, const char *, size_t, struct tok_ids *, char **) =
        special ? tok_encode_special : tok_encode;
    struct tok_ids ids = {0};
    if (!jsonl) {
        if (encode(v, input, len, &ids, &why) != TOK_OK) {
            app_error("stdin: %s", why);
            status = APP_EXIT_RUNTIME;
        } else {
            print_ids(&ids, 0);
        }
    } else {
        size_t line_no = 0;
        struct tok_buf text = {0};
        for (char *p = input, *end = input + len; p < end;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *le = nl ? nl : end;
            line_no++;
            if (le > p && le[-1] == '\r') le--;
            if (le == p) { /* blank lines are skipped */
                p = nl ? nl + 1 : end;
                continue;
            }
            text.len = 0;
            ids.n = 0;
            if (tok_json_string_member(p, (size_t)(le - p), "text", &text, &why) != TOK_OK ||
                encode(v, text.s ? text.s : "", text.len, &ids, &why) != TOK_OK) {
                app_error("stdin:%zu: %s", line_no, why);
                status = APP_EXIT_RUNTIME;
                break;
            }
            print_ids(&ids, 1);
            p = nl ? nl + 1 : end;
        }
        tok_buf_done(&text);
    }
    free(why);
    tok_ids_done(&ids);
    free(input);
    tok_vocab_free(v);
    if (fflush(stdout) != 0) {
        app_error("stdout: write error");
        status = APP_EXIT_RUNTIME;
    }
    return status;
}

int app_cmd_template(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"ids", no_argument, NULL, OPT_IDS},
                                         {"template", required_argument, NULL, OPT_TEMPLATE},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL, *force = NULL;
    int want_ids = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_IDS: want_ids = 1; break;
        case OPT_TEMPLATE: force = optarg; break;
        case 'h': fputs(TEMPLATE_USAGE, stdout); return APP_EXIT_OK;
        default: fputs(TEMPLATE_USAGE, stderr); return APP_EXIT_USAGE;
        }
    }
    if (!model || optind != argc) {
        app_error("template: %s", model ? "unexpected argument" : "-m MODEL|TOKENIZER is required");
        return APP_EXIT_USAGE;
    }
    enum tok_template_kind kind = TOK_TEMPLATE_GLM4_CHAT;
    if (force) {
        int found = 0;
        for (int k = TOK_TEMPLATE_GLM4_CHAT; k <= TOK_TEMPLATE_GLM_Z1; k++) {
            if (strcmp(force, tok_template_name((enum tok_template_kind)k)) == 0) {
                kind = (enum tok_template_kind)k;
                found = 1;
            }
        }
        if (!found) {
            app_error("template: unknown template '%s' (glm4-chat, glm4-0414, glm-z1)", force);
            return APP_EXIT_USAGE;
        }
    }
    char *why = NULL;
    enum tok_template_kind detected;
    struct tok_vocab *v = app_tokenizer_open(model, &detected, &why);
    if (!v) {
        app_error("%s", why ? why : "out of memory");
        free(why);
        return APP_EXIT_RUNTIME;
    }
    if (!force) kind = detected;
    int status = APP_EXIT_RUNTIME;
    size_t len;
    struct tok_conversation conv = {0};
    struct tok_prompt prompt = {0};
    char *input = app_read_stream(stdin, "stdin", MAX_INPUT, &len, &why);
    if (!input) {
        app_error("%s", why ? why : "stdin: out of memory");
        goto out;
    }
    if (tok_conversation_parse(input, len, &conv, &why) != TOK_OK) {
        app_error("stdin: %s", why);
        goto out;
    }
    if (tok_prompt_build(want_ids ? v : NULL, kind, conv.msgs, conv.n, conv.tools_json,
                         conv.add_generation_prompt, &prompt, &why) != TOK_OK) {
        app_error("stdin: %s", why);
        goto out;
    }
    if (want_ids)
        print_ids(&prompt.ids, 0);
    else
        fwrite(prompt.text.s ? prompt.text.s : "", 1, prompt.text.len, stdout);
    status = fflush(stdout) == 0 ? APP_EXIT_OK : APP_EXIT_RUNTIME;
    if (status) app_error("stdout: write error");
out:
    free(why);
    free(input);
    tok_prompt_done(&prompt);
    tok_conversation_done(&conv);
    tok_vocab_free(v);
    return status;
}
