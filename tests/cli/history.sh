#!/usr/bin/env bash
# `glmterm history` driven as a user would, on conversation files written by hand into a
# temporary XDG_DATA_HOME: ls, show (branches, incomplete replies), search, export --md (to
# stdout and -o FILE), a torn last line, and the one-line errors with exit 1 or 2.
set -uo pipefail
. "$(dirname "$0")/lib.bash"

export XDG_DATA_HOME="$T/data" TZ=UTC
D="$XDG_DATA_HOME/glmterm/conversations"
mkdir -p "$D"

# A conversation with a system prompt, a retried reply (two branches, the second selected),
# a tool call with its observation, and a reply cut off by a crash (partial records only).
A=20261120T100000Z-a1b2
cat > "$D/$A.jsonl" <<'EOF'
{"type":"header","version":1,"id":"20261120T100000Z-a1b2","created":"2026-11-20T10:00:00Z","app":"glmterm 0.1.0","model":"glm-4-9b-chat","profile":null}
{"type":"message","id":"m1","parent":null,"role":"system","content":"You are GLM-4.","tools":[{"type":"function","function":{"name":"get_weather"}}],"created":"2026-11-20T10:00:00Z","complete":true}
{"type":"message","id":"m2","parent":"m1","role":"user","content":"北京今天天气怎么样？","created":"2026-11-20T10:00:01Z","complete":true}
{"type":"message","id":"m3","parent":"m2","role":"assistant","content":"first answer","created":"2026-11-20T10:00:02Z","complete":true}
{"type":"message","id":"m4","parent":"m2","role":"assistant","content":"{\"city\": \"北京\"}","metadata":"get_weather","created":"2026-11-20T10:00:03Z","complete":true}
{"type":"message","id":"m5","parent":"m4","role":"observation","content":"{\"temp_c\": 23}","created":"2026-11-20T10:00:04Z","complete":true}
{"type":"partial","id":"m6","parent":"m5","role":"assistant","content":"北京今天晴","created":"2026-11-20T10:00:05Z"}
{"type":"partial","id":"m6","parent":"m5","role":"assistant","content":"北京今天晴，气温约 23°C。\n```python\nprint(23)\n```","created":"2026-11-20T10:00:06Z"}
EOF
B=20261121T090000Z-c3d4
cat > "$D/$B.jsonl" <<'EOF'
{"type":"header","version":1,"id":"20261121T090000Z-c3d4","created":"2026-11-21T09:00:00Z","app":"glmterm 0.1.0","model":null,"profile":null}
{"type":"message","id":"m1","parent":null,"role":"user","content":"Explain the Rust BORROW checker\nin detail","created":"2026-11-21T09:00:01Z","complete":true}
{"type":"message","id":"m2","parent":"m1","role":"assistant","content":"It checks \u001b[31mlifetimes\u001b[0m.","created":"2026-11-21T09:00:02Z","complete":true}
{"type":"future_record","anything":1}
EOF
chmod 600 "$D"/*.jsonl

# ls: newest first, id, time, messages, title.
"$GLMTERM" history ls > "$T/ls" 2> "$T/ls.err" || fail "history ls failed: $(cat "$T/ls.err")"
[ "$(wc -l < "$T/ls")" = 2 ] || fail "ls: want 2 lines: $(cat "$T/ls")"
head -1 "$T/ls" | grep -q "^$B  2026-11-21 09:00     2  Explain the Rust BORROW checker$" \
    || fail "ls line 1: $(head -1 "$T/ls")"
sed -n 2p "$T/ls" | grep -q "^$A  2026-11-20 10:00     6  北京今天天气怎么样？$" \
    || fail "ls line 2: $(sed -n 2p "$T/ls")"
[ -s "$T/ls.err" ] && fail "ls: unexpected stderr: $(cat "$T/ls.err")"
"$GLMTERM" history > "$T/ls2" && cmp -s "$T/ls" "$T/ls2" || fail "history without ls differs"
pass "ls"

# show: the current branch (the retried reply), labels, branch and incomplete marks.
"$GLMTERM" history show 20261120 > "$T/show" || fail "show by prefix failed"
grep -q "^conversation $A · 北京今天天气怎么样？ · glm-4-9b-chat · 6 messages$" "$T/show" \
    || fail "show header: $(head -1 "$T/show")"
grep -q '^\[m1 system\]$' "$T/show" || fail "show: system label"
grep -q '^\[m4 assistant · tool call get_weather · branch 2/2\]$' "$T/show" \
    || fail "show: branch label: $(cat "$T/show")"
grep -q '^\[m6 assistant · incomplete\]$' "$T/show" || fail "show: incomplete mark"
grep -q '^print(23)$' "$T/show" || fail "show: content lines"
grep -q 'first answer' "$T/show" && fail "show: printed the other branch"
"$GLMTERM" history show "$B" > "$T/showb" || fail "show B"
grep -q $'\x1b' "$T/showb" && fail "show: escape sequence reached the terminal"
grep -q '^It checks lifetimes\.$' "$T/showb" || fail "show: sanitised content: $(cat "$T/showb")"
pass "show"

# search: case-insensitive, one line per conversation plus a snippet.
"$GLMTERM" history search borrow checker > "$T/search" || fail "search failed"
grep -q "^$B  Explain the Rust BORROW checker$" "$T/search" || fail "search: $(cat "$T/search")"
grep -q "^    m1: Explain the Rust BORROW checker in detail$" "$T/search" \
    || fail "search snippet: $(cat "$T/search")"
[ "$(wc -l < "$T/search")" = 2 ] || fail "search: extra hits"
"$GLMTERM" history search 23°C | grep -q "^    m6: " || fail "search: partial reply content"
[ -z "$("$GLMTERM" history search 'no such words')" ] || fail "search: no hits prints nothing"
pass "search"

# export --md: the current branch, roles as headings, code kept, incomplete marked.
"$GLMTERM" history export "$A" --md > "$T/a.md" || fail "export failed"
grep -q '^# 北京今天天气怎么样？$' "$T/a.md" || fail "export: title"
grep -q '^## System$' "$T/a.md" || fail "export: system heading"
grep -q '^\*\*Tools:\*\* `get_weather`$' "$T/a.md" || fail "export: tools"
grep -q '^## Assistant · tool call `get_weather`$' "$T/a.md" || fail "export: tool call"
grep -q '^## Assistant \*(incomplete)\*$' "$T/a.md" || fail "export: incomplete"
grep -q '^```python$' "$T/a.md" || fail "export: code fence kept"
grep -q 'first answer' "$T/a.md" && fail "export: other branch exported"
"$GLMTERM" history export "$A" --md -o "$T/out.md" || fail "export -o failed"
cmp -s "$T/a.md" "$T/out.md" || fail "export -o differs from stdout"
[ "$(stat -c %a "$T/out.md")" = 600 ] || fail "export -o: mode $(stat -c %a "$T/out.md")"
pass "export --md"

# A torn last line (a crash in the middle of a write): shown with one warning, exit 0.
cp "$D/$B.jsonl" "$D/20261122T000000Z-eeee.jsonl"
printf '{"type":"message","id":"m3","par' >> "$D/20261122T000000Z-eeee.jsonl"
"$GLMTERM" history show 20261122 > "$T/torn" 2> "$T/torn.err" || fail "torn: show failed"
grep -q '^glmterm: warning: conversation 20261122T000000Z-eeee: last line torn (32 bytes) — ignored$' \
    "$T/torn.err" || fail "torn: warning: $(cat "$T/torn.err")"
grep -q '^\[m2 assistant\]$' "$T/torn" || fail "torn: earlier messages lost"
"$GLMTERM" history ls 2> "$T/torn.err" | grep -q 20261122T000000Z-eeee || fail "torn: ls"
grep -q 'last line torn' "$T/torn.err" || fail "torn: ls warning"
pass "torn last line"

# Errors: one line; exit 1 for a conversation that cannot be read, 2 for usage.
printf '%s\n' "$(head -2 "$D/$B.jsonl")" 'not json' "$(sed -n 3p "$D/$B.jsonl")" \
    > "$D/20261123T000000Z-ffff.jsonl"
expect_error 1 "20261123T000000Z-ffff.jsonl:3: not a JSON object" \
    "$GLMTERM" history show 20261123T000000Z-ffff
expect_error 1 "20261: ambiguous, 4 conversations" "$GLMTERM" history show 20261
expect_error 1 "nothere: no such conversation" "$GLMTERM" history show nothere
expect_error 1 "not a conversation id" "$GLMTERM" history show ../../etc/passwd
expect_error 2 "ID is required" "$GLMTERM" history show
expect_error 2 "ID is required" "$GLMTERM" history export --md
expect_error 2 "unknown option" "$GLMTERM" history export "$A" --pdf
expect_error 2 "TEXT is required" "$GLMTERM" history search
expect_error 2 "unknown command" "$GLMTERM" history frobnicate
expect_error 1 "/nonexistent/dir/x.md" "$GLMTERM" history export "$A" -o /nonexistent/dir/x.md
"$GLMTERM" history --help | grep -q '^usage: glmterm history' || fail "history --help"
"$GLMTERM" --help | grep -q '^  history .*search$' || fail "glmterm --help lists history"

# No conversations at all (no directory yet): an empty list, not an error.
XDG_DATA_HOME="$T/empty" "$GLMTERM" history ls > "$T/none" || fail "ls without a directory"
[ -s "$T/none" ] && fail "ls without conversations printed: $(cat "$T/none")"
pass "errors and help"
finish
