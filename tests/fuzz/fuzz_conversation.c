/* libFuzzer target for the tokenizer's JSON reader and prompt builder (tokenizer/tok_json.c,
 * tokenizer/tok_template.c).
 *
 * Each input goes through tok_json_parse + tok_json_dump + tok_json_str, and through
 * tok_conversation_parse; an accepted conversation is rendered with all three templates
 * (text only, no vocabulary), so the sanitizers see every path the validation lets through.
 * Not wired into CMake; build by hand, e.g.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *       tests/fuzz/fuzz_conversation.c tokenizer/tok_*.c -lpcre2-8 -o fuzz_conversation
 *   ./fuzz_conversation -max_len=8192 corpus/
 *
 * Seed corpus: the lines of ../shared/fixtures/template/glm4-conversations.jsonl, one file
 * each.
 */
#include "tokenizer/tok_json.h"
#include "tokenizer/tokenizer.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct tok_json *j = NULL;
    char *why = NULL;
    if (tok_json_parse(text, size, &j, &why) == TOK_OK) {
        struct tok_buf b = {0};
        (void)tok_json_dump(j, &b, 1 << 20);
        tok_buf_done(&b);
        (void)tok_json_str(j, &b);
        tok_buf_done(&b);
        (void)tok_json_truthy(j);
        tok_json_free(j);
    }
    free(why);
    why = NULL;

    struct tok_conversation conv;
    if (tok_conversation_parse(text, size, &conv, &why) == TOK_OK) {
        for (int kind = TOK_TEMPLATE_GLM4_CHAT; kind <= TOK_TEMPLATE_GLM_Z1; kind++) {
            struct tok_prompt p;
            char *w = NULL;
            (void)tok_prompt_build(NULL, (enum tok_template_kind)kind, conv.msgs, conv.n,
                                   conv.tools_json, conv.add_generation_prompt, &p, &w);
            tok_prompt_done(&p);
            free(w);
        }
        tok_conversation_done(&conv);
    }
    free(why);
    return 0;
}
