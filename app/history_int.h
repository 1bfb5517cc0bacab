/* history — the conversation store: one append-only JSONL file per conversation.
 *
 * Files live in $XDG_DATA_HOME/glmterm/conversations (default ~/.local/share/glmterm/...),
 * directories created 0700, each `<id>.jsonl` mode 0600, id = UTC time + random suffix
 * ("20261126T184512Z-3f9a"). A file is never rewritten in place: every event is one write() of
 * one full JSON line plus "\n", then fsync. The records (format version 1):
 *
 *   {"type":"header","version":1,"id":ID,"created":ISO,"app":"glmterm 0.1.0","model":S|null,
 *    "profile":S|null}                                                   line 1, exactly once
 *   {"type":"message","id":"m7","parent":"m6"|null,"role":"system|user|assistant|observation",
 *    "content":S,"metadata"?:S,"tools"?:[...] (system only),"model"?:S,
 *    "timings"?:{"ttft_ms","tokens_per_s","n_gen","n_prompt"},"created":ISO,"complete":BOOL}
 *   {"type":"partial", same fields as message but "complete" absent}  a streaming reply so far:
 *    the whole content up to now, at most once a second; the final "message" record with the
 *    same id completes it. On load, an id whose last record is partial is a message with
 *    complete == false ("incomplete": glmterm stopped while generating).
 *   {"type":"select","leaf":"m12","created":ISO}  which branch is current
 *   {"type":"title","title":S,"created":ISO}      the conversation was renamed
 *   {"type":"torn","line":L,"bytes":N}            line L is a torn write (a crash) that was
 *    found when the file was reopened for appending; it is skipped instead of cut away.
 *
 * Branches are implied by parent ids: two messages with the same parent are siblings (/retry
 * makes a new assistant message under the old one's parent, /edit a new user message). The
 * current branch is the path from the root to the selected leaf: the most recently appended
 * message, unless a later select record names another. Unknown record types and unknown keys
 * are ignored (files from newer versions still open); a record glmterm cannot trust is an
 * error naming file:line and the field. A torn or invalid LAST line is tolerated and reported
 * as a warning. No secrets are ever written (the header names the model and the profile only).
 *
 * Times are int64 milliseconds since the Unix epoch, written as "2026-11-26T18:45:12.345Z".
 * Errors: fallible functions return 0 / an index, or -1 with *why (optional, caller frees).
 * Thread: one conversation belongs to one thread (the loop thread in the TUI).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define APP_HIST_VERSION    1
#define APP_HIST_TITLE_COLS 60              /* titles in the list, display columns */
#define APP_HIST_PARTIAL_MS 1000            /* partial records at most this often */
#define APP_HIST_MAX_FILE   (1024ull << 20) /* a conversation file larger is refused */
#define APP_HIST_MAX_LINE   (64u << 20)     /* one record */
#define APP_HIST_MAX_MSGS   (1u << 20)
#define APP_HIST_MAX_ID     64 /* bytes of a message id */

enum app_hist_role {
    APP_HIST_SYSTEM,
    APP_HIST_USER,
    APP_HIST_ASSISTANT,
    APP_HIST_OBSERVATION,
};

/* "system", "user", "assistant", "observation". */
const char *app_hist_role_name(enum app_hist_role role);

struct app_hist_timings {
    bool present;
    double ttft_ms;      /* time to first token */
    double tokens_per_s; /* generation speed */
    int64_t n_gen;       /* generated tokens */
    int64_t n_prompt;    /* prompt tokens */
};

struct app_hist_msg {
    char *id;       /* "m7" */
    int32_t parent; /* index in conv->msgs, -1 for a root; always < this message's index */
    enum app_hist_role role;
    char *content;  /* UTF-8, never NULL */
    char *metadata; /* GLM-4 metadata (the tool name of a call), NULL when absent */
    cJSON *tools;   /* the system message's tool list, NULL when absent; owned */
    char *model;    /* NULL when absent */
    struct app_hist_timings timings;
    int64_t created_ms;
    bool complete;           /* false: a reply cut off (crash, or stopped) */
    bool finished;           /* a "message" record was read or written (no more partials) */
    int64_t last_partial_ms; /* monotonic ms of the last partial record; 0 = none yet */
};

