/* eng_json — the engine's own small, strict JSON reader (engine internal).
 *
 * The engine reads three JSON documents: a Hugging Face config.json, the header of every
 * safetensors file, and model.safetensors.index.json. DESIGN.md's module table lets engine/
 * use only libc, pthreads and OpenBLAS, so it cannot link cJSON (that belongs to app/ and
 * tools/) nor borrow the tokenizer's reader; this is a separate, deliberately small one.
 *
 * What it accepts is exactly RFC 8259 JSON text: one value, optional whitespace around it, a
 * leading UTF-8 byte order mark ignored (RFC 8259 §8.1 allows that). Strings must be valid
 * UTF-8 (no overlong forms, no encoded surrogates, nothing above U+10FFFF) and escapes must
 * decode to Unicode scalar values (a lone \uD800 is refused). Objects may not repeat a key.
 * Nesting is capped at ENG_JSON_MAX_DEPTH, the input at ENG_JSON_MAX_BYTES and the tree at
 * ENG_JSON_MAX_VALUES values, so a hostile document costs bounded memory and stack.
 *
 * The result is an immutable tree: object members keep their document order. Every number
 * carries its double value, and when it is mathematically an integer that fits int64_t
 * (decided from the decimal text, not from the rounded double) also that exact integer.
 * Errors are one line "line:col: what" (1-based; col counts characters).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENG_JSON_MAX_DEPTH  64           /* arrays/objects nested at most this deep */
#define ENG_JSON_MAX_BYTES  (128u << 20) /* longest input accepted */
#define ENG_JSON_MAX_VALUES (1u << 22)   /* values in one document (64 bytes each) */

enum eng_json_type {
    ENG_JSON_NULL = 0,
    ENG_JSON_BOOL = 1,
    ENG_JSON_NUMBER = 2,
    ENG_JSON_STRING = 3,
    ENG_JSON_ARRAY = 4,
    ENG_JSON_OBJECT = 5,
};

/* One value. Every pointer in it is owned by its document (eng_json_free). */
struct eng_json {
    enum eng_json_type type;
    bool boolean; /* BOOL */
    bool is_int;  /* NUMBER: integral and within int64_t; then `integer` is exact */
    int64_t integer;
    double number;         /* NUMBER: nearest double (underflow gives 0 or a subnormal) */
    const char *str;       /* STRING: decoded UTF-8, NUL-terminated; may hold NULs: use len */
    size_t len;            /* STRING: bytes; ARRAY / OBJECT: number of elements / members */
    const char *key;       /* member of an OBJECT: its decoded key, NUL-terminated; else NULL */
    size_t key_len;        /* bytes of key */
    struct eng_json *kids; /* ARRAY / OBJECT: `len` values in document order (members carry key) */
};

/* A parsed document: owns the tree. Opaque. */
struct eng_json_doc;

/* Parses `len` bytes at `text` (need not be NUL-terminated; not retained). Returns a new
 * document, or NULL with `*why` (when `why` is not NULL) set to one malloc'd line
 * "line:col: what" the caller frees (`*why` stays NULL if even that allocation fails).
 * Independent of the process locale (numbers always use '.'). Any thread. */
struct eng_json_doc *eng_json_parse(const char *text, size_t len, char **why);

/* Frees the document and every value in it. NULL is fine. */
void eng_json_free(struct eng_json_doc *doc);

/* The root value (borrowed; lives until eng_json_free). */
const struct eng_json *eng_json_root(const struct eng_json_doc *doc);

/* The member called `key` of object `obj`, or NULL when `obj` is NULL, not an object, or has
 * no such member. Linear in the number of members (documents are small, or walked in order). */
const struct eng_json *eng_json_get(const struct eng_json *obj, const char *key);

/* Element / member `i` of an array or object, or NULL when out of range or not a container. */
const struct eng_json *eng_json_at(const struct eng_json *v, size_t i);

/* "null", "boolean", "number", "string", "array", "object"; "?" for anything else. */
const char *eng_json_type_name(enum eng_json_type type);

/* Writes `s` (len bytes, e.g. a key or a string value from a document) into dst as a quoted,
 * printable-ASCII excerpt for error messages: 'name', at most 64 bytes of it, every byte
 * outside 0x20..0x7e shown as '?', "..." appended when cut. Always NUL-terminates (cap >= 1).
 * Returns dst. */
char *eng_json_quote(char *dst, size_t cap, const char *s, size_t len);
