/* tokenizer — the GLM-4 tokenizer and prompt builder.
 *
 * Owns: the byte-level BPE vocabulary (loaded from a tiktoken ranks file, a Hugging Face
 * tokenizer.json, or the token list of a GGUF file handed over by the caller), the special
 * tokens, encoding exactly as tiktoken does it (PCRE2 pre-tokeniser with the GLM-4 pattern,
 * whole-piece rule, then lowest-rank merges), incremental UTF-8-safe decoding, and the
 * GLM-4 prompt builder that renders a conversation byte-identically to the model's Jinja
 * chat template and turns it into ids with special tokens inserted by id.
 *
 * Data model: a `struct tok_vocab` is immutable once loaded and may be shared read-only by
 * any number of threads. Everything else is per caller. Library code never prints or exits;
 * failures return a negative `enum tok_err` (or NULL) and, when `why` is not NULL, a
 * malloc'd one-line explanation the caller frees.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tok_err {
    TOK_OK = 0,
    TOK_ERR_NOMEM = -1,  /* out of memory */
    TOK_ERR_IO = -2,     /* a file could not be opened or read */
    TOK_ERR_FORMAT = -3, /* a vocabulary / config / JSON file is malformed */
    TOK_ERR_INPUT = -4,  /* caller's input is invalid (bad UTF-8, bad conversation) */
    TOK_ERR_RANGE = -5,  /* an id or size is out of range */
};

/* GLM-4 special token ids (spec/glm4-chat.md §1). */
enum {
    TOK_GLM4_EOS = 151329,        /* <|endoftext|> */
    TOK_GLM4_GMASK = 151331,      /* [gMASK] */
    TOK_GLM4_SOP = 151333,        /* <sop> */
    TOK_GLM4_SYSTEM = 151335,     /* <|system|> */
    TOK_GLM4_USER = 151336,       /* <|user|> */
    TOK_GLM4_ASSISTANT = 151337,  /* <|assistant|> */
    TOK_GLM4_OBSERVATION = 151338 /* <|observation|> */
};

/* ---- growable buffers ------------------------------------------------------------------ */

/* A growable array of token ids. Zero-initialise, append with tok_ids_push, free with
 * tok_ids_done. */
struct tok_ids {
    int32_t *v;
    size_t n, cap;
};
int tok_ids_push(struct tok_ids *ids, int32_t id);
void tok_ids_done(struct tok_ids *ids);

/* A growable byte string, always NUL-terminated when `s` is not NULL. Zero-initialise. */
struct tok_buf {
    char *s;
    size_t len, cap;
};
int tok_buf_append(struct tok_buf *b, const void *p, size_t n);
int tok_buf_puts(struct tok_buf *b, const char *s);
void tok_buf_done(struct tok_buf *b);

/* ---- vocabulary ------------------------------------------------------------------------ */

struct tok_vocab;

/* Loads a tokenizer from `path`, which may be:
 *   - a tiktoken ranks file (`tokenizer.model`: lines "base64(bytes) rank"),
 *   - a Hugging Face `tokenizer.json` (byte-level BPE model),
 *   - a Hugging Face model directory holding either of them.
 * Special tokens come from `tokenizer_config.json` beside the file when it exists (or from
 * tokenizer.json's added_tokens), else the GLM-4 defaults (ids 151329..151342).
 * Returns NULL on failure with *why set ("<path>: <what is wrong>"). */
struct tok_vocab *tok_vocab_load(const char *path, char **why);

/* Builds a vocabulary from GPT-2 byte-level token strings as stored in a GGUF file's
 * `tokenizer.ggml.tokens` (`types` from `tokenizer.ggml.token_type`, may be NULL).
 * Tokens of type 3 (control) are special tokens kept as literal text; types 4 (user
 * defined) and 5 (unused) are reserved ids that encode to nothing. `what` names the source
 * in error messages. Strings need not be NUL-terminated. */
struct tok_vocab *tok_vocab_from_gguf(const char *const *tokens, const size_t *lens,
                                      const int32_t *types, size_t n, const char *what, char **why);

void tok_vocab_free(struct tok_vocab *v);

/* The Jinja chat template found with the vocabulary (tokenizer_config.json's chat_template),
 * or NULL. Borrowed. */
const char *tok_vocab_chat_template(const struct tok_vocab *v);
/* Records the chat template stored with a model (a GGUF's tokenizer.chat_template). Call
 * before sharing the vocabulary between threads. */
int tok_vocab_set_chat_template(struct tok_vocab *v, const char *text, size_t len);

/* Number of ids (the highest id + 1, specials included). */
int32_t tok_vocab_size(const struct tok_vocab *v);
/* The id of special token `text` ("<|user|>"), or -1. */
int32_t tok_special_id(const struct tok_vocab *v, const char *text);
/* The text of special token `id`, or NULL when `id` is not special. Borrowed. */
const char *tok_special_text(const struct tok_vocab *v, int32_t id);
/* The bytes of ordinary token `id` (borrowed). Returns TOK_ERR_RANGE for ids that are not
 * ordinary tokens (specials, reserved padding, out of range). */
int tok_token_bytes(const struct tok_vocab *v, int32_t id, const uint8_t **bytes, size_t *len);

/* ---- encoding --------------------------------------------------------------------------- */

