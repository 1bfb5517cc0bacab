/* libFuzzer target for the GGUF reader (engine/gguf.c).
 *
 * Each input is parsed as a whole GGUF file through eng_gguf_open_mem (no temp files); when
 * it is accepted, every key, array element and tensor is read back so the sanitizers see
 * any index the validation let through. Not wired into CMake; build by hand, e.g.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *       tests/fuzz/fuzz_gguf.c engine/gguf.c engine/types.c -o fuzz_gguf
 *   ./fuzz_gguf -max_len=65536 corpus/
 *
 * A good seed corpus: the first few KB of the tiny fixtures are not enough (their tokenizer
 * arrays are megabytes), so seed with small hand-made files or a slimmed fixture.
 */
#include "engine/engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile uint8_t sink;

static void touch(const void *p, size_t n)
{
    if (n) sink ^= ((const uint8_t *)p)[0] ^ ((const uint8_t *)p)[n - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *why = NULL;
    struct eng_gguf *g = eng_gguf_open_mem(data, size, "fuzz.gguf", &why);
    if (!g) {
        /* the message must be one line */
        if (why && (strchr(why, '\n') || strncmp(why, "fuzz.gguf: ", 11) != 0)) abort();
        free(why);
        return 0;
    }
    for (int64_t k = 0; k < eng_gguf_kv_count(g); k++) {
        const char *key = eng_gguf_key_name(g, k);
        if (eng_gguf_find_key(g, key) != k) abort();
        uint32_t u;
        int64_t i;
        float f;
        bool b;
        const char *s;
        size_t len;
        uint32_t et;
        uint64_t count;
        eng_gguf_get_u32(g, key, &u);
        eng_gguf_get_i64(g, key, &i);
        eng_gguf_get_f32(g, key, &f);
        eng_gguf_get_bool(g, key, &b);
        if (eng_gguf_get_str(g, key, &s, &len) == 0) touch(s, len);
        if (eng_gguf_get_arr(g, key, &et, &count) != 0) continue;
        for (uint64_t e = 0; e < count && e < 4096; e++) {
            if (eng_gguf_arr_str(g, k, e, &s, &len) == 0) touch(s, len);
            eng_gguf_arr_int(g, k, e, &i);
            eng_gguf_arr_f32(g, k, e, &f);
        }
        if (count > 0 && eng_gguf_arr_str(g, k, count - 1, &s, &len) == 0) touch(s, len);
    }
    for (int64_t t = 0; t < eng_gguf_tensor_count(g); t++) {
        const struct eng_gguf_tensor *ti = eng_gguf_tensor_at(g, t);
        if (eng_gguf_tensor_find(g, ti->name) != ti) abort();
        const uint8_t *d = ti->data;
        if (d < data || d + ti->nbytes > data + size) abort();
        touch(d, (size_t)ti->nbytes);
    }
    eng_gguf_close(g);
    return 0;
}