enum app_hist_tail {
    APP_HIST_TAIL_CLEAN,        /* ends with a complete line */
    APP_HIST_TAIL_UNTERMINATED, /* a valid last record without its "\n" */
    APP_HIST_TAIL_TORN_OPEN,    /* an invalid last line without "\n" */
    APP_HIST_TAIL_TORN_CLOSED,  /* an invalid last line with "\n" */
};

struct app_hist_conv {
    char *id; /* the file name without .jsonl */
    char *path;
    char *model;                    /* header, NULL when absent */
    char *profile;                  /* header, NULL when absent */
    char *title;                    /* the last title record, NULL when never renamed */
    int64_t created_ms, updated_ms; /* header time; newest record time */
    struct app_hist_msg *msgs;      /* in file order: a parent comes before its children */
    size_t n_msgs, cap_msgs;
    int32_t leaf;     /* selected message, -1 when there are none */
    char *warning;    /* "conversation X: last line torn (N bytes) — ignored", or NULL */
    uint64_t n_fsync; /* successful fsyncs of this file by this process */
    /* append state */
    int fd;            /* O_APPEND descriptor, -1 when opened read-only or after a failed write */
    uint32_t next_num; /* next "m<N>" */
    uint32_t n_lines;
    enum app_hist_tail tail;
    uint32_t torn_line;
    size_t torn_bytes;
};

/* What a new complete message holds (all strings borrowed, NULL when absent). */
struct app_hist_new {
    int32_t parent; /* index, or -1 for a root */
    enum app_hist_role role;
    const char *content;
    size_t content_len;
    const char *metadata;
    const cJSON *tools;
    const char *model;
    const struct app_hist_timings *timings;
};

/* ---- places ----------------------------------------------------------------------------- */

/* $XDG_DATA_HOME/glmterm/conversations ($HOME/.local/share/... when XDG_DATA_HOME is unset,
 * empty or relative). Returns a new string; caller frees. NULL with *why when HOME is unknown. */
char *app_hist_dir(char **why);

/* ---- one conversation --------------------------------------------------------------------- */

/* Creates a new conversation file (and the directories, 0700), writes the header and fsyncs
 * the file and the directory. `model` and `profile` may be NULL. Returns a conversation open
 * for appending; free with app_hist_free. */
struct app_hist_conv *app_hist_create(const char *model, const char *profile, char **why);

/* Loads conversation `id` (a full id; see app_hist_resolve for prefixes) from app_hist_dir.
 * `writable`: also opens it for appending (a torn tail is then sealed by a torn record before
 * the next append) and takes an exclusive flock, so a second writer (another glmterm on the
 * same conversation) is refused. conv->warning reports a tolerated torn last line. */
struct app_hist_conv *app_hist_open(const char *id, bool writable, char **why);

/* As app_hist_open, for a file path (the id is the file name without ".jsonl"). */
struct app_hist_conv *app_hist_load_file(const char *path, bool writable, char **why);

/* Closes the file and frees everything; NULL is fine. */
void app_hist_free(struct app_hist_conv *c);

/* Appends a complete message and makes it the selected leaf. Returns its index or -1. */
int32_t app_hist_append(struct app_hist_conv *c, const struct app_hist_new *m, char **why);

/* Starts a streaming reply under `parent`: a message with empty content and complete ==
 * false, written at once as a partial record (so a crash before the first token still leaves
 * it, marked incomplete). Returns its index or -1. `model` may be NULL. */
int32_t app_hist_reply_begin(struct app_hist_conv *c, int32_t parent, enum app_hist_role role,
                             const char *model, char **why);

/* The reply so far (the whole text, not a delta). Writes a partial record when the text
 * changed and APP_HIST_PARTIAL_MS have passed since the last one; call it for every token
 * batch and from a one-second timer. Returns 1 written, 0 skipped, -1 on error. */
int app_hist_reply_partial(struct app_hist_conv *c, int32_t idx, const char *content, size_t len,
                           char **why);

/* Ends a streaming reply with its final message record. `complete` false: stopped by the
 * user, kept as incomplete. `metadata` and `timings` may be NULL. */
int app_hist_reply_finish(struct app_hist_conv *c, int32_t idx, const char *content, size_t len,
                          const char *metadata, const struct app_hist_timings *timings,
                          bool complete, char **why);

/* /retry: begins a new assistant reply beside `old` (same parent). Returns its index. */
int32_t app_hist_retry(struct app_hist_conv *c, int32_t old, const char *model, char **why);

