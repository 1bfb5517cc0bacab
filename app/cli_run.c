/* `glmterm run` (headless generation) and `glmterm perplexity`.
 *
 * run: the prompt (-p TEXT, -f FILE, --prompt-ids, or standard input) becomes a one-message
 * user conversation rendered with the model's chat template, unless --raw sends it as it is
 * (special-token text recognised). The engine thread generates; its sink, which runs on the
 * engine thread, decodes ids with the streaming decoder and writes them to stdout as they
 * come, while the main thread waits for DONE or ERROR. There is no event loop here, so
 * writing from the sink is the simplest correct thing.
 *
 * perplexity: as llama.cpp's llama-perplexity computes it: the file is tokenized as ordinary
 * text (no special tokens; GLM-4 GGUFs set add_bos_token = false, so no chunk starts with a
 * BOS either), split into non-overlapping chunks of CTX tokens, each evaluated from an empty
 * cache, and the negative log-likelihood of the tokens in the second half of each chunk
 * (predicted from rows CTX/2 .. CTX-2) is averaged; perplexity = exp(mean NLL).
 */
#include "app/app.h"
#include "engine/engine.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PROMPT_BYTES (64u << 20)

static const char RUN_USAGE[] =
    "usage: glmterm run -m MODEL [-p TEXT|-f FILE|--prompt-ids \"ID ...\"|stdin] [-n N]\n"
    "                   [--temp T] [--top-p P] [--top-k K] [--min-p P] [--repeat-penalty R]\n"
    "                   [--seed S] [--raw] [--ids] [--dump-logits FILE] [--kv-type f16|f32]\n"
    "                   [--stop TEXT]... [--prefill TEXT] [-c CTX] [-t N] [--mlock]\n"
    "\n"
    "Generates a reply headlessly. The prompt is one user message rendered with the model's\n"
    "chat template (tools and multi-turn: `glmterm template` shows the exact prompt).\n"
    "\n"
    "  -m, --model PATH      .gguf file or Hugging Face model directory\n"
    "  -p, --prompt TEXT     the prompt (default: standard input)\n"
    "  -f, --file FILE       read the prompt from FILE\n"
    "      --prompt-ids IDS  the prompt as token ids, space-separated (no template)\n"
    "      --raw             no chat template; special-token text such as <|user|> is\n"
    "                        recognised\n"
    "  -n, --n-predict N     tokens to generate (default: until a stop token or the end of\n"
    "                        the context); 0 only evaluates the prompt\n"
    "      --temp T          temperature (default 0.8; 0 = greedy)\n"
    "      --top-p P         nucleus sampling (default 0.8; 1 = off)\n"
    "      --top-k K         keep the K most likely tokens (default 0 = off)\n"
    "      --min-p P         drop tokens below P x the top probability (default 0 = off)\n"
    "      --repeat-penalty R  penalise the last 64 tokens (default 1 = off)\n"
    "      --presence-penalty P, --frequency-penalty F  (default 0)\n"
    "      --seed S          random seed (default: from the clock); same seed, same output\n"
    "      --ids             print the generated token ids instead of text\n"
    "      --dump-logits FILE  write the logits of every evaluated position (prompt, then\n"
    "                        generated) as rows of n_vocab little-endian float32\n"
    "      --kv-type TYPE    KV cache element type: f16 (default) or f32\n"
    "      --stop TEXT       also stop when the reply contains TEXT (not printed; up to 16)\n"
    "      --prefill TEXT    the reply starts with TEXT, which the model continues (a plain\n"
    "                        reply starts with a newline: GLM-4's empty metadata line)\n"
    "  -c, --ctx-size N      context length (default min(trained context, 4096))\n"
    "  -t, --threads N       compute threads (default: the physical cores)\n"
    "      --mlock           lock the model's weights in RAM (mlock; fails when `ulimit -l`\n"
    "                        is below the model's size)\n"
    "  -h, --help            this help\n";

