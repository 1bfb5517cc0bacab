# Helpers for the command-line tests (sourced). GLMTERM_BIN and GLMTERM_SHARED come from CTest.
GLMTERM=${GLMTERM_BIN:?GLMTERM_BIN not set}
SHARED=${GLMTERM_SHARED:-../shared}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FAILED=0
PASSED=0

fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*"; PASSED=$((PASSED + 1)); }

# A missing shared/ folder fails in CI and skips (exit 77) elsewhere; checked at source time,
# not inside $(...), so the exit really ends the test.
if [ ! -d "$SHARED/fixtures" ]; then
    if [ -n "${CI:-}" ] && [ "${CI}" != "false" ]; then
        echo "FAIL: shared folder missing: $SHARED (CI)" >&2
        exit 1
    fi
    echo "SKIP: shared folder missing: $SHARED" >&2
    exit 77
fi

# shared REL: path of REL in shared/.
shared() { printf '%s\n' "$SHARED/$1"; }

# expect_error STATUS PATTERN CMD...: CMD exits STATUS and prints one stderr line with PATTERN.
expect_error() {
    local want=$1 pat=$2
    shift 2
    "$@" > /dev/null 2> "$T/err"
    local rc=$?
    local lines
    lines=$(wc -l < "$T/err")
    if [ "$rc" != "$want" ]; then fail "$*: exit $rc, want $want ($(cat "$T/err"))"; return; fi
    if [ "$lines" != 1 ]; then fail "$*: $lines stderr lines: $(cat "$T/err")"; return; fi
    grep -q -- "$pat" "$T/err" || { fail "$*: stderr lacks '$pat': $(cat "$T/err")"; return; }
    grep -q '^glmterm: ' "$T/err" || { fail "$*: stderr not 'glmterm: ...'"; return; }
    pass "error: $pat"
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
}
