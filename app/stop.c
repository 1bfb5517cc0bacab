/* Stop strings for generated text.
 *
 * The engine stops on ids; a stop string ("Observation:", "\n\n\n") can span several tokens
 * and begin in the middle of one, so it is found in the decoded text. The stopper takes text
 * as the streaming decoder produces it and releases only what can no longer be the start of a
 * stop string: the longest suffix that is a proper prefix of some stop string is held back.
 * When a stop string appears, the text before it is released, the rest is dropped and
 * app_stop_feed reports the match. Holding back is bounded by the longest stop string.
 */
#include "app/app.h"

#include <stdlib.h>
#include <string.h>

void app_stop_init(struct app_stop *st, const char *const *strings, size_t n)
{
    memset(st, 0, sizeof *st);
    st->strings = strings;
    st->n = n;
}

void app_stop_done(struct app_stop *st)
{
    tok_buf_done(&st->held);
}

/* Length of the longest suffix of s[0..len) that is a proper prefix of a stop string. */
static size_t held_suffix(const struct app_stop *st, const char *s, size_t len)
{
    size_t best = 0;
    for (size_t k = 0; k < st->n; k++) {
        size_t sl = strlen(st->strings[k]);
        for (size_t l = sl > 0 ? sl - 1 : 0; l > best; l--) {
            if (l <= len && memcmp(s + len - l, st->strings[k], l) == 0) {
                best = l;
                break;
            }
        }
    }
    return best;
}

int app_stop_feed(struct app_stop *st, const char *text, size_t len, struct tok_buf *out)
{
    if (st->stopped) return 1;
    if (tok_buf_append(&st->held, text, len) != TOK_OK) return -1;
    /* The earliest complete stop string in the held text wins. */
    const char *first = NULL;
    for (size_t k = 0; k < st->n; k++) {
        size_t sl = strlen(st->strings[k]);
        if (sl == 0) continue;
        const char *hit = memmem(st->held.s, st->held.len, st->strings[k], sl);
        if (hit && (!first || hit < first)) first = hit;
    }
    if (first) {
        size_t keep = (size_t)(first - st->held.s);
        if (tok_buf_append(out, st->held.s, keep) != TOK_OK) return -1;
        st->held.len = 0;
        st->stopped = true;
        return 1;
    }
    size_t hold = held_suffix(st, st->held.s, st->held.len);
    size_t release = st->held.len - hold;
    if (tok_buf_append(out, st->held.s, release) != TOK_OK) return -1;
    memmove(st->held.s, st->held.s + release, hold);
    st->held.len = hold;
    st->held.s[hold] = 0;
    return 0;
}

int app_stop_flush(struct app_stop *st, struct tok_buf *out)
{
    if (st->stopped || st->held.len == 0) return 0;
    int rc = tok_buf_append(out, st->held.s, st->held.len) == TOK_OK ? 0 : -1;
    st->held.len = 0;
    return rc;
}