static const char PPL_USAGE[] =
    "usage: glmterm perplexity -m MODEL -f FILE [-c CTX] [--kv-type f16|f32] [-t N]\n"
    "\n"
    "Perplexity of a text file, computed as llama.cpp's llama-perplexity does:\n"
    "non-overlapping chunks of CTX tokens (default 512), each from an empty cache, scored on\n"
    "the second half of each chunk. Prints \"perplexity: X\".\n"
    "\n"
    "  -m, --model MODEL   .gguf file, Hugging Face directory or `demo`\n"
    "  -f, --file FILE     the text\n"
    "  -c, --ctx-size N    tokens per chunk (default 512)\n"
    "      --kv-type TYPE  f16 (default) or f32\n"
    "  -t, --threads N     threads\n"
    "  -h, --help          this help\n";

enum {
    OPT_PROMPT_IDS = 256,
    OPT_RAW,
    OPT_IDS,
    OPT_DUMP,
    OPT_KV,
    OPT_PREFILL,
    OPT_TEMP,
    OPT_TOP_P,
    OPT_TOP_K,
    OPT_MIN_P,
    OPT_REPEAT,
    OPT_PRESENCE,
    OPT_FREQUENCY,
    OPT_SEED,
    OPT_ASSISTANT,
    OPT_TOOLS,
    OPT_APPROVE,
    OPT_STOP,
    OPT_MLOCK,
};

/* Strict number parsing: the whole argument, in range. */
static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        app_error("%s: '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *opt, const char *s, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        app_error("%s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
        return -1;
    }
    *out = (float)v;
    return 0;
}

static int parse_kv_type(const char *s, enum eng_kv_type *kv)
{
    if (strcmp(s, "f16") == 0)
        *kv = ENG_KV_F16;
    else if (strcmp(s, "f32") == 0)
        *kv = ENG_KV_F32;
    else {
        app_error("--kv-type: '%s' is not f16 or f32", s);
        return -1;
    }
    return 0;
}

static int parse_ids(const char *s, struct tok_ids *ids)
{
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\n')
            p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            app_error("--prompt-ids: '%.20s' is not a token id", p);
            return -1;
        }
        if (tok_ids_push(ids, (int32_t)v) != TOK_OK) {
            app_error("--prompt-ids: out of memory");
            return -1;
        }
        p = end;
    }
    if (ids->n == 0) {
        app_error("--prompt-ids: no ids given");
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    char *why = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        app_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = app_read_stream(f, path, MAX_PROMPT_BYTES, len, &why);
    fclose(f);
    if (!text) {
        app_error("%s", why ? why : "out of memory");
        free(why);
    }
    return text;
}

/* ---- run ------------------------------------------------------------------------------ */

struct run_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished;
    bool failed;
    const struct tok_vocab *vocab;
    struct tok_stream stream;
    struct tok_buf dec; /* decoded, not yet through the stop strings */
    struct tok_buf out; /* ready to print */
    struct app_stop stop_strings;
    bool print_ids;
    bool strip_newline; /* drop the reply's leading "\n" (its empty metadata line) */
    bool first_id_printed;
    FILE *dump;
    const char *dump_path;
    bool dump_failed;
    struct eng_timings timings;
    enum eng_stop stop;
};

static void flush_text(struct run_state *st)
{
    size_t from = 0;
    if (st->strip_newline && st->out.len > 0) {
        if (st->out.s[0] == '\n') from = 1;
        st->strip_newline = false;
    }
    fwrite(st->out.s + from, 1, st->out.len - from, stdout);
    fflush(stdout);
    st->out.len = 0;
}