/* Appends the ids of ordinary text `text[0..len)` to `out`, exactly as tiktoken's
 * encode_ordinary: special-token text is never recognised. Invalid UTF-8 is TOK_ERR_INPUT
 * with the byte offset in *why. Thread-safe for a shared vocabulary. */
int tok_encode(const struct tok_vocab *v, const char *text, size_t len, struct tok_ids *out,
               char **why);

/* As tok_encode, but text of special tokens ("<|user|>") becomes their id. For `--special`
 * and tests only: text from users, files or tools must go through tok_encode. */
int tok_encode_special(const struct tok_vocab *v, const char *text, size_t len, struct tok_ids *out,
                       char **why);

/* ---- decoding --------------------------------------------------------------------------- */

/* Incremental decoder: ids in, UTF-8 out, never emitting part of a character. Bytes that
 * may still become a valid character are held back; bytes that can never be valid become
 * U+FFFD (one per maximal invalid subpart, as Python's errors="replace"); held bytes left
 * at tok_stream_flush become U+FFFD too. Special tokens decode to their text. */
struct tok_stream {
    uint8_t pend[4];
    uint32_t npend;
};
void tok_stream_init(struct tok_stream *st);
/* Appends what `id` completes to `out`. TOK_ERR_RANGE for an id outside the vocabulary
 * (nothing is appended); reserved padding ids decode to nothing. */
int tok_stream_feed(struct tok_stream *st, const struct tok_vocab *v, int32_t id,
                    struct tok_buf *out);
/* Same for raw bytes. */
int tok_stream_feed_bytes(struct tok_stream *st, const uint8_t *p, size_t n, struct tok_buf *out);
/* Ends the stream: held bytes become U+FFFD. */
int tok_stream_flush(struct tok_stream *st, struct tok_buf *out);

/* One-shot decode of `ids` (appends to `out`); identical to feeding each id then flushing. */
int tok_decode(const struct tok_vocab *v, const int32_t *ids, size_t n, struct tok_buf *out,
               char **why);

/* ---- prompt builder --------------------------------------------------------------------- */

/* Which chat template renders a conversation. */
enum tok_template_kind {
    TOK_TEMPLATE_GLM4_CHAT = 0, /* glm-4-9b-chat (spec §2): tools on a message */
    TOK_TEMPLATE_GLM4_0414,     /* GLM-4-0414 (spec §6): tools block first, "<|assistant|>\n" */
    TOK_TEMPLATE_GLM_Z1,        /* GLM-Z1: as 0414, history keeps text after </think> */
};

/* Chooses the template: by the Jinja text stored with the model when given (chat_template,
 * may be NULL), else by architecture name ("chatglm" -> GLM4_CHAT, "glm4" -> GLM4_0414). */
enum tok_template_kind tok_template_detect(const char *chat_template, const char *arch);
const char *tok_template_name(enum tok_template_kind kind);

/* One message in the GLM-4 message shape. Strings are UTF-8, borrowed from the caller. */
struct tok_message {
    const char *role;       /* "system", "user", "assistant" or "observation" */
    const char *content;    /* NULL: absent */
    const char *metadata;   /* NULL: absent (renders as nothing) */
    const char *tools_json; /* JSON array of tools on this message, or NULL */
};

/* A conversation parsed from `{"messages": [...], "add_generation_prompt": bool,
 * "tools": [...]}` (tools at top level as the OpenAI API and GLM-4-0414 take them). Owns
 * all its strings. Non-string scalars in content/metadata are rendered as Python's str()
 * would (None, True, 3.0), since that is what the Jinja template prints. */
struct tok_conversation {
    struct tok_message *msgs;
    size_t n;
    const char *tools_json; /* top-level tools, or NULL */
    bool add_generation_prompt;
    void *priv;
};
int tok_conversation_parse(const char *json, size_t len, struct tok_conversation *conv, char **why);
void tok_conversation_done(struct tok_conversation *conv);

/* A rendered prompt: `text` is what the Jinja template prints (special tokens written as
 * their text); `ids` (filled only when a vocabulary is given) has special tokens inserted by
 * id and every text segment BPE-encoded as ordinary text. */
struct tok_prompt {
    struct tok_buf text;
    struct tok_ids ids;
};

/* Renders `msgs` with template `kind`. `tools_json` is a JSON array of top-level tools (may
 * be NULL): GLM-4-0414 renders it as its first block; for glm-4-9b-chat it is placed on the
 * first system message (or a new one). `v` may be NULL to render text only. */
int tok_prompt_build(const struct tok_vocab *v, enum tok_template_kind kind,
                     const struct tok_message *msgs, size_t n, const char *tools_json,
                     bool add_generation_prompt, struct tok_prompt *out, char **why);
void tok_prompt_done(struct tok_prompt *p);

/* Checks that s[0..n) is well-formed UTF-8; TOK_ERR_INPUT with "invalid UTF-8 at byte N" in
 * *why otherwise. */
int tok_utf8_check(const char *s, size_t n, char **why);

/* ---- JSON helper ------------------------------------------------------------------------ */

/* Reads the string member `key` of the JSON object text json[0..len) into `out` (exact bytes,
 * U+0000 included). TOK_ERR_FORMAT with a one-line *why when the text is not a JSON object or
 * the member is missing or not a string. Uses the tokenizer's strict JSON reader, which keeps
 * what cJSON cannot (NUL bytes, number literals). */
int tok_json_string_member(const char *json, size_t len, const char *key, struct tok_buf *out,
                           char **why);