/* /edit: a new user message with `content` beside `old` (same parent). Returns its index. */
int32_t app_hist_edit(struct app_hist_conv *c, int32_t old, const char *content, char **why);

/* Makes `idx` the current leaf and records it (a select record). */
int app_hist_select(struct app_hist_conv *c, int32_t idx, char **why);

/* Renames the conversation (a title record). */
int app_hist_set_title(struct app_hist_conv *c, const char *title, char **why);

/* ---- the tree (no I/O) ------------------------------------------------------------------- */

/* The path from the root to `leaf` (inclusive), root first, as a new array in *out (caller
 * frees; NULL when leaf is -1) of *n indices. -1 on no memory. */
int app_hist_path(const struct app_hist_conv *c, int32_t leaf, int32_t **out, size_t *n);

/* Children of `parent` (-1: the roots) in file order: writes at most `cap` indices to `out`
 * (which may be NULL when cap is 0) and returns how many there are. The siblings of message i
 * are the children of msgs[i].parent. */
size_t app_hist_children(const struct app_hist_conv *c, int32_t parent, int32_t *out, size_t cap);

/* The leaf reached from `idx` by always following the newest child: where switching to a
 * branch lands. */
int32_t app_hist_branch_leaf(const struct app_hist_conv *c, int32_t idx);

/* Index of message `id`, or -1. */
int32_t app_hist_find(const struct app_hist_conv *c, const char *id);

/* The title: the last title record, else the first line of the first user message of the
 * current branch, cut to APP_HIST_TITLE_COLS display columns ("…" marks a cut), control
 * characters removed; "(untitled)" when there is none. Returns a new string; caller frees;
 * NULL on no memory. */
char *app_hist_title(const struct app_hist_conv *c);

/* The current branch as Markdown: "# title", a line naming the conversation, then one "##
 * Role" heading per message; content is kept verbatim (code fences intact), tool calls and
 * observations are fenced, incomplete messages are marked. Returns a new string (*len set);
 * caller frees; NULL on no memory. */
char *app_hist_export_md(const struct app_hist_conv *c, size_t *len);

/* ---- all conversations -------------------------------------------------------------------- */

struct app_hist_entry {
    char *id;
    char *title;
    int64_t updated_ms;
    size_t n_msgs;
    char *snippet;  /* search only: text around the first match, one line; else NULL */
    char *match_id; /* search only: the message that matched */
};

struct app_hist_list {
    struct app_hist_entry *v; /* newest first (updated_ms, then id) */
    size_t n;
    char **warnings; /* files that could not be read, torn tails: one line each */
    size_t n_warnings;
};

void app_hist_list_done(struct app_hist_list *l);

/* Every conversation in app_hist_dir, newest first. A missing directory is an empty list; a
 * file that fails to load is skipped with a warning. */
int app_hist_list(struct app_hist_list *out, char **why);

/* Conversations with a message (any branch) containing `text`, ASCII case-insensitively
 * (other characters match exactly), newest first, with a snippet of the first match. */
int app_hist_search(const char *text, struct app_hist_list *out, char **why);

/* The full id of the one conversation whose id starts with `prefix` (an exact id wins).
 * *id is a new string; -1 with *why when none or several match, or the prefix is not an id. */
int app_hist_resolve(const char *prefix, char **id, char **why);

/* The most recently updated conversation (for --resume): *id a new string, or NULL when there
 * is none. */
int app_hist_latest(char **id, char **why);

/* ---- text helpers (exposed for the CLI and tests) ----------------------------------------- */

/* Display columns of one code point: 0 (controls, combining marks), 2 (East Asian wide and
 * fullwidth, emoji), else 1. */
int app_hist_cp_width(uint32_t cp);

/* A copy of `s` fit for a terminal: invalid UTF-8 becomes U+FFFD, C0/C1 controls and DEL are
 * dropped (ESC sequences with them), except "\n" and "\t" when `keep_newlines`; otherwise
 * those become spaces. Returns a new string; caller frees; NULL on no memory. */
char *app_hist_sanitize(const char *s, size_t len, bool keep_newlines);

/* "2026-11-26T18:45:12.345Z" into buf (at least 32 bytes). */
void app_hist_format_time(int64_t ms, char *buf, size_t size);

/* Parses ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" into *ms; -1 when invalid. */
int app_hist_parse_time(const char *s, int64_t *ms);
