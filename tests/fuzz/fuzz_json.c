/* libFuzzer target for the engine's JSON reader (engine/json.c), which reads config.json,
 * safetensors headers and shard indexes from untrusted model directories.
 *
 * Each input is parsed as one document. When it is accepted, every value, key and string
 * byte is visited (so the sanitizers see any length the parser got wrong) and the number
 * invariant is checked: an exact integer must round to the same double the parser kept.
 * When it is refused, the message must be one line "line:col: what". Not wired into CMake;
 * build by hand, e.g.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *       tests/fuzz/fuzz_json.c engine/json.c -lpthread -o fuzz_json
 *   ./fuzz_json -max_len=4096 corpus/   (seed: any config.json and a safetensors header)
 */
#include "engine/eng_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile uint8_t sink;

static void touch(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sink ^= (uint8_t)p[i];
    if (p && p[n] != 0) abort(); /* strings and keys are NUL-terminated */
}

static void walk(const struct eng_json *v, int depth)
{
    if (depth > ENG_JSON_MAX_DEPTH + 1) abort();
    if (v->key) touch(v->key, v->key_len);
    switch (v->type) {
    case ENG_JSON_STRING: touch(v->str, v->len); break;
    case ENG_JSON_NUMBER:
        if (v->is_int && (double)v->integer != v->number) abort();
        break;
    case ENG_JSON_ARRAY:
    case ENG_JSON_OBJECT:
        for (size_t i = 0; i < v->len; i++) {
            if ((v->type == ENG_JSON_OBJECT) != (v->kids[i].key != NULL)) abort();
            walk(&v->kids[i], depth + 1);
        }
        break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *why = NULL;
    struct eng_json_doc *doc = eng_json_parse((const char *)data, size, &why);
    if (doc) {
        if (why) abort();
        walk(eng_json_root(doc), 0);
        eng_json_free(doc);
        return 0;
    }
    if (!why || strchr(why, '\n') || why[0] < '1' || why[0] > '9') abort();
    free(why);
    return 0;
}
