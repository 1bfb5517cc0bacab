#!/usr/bin/env bash
# The workstation driven as a person drives it: the real binary in tmux (send-keys, then
# capture-pane), with the built-in demo model. Types English and Chinese, watches a reply
# stream in, cancels one mid-stream, resizes to 60x20 and 200x50, scrolls, opens F1, copies a
# code block (OSC 52 into tmux's buffer), quits, reopens with --resume, and survives kill -9
# during a generation with every completed message kept and the partial one marked.
set -uo pipefail
. "$(dirname "$0")/lib.bash"

command -v tmux > /dev/null || { echo "FAIL: tmux missing (scripts/setup installs it)"; exit 1; }
export XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
SOCK="$T/tmux.sock"
tm() { tmux -S "$SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$T"' EXIT

screen() { tm capture-pane -p -t glm; }
# The glmterm of this test's tmux pane only (other tests may run glmterm at the same time).
glm_pid() {
    local pane
    pane=$(tm display-message -p -t glm '#{pane_pid}' 2> /dev/null) || return 0
    [ -n "$pane" ] && pgrep -P "$pane" -f "$GLMTERM" | head -1
}
# wait_for PATTERN [SECONDS]: until the screen shows PATTERN (grep -E).
wait_for() {
    local pat=$1 secs=${2:-20} i
    for ((i = 0; i < secs * 10; i++)); do
        screen | grep -qE -- "$pat" && return 0
        sleep 0.1
    done
    echo "--- screen while waiting for '$pat':" >&2
    screen >&2
    return 1
}
start() {
    local old
    old=$(glm_pid)
    tm kill-server 2>/dev/null
    for ((i = 0; i < 50; i++)); do tm ls > /dev/null 2>&1 || break; sleep 0.05; done
    rm -f "$SOCK"
    # The previous glmterm must be gone (it holds its conversation's writer lock).
    for ((i = 0; i < 50; i++)); do
        [ -z "$old" ] || ! kill -0 "$old" 2> /dev/null && break
        sleep 0.1
    done
    tm -f /dev/null new-session -d -s glm -x "${COLS:-100}" -y "${ROWS:-30}" \
        "env XDG_DATA_HOME='$XDG_DATA_HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' TERM=xterm-256color '$GLMTERM' $*; sleep 30"
    tm set-option -g set-clipboard on > /dev/null
}

# 1. Start with the demo model; the interface is up before the model finishes loading.
start -m demo
wait_for "glmterm ·" 10 && pass "first frame" || fail "no first frame"
wait_for "ready" 60 && pass "demo model loaded" || fail "model did not load"
screen | grep -q "RANDOMLY" && pass "demo labelled as random weights" || fail "no random-weights label"

# 2. English: a streamed reply appears and finishes.
tm send-keys -t glm "hello world" Enter
wait_for "you" && wait_for "hello world" && pass "user message shown" || fail "user message"
wait_for "^.{0,3}glm" 20 && pass "reply shown" || fail "no reply"
wait_for "ready" 30 && pass "reply finished" || fail "reply did not finish"

# 3. Chinese.
tm send-keys -t glm "你好，世界" Enter
wait_for "你好，世界" && pass "Chinese input" || fail "Chinese input"
wait_for "ready" 30 || fail "second reply did not finish"

# 4. Cancel mid-stream: greedy demo output never ends by itself.
tm send-keys -t glm "/params temp=0" Enter
tm send-keys -t glm "tell me everything" Enter
wait_for "generating" 10 && sleep 1
tm send-keys -t glm C-c
wait_for "cancelled" 10 && pass "Ctrl-C cancels a generation" || fail "cancel"
wait_for "incomplete" 10 && pass "cancelled reply marked incomplete" || fail "incomplete mark"

# 5. Resize: wide characters stay aligned, nothing past the right edge.
for size in "60 20" "200 50"; do
    set -- $size
    tm resize-window -t glm -x "$1" -y "$2"
    sleep 0.5
    if [ "$1" = 60 ]; then
        # 6. Scroll (the conversation is taller than this pane): PgUp shows earlier lines,
        # PgDn returns to the bottom.
        bottom=$(screen)
        tm send-keys -t glm PPage
        sleep 0.3
        up=$(screen)
        tm send-keys -t glm NPage NPage NPage
        sleep 0.3
        [ "$up" != "$bottom" ] && pass "PgUp scrolls back" || fail "PgUp changed nothing"
        [ "$(screen)" = "$bottom" ] && pass "PgDn returns to the bottom" || fail "PgDn"
    fi
    # Bring the Chinese message into view (it may have scrolled off a small window).
    for ((k = 0; k < 8; k++)); do
        screen | grep -q "你好，世界" && break
        tm send-keys -t glm PPage
        sleep 0.2
    done
    wait_for "你好，世界" 5 || fail "CJK text lost at ${1}x$2"
    widest=$(screen | LC_ALL=C.UTF-8 wc -L)
    [ "$widest" -le "$1" ] && pass "no line wider than $1 at ${1}x$2" ||
        fail "a line of $widest columns at ${1}x$2"
    screen | grep -q "│.*你好，世界 *│" && pass "CJK line inside the border at ${1}x$2" ||
        fail "CJK line misaligned at ${1}x$2"
    tm send-keys -t glm NPage NPage NPage NPage NPage NPage NPage NPage
done
tm resize-window -t glm -x 100 -y 30

# 7. F1 help overlay, then Escape.
tm send-keys -t glm F1
wait_for "glmterm keys" 5 && pass "F1 help" || fail "F1 help"
tm send-keys -t glm Escape
sleep 0.3

# 8. A code block (in a system prompt, rendered as markdown), copied with /copy.
tm send-keys -t glm "/system Example:" M-Enter '```python' M-Enter 'print("copied")' M-Enter '```' Enter
wait_for "print" 5 || fail "code block not shown"
tm send-keys -t glm M-1
wait_for "copied|written to" 5 && pass "copy reported" || fail "copy"
sleep 0.3
tm show-buffer 2> /dev/null | grep -q 'print("copied")' && pass "OSC 52 reached tmux's buffer" ||
    fail "OSC 52 did not reach tmux (buffer: $(tm show-buffer 2>&1 | head -c 80))"

# 9. Quit and resume.
pid=$(glm_pid)
tm send-keys -t glm "/quit" Enter
for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
kill -0 "$pid" 2> /dev/null && fail "still running after /quit" || pass "/quit exits"
start --resume -m demo
wait_for "Example:" 10 && pass "--resume shows the conversation" || fail "--resume"

# 9b. The conversation list: F2 shows it, typing searches every conversation's text.
tm send-keys -t glm F2
wait_for "conversations" 5 && pass "F2 conversation list" || fail "F2 list"
tm send-keys -t glm "tell me"
wait_for "search: tell me" 5 && wait_for "> hello world" 5 && pass "list search" ||
    fail "list search"
tm send-keys -t glm Escape Escape F2

# 10. kill -9 during a generation.
tm send-keys -t glm "/params temp=0" Enter
wait_for "ready" 60
tm send-keys -t glm "one more question" Enter
wait_for "generating" 10 && sleep 0.5
kill -9 "$(glm_pid)" 2> /dev/null
sleep 0.5
out=$("$GLMTERM" history show "$("$GLMTERM" history ls | awk 'NR==1 {print $1}')" 2>&1)
echo "$out" | grep -q "one more question" && pass "completed message kept after kill -9" ||
    fail "message lost after kill -9: $out"
echo "$out" | grep -qi "incomplete" && pass "partial reply marked incomplete" ||
    fail "partial reply not marked: $out"
start --resume -m demo
wait_for "one more question" 10
for ((k = 0; k < 10; k++)); do # the reply may be taller than the pane: look up for its header
    screen | grep -q "incomplete" && break
    tm send-keys -t glm PPage
    sleep 0.2
done
wait_for "incomplete" 5 && pass "resumed after kill -9 with the partial reply marked" ||
    fail "resume after kill -9"
tm send-keys -t glm "/quit" Enter

# 11. A config file: its default profile loads the model, its theme applies; a bad field is
# one error line naming it.
cat > "$T/config.json" << 'EOF2'
{"default_profile": "toy", "theme": "high-contrast",
 "profiles": {"toy": {"type": "local", "model": "demo", "ctx": 1024}}}
EOF2
start --config "$T/config.json"
wait_for "toy: demo" 10 && wait_for "ready" 60 && pass "config profile loads its model" ||
    fail "config profile"
tm send-keys -t glm "/quit" Enter
echo '{"profiles": {"toy": {"type": "local", "model": "demo", "ctx": "big"}}}' > "$T/bad.json"
start --config "$T/bad.json"
wait_for "profiles.toy.ctx" 5 && pass "invalid config names the field" || fail "bad config"
finish