static int run_sink(const struct eng_event *ev, void *user)
{
    struct run_state *st = user;
    switch (ev->type) {
    case ENG_EVENT_TOKENS:
        for (int32_t i = 0; i < ev->n_ids; i++) {
            if (st->print_ids) {
                printf(st->first_id_printed ? " %d" : "%d", (int)ev->ids[i]);
                st->first_id_printed = true;
            } else {
                /* A reserved padding id (random weights can pick one) decodes to nothing. */
                tok_stream_feed(&st->stream, st->vocab, ev->ids[i], &st->dec);
            }
        }
        if (st->print_ids) {
            fflush(stdout);
        } else {
            int hit =
                app_stop_feed(&st->stop_strings, st->dec.s ? st->dec.s : "", st->dec.len, &st->out);
            st->dec.len = 0;
            flush_text(st);
            if (hit) return 1;
        }
        break;
    case ENG_EVENT_LOGITS:
        if (st->dump && !st->dump_failed &&
            fwrite(ev->logits, sizeof(float) * (size_t)ev->n_vocab, (size_t)ev->n_rows, st->dump) !=
                (size_t)ev->n_rows)
            st->dump_failed = true;
        break;
    case ENG_EVENT_TRUNCATED: break;
    case ENG_EVENT_DONE:
    case ENG_EVENT_ERROR:
        if (ev->type == ENG_EVENT_ERROR) app_error("%s", ev->message);
        pthread_mutex_lock(&st->mu);
        st->finished = true;
        st->failed = ev->type == ENG_EVENT_ERROR;
        st->timings = ev->timings;
        st->stop = ev->stop;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        break;
    }
    return 0;
}

