/* libFuzzer target for the theme parser (themes/themes.c), which reads user-supplied `.theme`
 * files.
 *
 * Each input is one file's bytes, parsed over the built-in theme. When accepted, the theme must
 * be well formed: a valid name, colour kinds in range, only known attribute bits. When refused,
 * the message must be one line "fuzz.theme:<line>: what" (or "fuzz.theme: what") without
 * control characters, since it goes to the user's terminal. Not wired into CMake; build by hand:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *       tests/fuzz/fuzz_theme.c themes/themes.c -o fuzz_theme
 *   ./fuzz_theme -max_len=2048 corpus/   (seed: the shipped theme files)
 */
#include "themes/themes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct theme t;
    char *why = NULL;
    if (theme_load_mem("fuzz.theme", (const char *)data, size, NULL, &t, &why) == 0) {
        if (why) abort();
        size_t n = strnlen(t.name, sizeof t.name);
        if (n == 0 || n == sizeof t.name) abort();
        for (size_t i = 0; i < n; i++) {
            char c = t.name[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
                abort();
        }
        for (int i = 0; i < THEME_COUNT; i++) {
            const struct theme_style *s = &t.style[i];
            if ((unsigned)s->fg.kind > THEME_COLOR_RGB || (unsigned)s->bg.kind > THEME_COLOR_RGB)
                abort();
            if (s->attrs & ~(uint32_t)0x1F) abort();
        }
        return 0;
    }
    if (!why) abort();
    if (strncmp(why, "fuzz.theme:", 11) != 0) abort();
    for (const char *p = why; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F) abort();
    free(why);
    return 0;
}
