/* tok_json — the tokenizer's own strict JSON reader and Python-compatible pretty printer.
 * Internal to the tokenizer module; not part of the public API.
 *
 * Data model: a parsed document is a tree of `struct tok_json` nodes. Objects keep their
 * members in input order; a duplicate key behaves as Python's json.loads into a dict does
 * (the last value wins, the key keeps its first position). Numbers keep their literal text,
 * because whether a tool schema said `1` or `1.0` changes the bytes the chat template
 * prints. A tree belongs to one thread; it is freed as a whole with tok_json_free.
 */
#pragma once

#include "tokenizer/tok_int.h"

/* Caps on untrusted input. Nesting: deeper documents are rejected rather than risking the
 * C stack (Python's own limit is about 1000; tool schemas nest a handful of levels).
 * Integer digits: Python 3.11+ refuses int literals longer than 4300 digits
 * (sys.int_info.default_max_str_digits), so json.loads fails on them too. */
enum {
    TOK_JSON_MAX_DEPTH = 256,
    TOK_JSON_MAX_INPUT = 64 << 20,
    TOK_JSON_MAX_INT_DIGITS = 4300,
};

enum tok_json_type {
    TOK_JSON_NULL,
    TOK_JSON_FALSE,
    TOK_JSON_TRUE,
    TOK_JSON_NUMBER,
    TOK_JSON_STRING,
    TOK_JSON_ARRAY,
    TOK_JSON_OBJECT,
};

/* An object key: UTF-8 bytes, NUL-terminated, may hold NUL bytes (from \u0000). */
struct tok_json_key {
    char *s;
    size_t len;
};

struct tok_json {
    enum tok_json_type type;
    char *s;                   /* STRING: decoded UTF-8; NUMBER: the literal; NUL-terminated */
    size_t len;                /* bytes in s (a STRING may hold NUL bytes) */
    bool is_int;               /* NUMBER: the literal has no fraction and no exponent */
    size_t n;                  /* ARRAY, OBJECT: number of members */
    struct tok_json **vals;    /* ARRAY, OBJECT: the members, in order (n of them) */
    struct tok_json_key *keys; /* OBJECT: keys[i] names vals[i] */
};

/* Parses the RFC 8259 JSON text `text[0..len)` (any value at the root, whitespace around
 * it). Strict: valid UTF-8 only, no trailing commas, no comments, no NaN/Infinity, no
 * leading zeros, no raw control characters in strings, no lone surrogates in \u escapes.
 * On success *out is a new tree the caller frees with tok_json_free. Errors:
 * TOK_ERR_FORMAT with *why "line L:C: what" (C counts characters from 1),
 * TOK_ERR_RANGE for input over TOK_JSON_MAX_INPUT, TOK_ERR_NOMEM. */
int tok_json_parse(const char *text, size_t len, struct tok_json **out, char **why);

/* Frees a tree; NULL is fine. */
void tok_json_free(struct tok_json *j);

/* The value of member `key` of object `obj`, or NULL when `obj` is not an object or has no
 * such member. Borrowed from the tree. */
const struct tok_json *tok_json_get(const struct tok_json *obj, const char *key);

/* Python's bool() of the value json.loads would produce: null, false, 0, 0.0 (including
 * literals that underflow to zero), "", [] and {} are false; everything else is true. */
bool tok_json_truthy(const struct tok_json *j);

/* Appends exactly what Python's json.dumps(value, ensure_ascii=False, indent=4) prints for
 * the value json.loads would produce. Fails with TOK_ERR_RANGE (nothing useful appended)
 * when `out` would grow past `max_len` bytes — indentation can multiply the size of deeply
 * nested input — or TOK_ERR_NOMEM. */
int tok_json_dump(const struct tok_json *j, struct tok_buf *out, size_t max_len);

/* Appends Python's str() of a scalar: null -> None, true -> True, false -> False, an
 * integer literal -> its digits ("-0" -> "0"), any other number -> repr(float(literal))
 * ("1e400" -> "inf"), a string -> its bytes. TOK_ERR_INPUT for arrays and objects. */
int tok_json_str(const struct tok_json *j, struct tok_buf *out);
