/* Internals shared by the tokenizer's source files. Not part of the public API. */
#pragma once

#include "tokenizer/tokenizer.h"

/* Sets *why (when why != NULL) to a formatted one-line message and returns `err`. */
int tok_fail(char **why, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Makes room for `extra` more bytes (plus the NUL). */
int tok_buf_reserve(struct tok_buf *b, size_t extra);

/* The UTF-8 sequence starting at s[0] (n >= 1 bytes available): its length when complete and
 * valid, 0 when it is a valid but incomplete prefix, or -k when its first k bytes form a
 * maximal invalid subpart (Unicode's "maximal subpart" replacement practice). */
int tok_utf8_classify(const uint8_t *s, size_t n);

/* Length of the longest prefix of s[0..n) that is well-formed UTF-8 (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF). Equals n when all of it is valid. */
size_t tok_utf8_valid_prefix(const uint8_t *s, size_t n);

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* What an id is. */
enum {
    TOK_KIND_NORMAL = 0,  /* ordinary BPE token with bytes */
    TOK_KIND_SPECIAL = 1, /* special token, text in `special` */
    TOK_KIND_RESERVED = 2 /* padding / unused id: no bytes, never produced by encoding */
};

struct tok_special {
    int32_t id;
    char *text; /* NUL-terminated UTF-8 */
};

struct tok_vocab {
    int32_t n_ids;        /* highest id + 1 */
    int32_t n_normal;     /* ordinary tokens */
    uint32_t *off;        /* (n_ids + 1) byte offsets into blob */
    uint8_t *kind;        /* (n_ids) TOK_KIND_* */
    uint8_t *blob;        /* bytes of ordinary tokens, in id order */
    int32_t *table;       /* (table_size) ids hashed by bytes, -1 = empty */
    uint64_t table_size;  /* power of two */
    int32_t byte_id[256]; /* id of each single byte */
    struct tok_special *special;
    size_t n_special, cap_special;
    pcre2_code *re;      /* the GLM-4 pre-tokeniser */
    bool jit;            /* re was JIT-compiled */
    char *chat_template; /* Jinja chat template from the model's files, or NULL */
};

uint64_t tok_hash_bytes(const uint8_t *p, size_t n);
/* The id of ordinary token bytes p[0..n), or -1. */
int32_t tok_lookup(const struct tok_vocab *v, const uint8_t *p, size_t n);

/* Declares special token `id` with `text` (grows the id space when needed). */
int tok_vocab_set_special(struct tok_vocab *v, int32_t id, const char *text, size_t len,
                          const char *what, char **why);
/* Declares the 14 GLM-4 specials 151329..151342. */
int tok_vocab_set_glm4_specials(struct tok_vocab *v, const char *what, char **why);

/* Loaders behind tok_vocab_load. */
struct tok_vocab *tok_vocab_load_tiktoken(const char *path, char **why);
struct tok_vocab *tok_vocab_load_hf_json(const char *path, char **why);
/* Applies added_tokens_decoder of a tokenizer_config.json. */
int tok_vocab_load_config(struct tok_vocab *v, const char *path, char **why);

/* GPT-2 byte-level string -> bytes. TOK_ERR_FORMAT when a code point is outside the
 * alphabet or out exceeds cap. */
int tok_gpt2_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* Reads a whole regular file of at most `cap` bytes (NUL-terminated copy). */
char *tok_read_file(const char *path, size_t *len, size_t cap, char **why);
