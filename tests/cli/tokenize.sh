#!/usr/bin/env bash
# `glmterm tokenize` and `glmterm template` driven as a user would: every tiktoken vector and
# every template fixture through the real binary, the same ids from tokenizer.model, the HF
# directory and the GGUF files, and one-line errors with the documented exit codes.
set -uo pipefail
. "$(dirname "$0")/lib.bash"

vectors=$(shared fixtures/tokenizer/glm4-vectors.jsonl)
convs=$(shared fixtures/template/glm4-conversations.jsonl)
ranks=$(shared data/glm4/tokenizer.model)
gguf=$(shared fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf)
gguf_q=$(shared fixtures/models/glm4-0414-tiny64/glm4-0414-tiny64-Q4_0.gguf)
hfdir=$(shared fixtures/models/glm4-tiny64/hf)

jq -c '.ids' "$vectors" > "$T/want.txt"
for m in "$ranks" "$gguf" "$gguf_q" "$hfdir"; do
    "$GLMTERM" tokenize -m "$m" --jsonl < "$vectors" | jq -c . > "$T/got.txt" \
        || fail "tokenize --jsonl -m $m failed"
    cmp -s "$T/want.txt" "$T/got.txt" || fail "tokenize -m $m: ids differ from tiktoken"
    pass "all $(wc -l < "$vectors") vectors via $(basename "$m")"
done

# Plain mode: stdin is one text.
got=$(printf 'Hello, world!' | "$GLMTERM" tokenize -m "$ranks")
[ "$got" = "9703 11 1879 0" ] || fail "plain tokenize: got '$got'"
got=$(printf '<|user|>hi' | "$GLMTERM" tokenize -m "$ranks" --special)
case "$got" in "151336 "*) pass "--special";; *) fail "--special: got '$got'";; esac
got=$(printf '<|user|>hi' | "$GLMTERM" tokenize -m "$ranks")
case "$got" in 151336*) fail "special text must stay plain without --special";; *) pass "plain specials";; esac

# Template: every fixture conversation, text and ids, through the CLI.
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" | jq '{messages, add_generation_prompt}' > "$T/conv.json"
    printf '%s' "$line" | jq -j '.text' > "$T/want_text"
    "$GLMTERM" template -m "$ranks" < "$T/conv.json" > "$T/got_text" || fail "template $n failed"
    cmp -s "$T/want_text" "$T/got_text" || fail "template $n: text differs"
    printf '%s' "$line" | jq -r '.ids | map(tostring) | join(" ")' > "$T/want_ids"
    "$GLMTERM" template -m "$gguf" --ids < "$T/conv.json" > "$T/got_ids" || fail "template --ids $n"
    cmp -s "$T/want_ids" "$T/got_ids" || fail "template $n: ids differ"
done < "$convs"
pass "$n template conversations (text and ids)"

# Errors: one line, exit status 1 for runtime errors, 2 for usage.
expect_error 1 "invalid UTF-8" bash -c "printf 'a\xff' | '$GLMTERM' tokenize -m '$ranks'"
expect_error 1 "stdin:2" bash -c "printf '{\"text\":\"a\"}\n{\"text\":1}\n' | '$GLMTERM' tokenize -m '$ranks' --jsonl"
expect_error 1 "no such file" "$GLMTERM" tokenize -m /nonexistent/model.gguf
printf 'GGUF\3\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' > "$T/empty.gguf"
expect_error 1 "no vocabulary" "$GLMTERM" tokenize -m "$T/empty.gguf"
printf 'not base64!! 0\n' > "$T/bad.model"
expect_error 1 "invalid base64" "$GLMTERM" tokenize -m "$T/bad.model"
expect_error 2 "required" "$GLMTERM" tokenize
expect_error 1 "stdin" bash -c "printf '{\"messages\": [' | '$GLMTERM' template -m '$ranks'"
expect_error 1 "role" bash -c "printf '{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}' | '$GLMTERM' template -m '$ranks'"
expect_error 2 "not built yet" "$GLMTERM" replay session.jsonl
expect_error 2 "unknown subcommand" "$GLMTERM" frobnicate
"$GLMTERM" --version | grep -q '^glmterm [0-9]' || fail "--version"
for c in chat run tokenize template perplexity bench quantize serve history replay; do
    "$GLMTERM" "$c" --help | grep -q "usage: glmterm" || fail "$c --help"
done
pass "errors and help"
finish