int app_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"prompt", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'f'},
        {"prompt-ids", required_argument, NULL, OPT_PROMPT_IDS},
        {"raw", no_argument, NULL, OPT_RAW},
        {"ids", no_argument, NULL, OPT_IDS},
        {"dump-logits", required_argument, NULL, OPT_DUMP},
        {"kv-type", required_argument, NULL, OPT_KV},
        {"prefill", required_argument, NULL, OPT_PREFILL},
        {"n-predict", required_argument, NULL, 'n'},
        {"temp", required_argument, NULL, OPT_TEMP},
        {"top-p", required_argument, NULL, OPT_TOP_P},
        {"top-k", required_argument, NULL, OPT_TOP_K},
        {"min-p", required_argument, NULL, OPT_MIN_P},
        {"repeat-penalty", required_argument, NULL, OPT_REPEAT},
        {"presence-penalty", required_argument, NULL, OPT_PRESENCE},
        {"frequency-penalty", required_argument, NULL, OPT_FREQUENCY},
        {"seed", required_argument, NULL, OPT_SEED},
        {"ctx-size", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"assistant", required_argument, NULL, OPT_ASSISTANT},
        {"tools", required_argument, NULL, OPT_TOOLS},
        {"approve", required_argument, NULL, OPT_APPROVE},
        {"stop", required_argument, NULL, OPT_STOP},
        {"mlock", no_argument, NULL, OPT_MLOCK},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *stops[16];
    size_t n_stops = 0;
    const char *model_path = NULL, *prompt = NULL, *file = NULL, *prompt_ids = NULL;
    const char *dump_path = NULL, *prefill = NULL;
    bool raw = false, print_ids = false, seeded = false, lock = false;
    long n_predict = -1, n_ctx = 0, threads = 0, seed = 0;
    enum eng_kv_type kv = ENG_KV_F16;
    struct eng_sampler_params sp;
    eng_sampler_params_default(&sp);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:p:f:n:c:t:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'p': prompt = optarg; break;
        case 'f': file = optarg; break;
        case OPT_PROMPT_IDS: prompt_ids = optarg; break;
        case OPT_RAW: raw = true; break;
        case OPT_IDS: print_ids = true; break;
        case OPT_MLOCK: lock = true; break;
        case OPT_DUMP: dump_path = optarg; break;
        case OPT_PREFILL: prefill = optarg; break;
        case OPT_KV: bad = parse_kv_type(optarg, &kv); break;
        case 'n': bad = parse_long("-n", optarg, -1, INT32_MAX, &n_predict); break;
        case 'c': bad = parse_long("-c", optarg, 1, INT32_MAX, &n_ctx); break;
        case 't': bad = parse_long("-t", optarg, 1, 1024, &threads); break;
        case OPT_TEMP: bad = parse_float("--temp", optarg, 0, 100, &sp.temperature); break;
        case OPT_TOP_P: bad = parse_float("--top-p", optarg, 1e-9, 1, &sp.top_p); break;
        case OPT_MIN_P: bad = parse_float("--min-p", optarg, 0, 1, &sp.min_p); break;
        case OPT_REPEAT:
            bad = parse_float("--repeat-penalty", optarg, 1e-6, 100, &sp.repeat_penalty);
            break;
        case OPT_PRESENCE:
            bad = parse_float("--presence-penalty", optarg, -100, 100, &sp.presence_penalty);
            break;
        case OPT_FREQUENCY:
            bad = parse_float("--frequency-penalty", optarg, -100, 100, &sp.frequency_penalty);
            break;
        case OPT_TOP_K: {
            long k = 0;
            bad = parse_long("--top-k", optarg, 0, INT32_MAX, &k);
            if (!bad) sp.top_k = (int32_t)k;
            break;
        }
        case OPT_SEED:
            bad = parse_long("--seed", optarg, 0, LONG_MAX, &seed);
            seeded = true;
            break;
        case OPT_STOP:
            if (n_stops == sizeof stops / sizeof stops[0] || !*optarg) {
                app_error("--stop: at most 16 non-empty stop strings");
                bad = 1;
            } else {
                stops[n_stops++] = optarg;
            }
            break;
        case OPT_ASSISTANT:
        case OPT_TOOLS:
        case OPT_APPROVE:
            app_error("run: tools (--assistant, --tools, --approve) are not built yet in this "
                      "version");
            return APP_EXIT_USAGE;
        case 'h': fputs(RUN_USAGE, stdout); return APP_EXIT_OK;
        default: fputs(RUN_USAGE, stderr); return APP_EXIT_USAGE;
        }
        if (bad) return APP_EXIT_USAGE;
    }
    if (!model_path || optind != argc) {
        app_error("run: %s", model_path ? "unexpected argument" : "-m MODEL is required");
        return APP_EXIT_USAGE;
    }
    if ((prompt != NULL) + (file != NULL) + (prompt_ids != NULL) > 1) {
        app_error("run: give one of -p, -f and --prompt-ids");
        return APP_EXIT_USAGE;
    }
    sp.seed = seeded ? (uint64_t)seed : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);

    int status = APP_EXIT_RUNTIME;
    char *why = NULL, *text = NULL;
    size_t text_len = 0;
    struct tok_vocab *vocab = NULL;
    struct eng_model *model = NULL;
    struct eng_session *session = NULL;
    struct eng_engine *engine = NULL;
    struct tok_ids ids = {0};
    struct tok_prompt built = {0};
    struct run_state st = {.print_ids = print_ids};
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    app_stop_init(&st.stop_strings, stops, n_stops);

    enum tok_template_kind kind;
    char demo[4096];
    model_path = app_model_resolve(model_path, demo, sizeof demo, &why);
    if (!model_path) goto fail_why;
    vocab = app_tokenizer_open(model_path, &kind, &why);
    if (!vocab) goto fail_why;
    st.vocab = vocab;
    tok_stream_init(&st.stream);

    if (prompt_ids) {
        if (parse_ids(prompt_ids, &ids)) {
            status = APP_EXIT_USAGE;
            goto out;
        }
    } else {
        if (prompt) {
            text = strdup(prompt);
            text_len = strlen(prompt);
        } else if (file) {
            text = read_file(file, &text_len);
        } else {
            text = app_read_stream(stdin, "stdin", MAX_PROMPT_BYTES, &text_len, &why);
            if (!text) goto fail_why;
        }
        if (!text) goto out;
        const char *subject = file ? file : prompt ? "-p" : "stdin";
        if (raw) {
            if (tok_encode_special(vocab, text, text_len, &ids, &why) != TOK_OK) {
                app_error("%s: %s", subject, why);
                goto out;
            }
        } else {
            if (tok_utf8_check(text, text_len, &why) != TOK_OK ||
                memchr(text, 0, text_len) != NULL) {
                app_error("%s: %s", subject, why ? why : "the prompt contains a NUL byte");
                goto out;
            }
            struct tok_message msg = {.role = "user", .content = text};
            if (tok_prompt_build(vocab, kind, &msg, 1, NULL, true, &built, &why) != TOK_OK) {
                app_error("%s: %s", subject, why);
                goto out;
            }
            ids = built.ids;
            built.ids = (struct tok_ids){0};
            st.strip_newline = prefill == NULL;
        }
    }
    if (prefill) {
        if (tok_encode(vocab, prefill, strlen(prefill), &ids, &why) != TOK_OK) {
            app_error("--prefill: %s", why);
            goto out;
        }
        if (!print_ids) {
            fputs(prefill, stdout);
            fflush(stdout);
        }
    }

    model = eng_model_load(model_path, &why);
    if (!model) goto fail_why;
    if (lock && eng_model_mlock(model, &why) != 0) goto fail_why;
    struct eng_session_opts so = {
        .n_ctx = (int32_t)n_ctx, .kv_type = kv, .n_threads = (int32_t)threads};
    session = eng_session_new(model, &so, &why);
    if (!session) goto fail_why;
    if (dump_path) {
        st.dump = fopen(dump_path, "wb");
        if (!st.dump) {
            app_error("%s: %s", dump_path, strerror(errno));
            goto out;
        }
        st.dump_path = dump_path;
    }
    engine = eng_engine_new(model, run_sink, &st, &why);
    if (!engine) goto fail_why;

    int32_t stop_ids[3];
    int32_t n_stop = 0;
    const char *stop_names[] = {"<|endoftext|>", "<|user|>", "<|observation|>"};
    for (int i = 0; i < 3; i++) {
        int32_t id = tok_special_id(vocab, stop_names[i]);
        if (id >= 0) stop_ids[n_stop++] = id;
    }
    struct eng_request req = {.id = 1,
                              .session = session,
                              .prompt = ids.v,
                              .n_prompt = (int32_t)ids.n,
                              .n_predict = (int32_t)n_predict,
                              .sampling = sp,
                              .stop_ids = stop_ids,
                              .n_stop_ids = n_stop,
                              .logits_all = dump_path != NULL};
    if (eng_engine_submit(engine, &req, &why) != ENG_OK) goto fail_why;
    pthread_mutex_lock(&st.mu);
    while (!st.finished)
        pthread_cond_wait(&st.cv, &st.mu);
    pthread_mutex_unlock(&st.mu);
    if (st.failed) goto out;
    if (print_ids) {
        if (st.first_id_printed) putchar('\n');
    } else {
        tok_stream_flush(&st.stream, &st.dec);
        if (app_stop_feed(&st.stop_strings, st.dec.s ? st.dec.s : "", st.dec.len, &st.out) == 0)
            app_stop_flush(&st.stop_strings, &st.out);
        flush_text(&st);
        if (n_predict != 0) putchar('\n');
    }
    if (st.dump && (fclose(st.dump) != 0 || st.dump_failed)) {
        st.dump = NULL;
        app_error("%s: write error", dump_path);
        goto out;
    }
    st.dump = NULL;
    if (fflush(stdout) != 0) {
        app_error("stdout: write error");
        goto out;
    }
    status = APP_EXIT_OK;
    goto out;
