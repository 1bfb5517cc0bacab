#!/usr/bin/env bash
# --mlock (run, bench, the workstation) on the built-in demo model: it succeeds and changes
# nothing in the output where the locked-memory limit allows the model's ~25 MB, and under
# `ulimit -l 0` it fails with status 1 and one line naming the model file and `ulimit -l`.
# Root and CAP_IPC_LOCK ignore the limit, so the failure runs with that capability dropped
# (setpriv); where it cannot be dropped, that part is skipped and says so.
set -uo pipefail
. "$(dirname "$0")/lib.bash"

export XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
RUN=(run -p "hello" -n 6 --seed 7 --temp 0.8)
DEMO_KIB=32768 # the demo model is about 25 MB

# has_ipc_lock [CMD...]: CMD (default: this shell) has CAP_IPC_LOCK (bit 14) in effect.
has_ipc_lock() {
    local eff
    eff=$("${@:-cat}" /proc/self/status 2> /dev/null | awk '/^CapEff:/ {print $2}')
    [ -n "$eff" ] && (((0x$eff >> 14) & 1))
}

# 1. Allowed: same output as without --mlock.
"$GLMTERM" "${RUN[@]}" -m demo > "$T/plain" 2> "$T/err" || fail "run without --mlock: $(cat "$T/err")"
DEMO=$(find "$XDG_DATA_HOME" -name '*.gguf' | head -1)
[ -f "$DEMO" ] || fail "demo model file not found under $XDG_DATA_HOME"
limit=$(ulimit -l)
hard=$(ulimit -H -l)
if has_ipc_lock || [ "$limit" = unlimited ] || [ "$limit" -ge "$DEMO_KIB" ] 2> /dev/null ||
    [ "$hard" = unlimited ] || [ "$hard" -ge "$DEMO_KIB" ] 2> /dev/null; then
    raise() { (ulimit -l "$(ulimit -H -l)" 2> /dev/null; exec "$@"); }
    raise "$GLMTERM" "${RUN[@]}" -m demo --mlock > "$T/locked" 2> "$T/err"
    rc=$?
    [ "$rc" = 0 ] || fail "run --mlock: exit $rc: $(cat "$T/err")"
    cmp -s "$T/plain" "$T/locked" && pass "run --mlock: same output" ||
        fail "run --mlock changed the output: $(cat "$T/plain") vs $(cat "$T/locked")"
    raise "$GLMTERM" bench -m demo --mlock -p 8 -n 2 -r 1 --json > "$T/bench.json" 2> "$T/err" ||
        fail "bench --mlock: $(cat "$T/err")"
    jq -e '.mlock == true and .tg_tokens_per_s > 0' "$T/bench.json" > /dev/null &&
        pass "bench --mlock" || fail "bench --mlock: $(cat "$T/bench.json")"
else
    echo "skip: ulimit -l is $limit (hard $hard) KiB, below the demo model; not root"
fi

# 2. Refused: ulimit -l 0 without CAP_IPC_LOCK.
DROP=()
if has_ipc_lock; then
    DROP=(setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock)
    if ! "${DROP[@]}" true 2> /dev/null || has_ipc_lock "${DROP[@]}" cat; then
        DROP=(cannot)
    fi
fi
unlockable() { (ulimit -l 0 && exec "${DROP[@]}" "$@"); }
if [ "${DROP[*]}" = cannot ]; then
    echo "skip: CAP_IPC_LOCK cannot be dropped here (setpriv), so mlock cannot be refused"
else
    expect_error 1 "$DEMO: cannot lock .* MB in RAM: .*limit is 0 KiB.*ulimit -l" \
        unlockable "$GLMTERM" "${RUN[@]}" -m "$DEMO" --mlock
    expect_error 1 "bench: $DEMO: cannot lock" \
        unlockable "$GLMTERM" bench -m "$DEMO" --mlock -p 8 -n 2 -r 1
    # Without --mlock the same limit is no obstacle.
    unlockable "$GLMTERM" "${RUN[@]}" -m "$DEMO" > "$T/out" 2> "$T/err" &&
        cmp -s "$T/plain" "$T/out" && pass "ulimit -l 0 without --mlock" ||
        fail "ulimit -l 0 without --mlock: $(cat "$T/err")"

    # The workstation: restores the terminal, then the same line on stderr and status 1.
    if command -v tmux > /dev/null; then
        SOCK="$T/tmux.sock"
        trap 'tmux -S "$SOCK" kill-server 2> /dev/null; rm -rf "$T"' EXIT
        {
            echo "ulimit -l 0"
            printf '%q ' exec "${DROP[@]}" "$GLMTERM" -m "$DEMO" --mlock
            printf '2> %q\n' "$T/tui.err"
        } > "$T/tui.sh"
        tmux -S "$SOCK" -f /dev/null new-session -d -s glm -x 100 -y 30 \
            "env XDG_DATA_HOME='$XDG_DATA_HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' \
             TERM=xterm-256color bash '$T/tui.sh'; echo \$? > '$T/tui.rc'; sleep 30"
        for ((i = 0; i < 200; i++)); do [ -s "$T/tui.rc" ] && break; sleep 0.1; done
        if [ "$(cat "$T/tui.rc" 2> /dev/null)" = 1 ] && [ "$(wc -l < "$T/tui.err")" = 1 ] &&
            grep -q "^glmterm: $DEMO: cannot lock .*ulimit -l" "$T/tui.err"; then
            pass "chat --mlock refused: status 1, one line"
        else
            fail "chat --mlock: status $(cat "$T/tui.rc" 2> /dev/null), stderr: $(cat "$T/tui.err")"
        fi
    else
        echo "skip: tmux missing, the workstation's --mlock failure is not checked"
    fi
fi

"$GLMTERM" run --help | grep -q -- "--mlock" || fail "run --help lacks --mlock"
"$GLMTERM" bench --help | grep -q -- "--mlock" || fail "bench --help lacks --mlock"
"$GLMTERM" chat --help | grep -q -- "--mlock" || fail "chat --help lacks --mlock"
finish
