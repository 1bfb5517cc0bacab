#!/usr/bin/env bash
# `glmterm bench` on the built-in demo model: one JSON object with the documented keys and
# positive figures, the human table, and one-line usage errors with status 2.
set -uo pipefail
. "$(dirname "$0")/lib.bash"

export XDG_DATA_HOME="$T/data"
"$GLMTERM" bench -m demo -p 16 -n 8 -r 2 --json > "$T/out.json" 2> "$T/err" \
    || fail "bench --json failed: $(cat "$T/err")"
[ "$(wc -l < "$T/out.json")" = 1 ] || fail "--json: not one line: $(cat "$T/out.json")"
jq -e . "$T/out.json" > /dev/null || fail "--json: not valid JSON: $(cat "$T/out.json")"
for k in pp_tokens_per_s tg_tokens_per_s peak_rss_bytes read_bandwidth_gbs \
    roofline_tokens_per_s ttft_ms ttft_cold_ms weight_bytes_per_token file_bytes; do
    jq -e --arg k "$k" '.[$k] | type == "number" and . > 0' "$T/out.json" > /dev/null \
        || fail "--json: $k is not a positive number: $(jq -c --arg k "$k" '.[$k]' "$T/out.json")"
done
jq -e '.reps == 2 and .n_prompt == 16 and .n_gen == 8 and .threads >= 1
       and (.kernels | type == "string")' "$T/out.json" > /dev/null \
    || fail "--json: options not echoed: $(cat "$T/out.json")"
# The roofline is bandwidth / bytes per token, as documented.
jq -e '(.read_bandwidth_gbs * 1e9 / .weight_bytes_per_token - .roofline_tokens_per_s | fabs)
       < 1e-6 * .roofline_tokens_per_s' "$T/out.json" > /dev/null || fail "roofline arithmetic"
# Every tg rep is held against the bandwidth measured around it; the % is their median.
jq -e '(.tg_reps | length) == 2 and all(.tg_reps[]; .tg_tokens_per_s > 0
       and .read_bandwidth_gbs > 0 and .roofline_pct > 0)
       and ((.tg_reps | map(.roofline_pct) | add / 2) - .roofline_pct | fabs) < 1e-6 * .roofline_pct' \
    "$T/out.json" > /dev/null || fail "--json: tg_reps: $(jq -c .tg_reps "$T/out.json")"
pass "bench --json: valid, all keys positive"

"$GLMTERM" bench -m demo -p 8 -n 4 -r 1 -t 1 > "$T/out.txt" 2> "$T/err" || fail "bench table failed"
for w in pp8 tg4 bandwidth roofline "peak RSS" ttft "threads     1"; do
    grep -q "$w" "$T/out.txt" || fail "table lacks '$w': $(cat "$T/out.txt")"
done
pass "bench table"

expect_error 2 "-p" "$GLMTERM" bench -m demo -p 0
expect_error 2 "-p" "$GLMTERM" bench -m demo -p abc
expect_error 2 "-r" "$GLMTERM" bench -m demo -r 0
expect_error 2 "-m MODEL is required" "$GLMTERM" bench -p 16
expect_error 2 "unknown option" "$GLMTERM" bench -m demo --frob
expect_error 2 "missing value" "$GLMTERM" bench -m demo -n
expect_error 1 "No such file" "$GLMTERM" bench -m /nonexistent/model.gguf -r 1
"$GLMTERM" bench --help | grep -q "usage: glmterm bench" || fail "bench --help"

# `-m demo` with no XDG_DATA_HOME and a HOME whose .local/share does not exist yet.
HOME="$T/fresh-home" XDG_DATA_HOME= "$GLMTERM" bench -m demo -p 4 -n 2 -r 1 > /dev/null 2> "$T/err" \
    || fail "bench -m demo in a fresh HOME: $(cat "$T/err")"
[ -f "$T/fresh-home/.local/share/glmterm/demo-random-glm4.gguf" ] || fail "demo model not created"
pass "demo model in a fresh HOME"
finish