fail_why:
    app_error("%s", why ? why : "out of memory");
out:
    eng_engine_free(engine);
    eng_session_free(session);
    eng_model_free(model);
    if (st.dump) fclose(st.dump);
    tok_buf_done(&st.out);
    tok_buf_done(&st.dec);
    app_stop_done(&st.stop_strings);
    tok_prompt_done(&built);
    tok_ids_done(&ids);
    tok_vocab_free(vocab);
    free(text);
    free(why);
    pthread_mutex_destroy(&st.mu);
    pthread_cond_destroy(&st.cv);
    return status;
}

/* ---- perplexity ------------------------------------------------------------------------- */

int app_cmd_perplexity(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"ctx-size", required_argument, NULL, 'c'},
                                         {"kv-type", required_argument, NULL, OPT_KV},
                                         {"threads", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *file = NULL;
    long n_ctx = 512, threads = 0;
    enum eng_kv_type kv = ENG_KV_F16;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:f:c:t:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'f': file = optarg; break;
        case 'c': bad = parse_long("-c", optarg, 4, INT32_MAX, &n_ctx); break;
        case 't': bad = parse_long("-t", optarg, 1, 1024, &threads); break;
        case OPT_KV: bad = parse_kv_type(optarg, &kv); break;
        case 'h': fputs(PPL_USAGE, stdout); return APP_EXIT_OK;
        default: fputs(PPL_USAGE, stderr); return APP_EXIT_USAGE;
        }
        if (bad) return APP_EXIT_USAGE;
    }
    if (!model_path || !file || optind != argc) {
        app_error("perplexity: -m MODEL and -f FILE are required");
        return APP_EXIT_USAGE;
    }
    int status = APP_EXIT_RUNTIME;
    char *why = NULL, *text = NULL;
    size_t len = 0;
    struct tok_vocab *vocab = NULL;
    struct eng_model *model = NULL;
    struct eng_session *session = NULL;
    struct tok_ids ids = {0};
    float *logits = NULL;

    char demo[4096];
    model_path = app_model_resolve(model_path, demo, sizeof demo, &why);
    if (!model_path) goto fail_why;
    vocab = app_tokenizer_open(model_path, NULL, &why);
    if (!vocab) goto fail_why;
    text = read_file(file, &len);
    if (!text) goto out;
    if (tok_encode(vocab, text, len, &ids, &why) != TOK_OK) {
        app_error("%s: %s", file, why);
        goto out;
    }
    if (ids.n < 2 * (size_t)n_ctx) {
        app_error("%s: %zu tokens; need at least 2 x %ld (two chunks) for a perplexity", file,
                  ids.n, n_ctx);
        goto out;
    }
    model = eng_model_load(model_path, &why);
    if (!model) goto fail_why;
    struct eng_session_opts so = {
        .n_ctx = (int32_t)n_ctx, .kv_type = kv, .n_threads = (int32_t)threads};
    session = eng_session_new(model, &so, &why);
    if (!session) goto fail_why;
    if (eng_session_n_ctx(session) < n_ctx) {
        app_error("perplexity: -c %ld is larger than the model's context (%d)", n_ctx,
                  (int)eng_session_n_ctx(session));
        goto out;
    }
    int32_t nv = eng_model_n_vocab(model);
    logits = malloc((size_t)n_ctx * (size_t)nv * sizeof *logits);
    if (!logits) {
        app_error("perplexity: out of memory for %ld logits rows", n_ctx);
        goto out;
    }
    size_t n_chunks = ids.n / (size_t)n_ctx;
    double nll = 0.0;
    long count = 0;
    int32_t first = (int32_t)n_ctx / 2;
    for (size_t ch = 0; ch < n_chunks; ch++) {
        const int32_t *tok = ids.v + ch * (size_t)n_ctx;
        eng_session_truncate(session, 0);
        if (eng_session_eval(session, tok, (int32_t)n_ctx, logits, true, &why) != ENG_OK)
            goto fail_why;
        for (int32_t j = first; j < n_ctx - 1; j++) {
            const float *row = logits + (size_t)j * (size_t)nv;
            float mx = row[0];
            for (int32_t k = 1; k < nv; k++)
                if (row[k] > mx) mx = row[k];
            double sum = 0.0;
            for (int32_t k = 0; k < nv; k++)
                sum += exp((double)row[k] - mx);
            nll += -((double)row[tok[j + 1]] - mx - log(sum));
            count++;
        }
        fprintf(stderr, "[%zu]%.4f%s", ch + 1, exp(nll / (double)count),
                ch + 1 == n_chunks ? "\n" : ",");
    }
    printf("perplexity: %.4f\n", exp(nll / (double)count));
    status = fflush(stdout) == 0 ? APP_EXIT_OK : APP_EXIT_RUNTIME;
    goto out;
fail_why:
    app_error("%s", why ? why : "out of memory");
out:
    free(logits);
    eng_session_free(session);
    eng_model_free(model);
    tok_ids_done(&ids);
    tok_vocab_free(vocab);
    free(text);
    free(why);
    return status;
}
