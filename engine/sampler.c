/* The sampler: logits -> next token id.
 *
 * Chain (the order llama.cpp's default sampler uses, so settings mean the same there):
 * repetition / presence / frequency penalties over the last `repeat_last_n` accepted ids ->
 * greedy when temperature <= 0 -> top-k -> top-p (nucleus) -> min-p -> temperature ->
 * a draw from the resulting distribution with the sampler's own PRNG (xoshiro256**, seeded by
 * splitmix64 from `seed`, so a seed reproduces a run exactly on any machine).
 *
 * Candidates: with top-k set, a min-heap keeps the k best in O(n log k). Without it, only ids
 * whose logit is within CUTOFF of the best survive before sorting: after the temperature they
 * would have probability below e^-CUTOFF/T relative to the best (< 1e-20 at T = 2), so the
 * draw is unchanged in any way a double could show, and a 151552-entry sort per token is
 * avoided. Scratch is sized once; sampling does not allocate.
 */
#include "engine/eng_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Logit distance below the best beyond which a candidate cannot be drawn (see above). */
#define CUTOFF 46.0f

struct cand {
    int32_t id;
    float logit;
};

struct eng_sampler {
    struct eng_sampler_params p;
    int32_t n_vocab;
    struct cand *cand; /* (n_vocab) */
    float *adjusted;   /* (n_vocab) logits after penalties */
    int32_t *history;  /* ring of the last repeat_last_n accepted ids */
    int32_t n_history, head;
    uint16_t *counts; /* (n_vocab) occurrences of each id within the ring */
    uint8_t *mark;    /* (n_vocab) scratch flags, all zero between calls */
    uint64_t s[4];    /* xoshiro256** state */
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform double in [0, 1). */
static double next_unit(uint64_t s[4])
{
    return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

void eng_sampler_params_default(struct eng_sampler_params *p)
{
    /* glm-4-9b-chat's generation_config.json: temperature 0.8, top_p 0.8. */
    memset(p, 0, sizeof *p);
    p->temperature = 0.8f;
    p->top_k = 0;
    p->top_p = 0.8f;
    p->min_p = 0.0f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->seed = 0;
}

struct eng_sampler *eng_sampler_new(const struct eng_sampler_params *p, int32_t n_vocab, char **why)
{
    if (n_vocab <= 0 || p->top_k < 0 || p->repeat_last_n < 0 || p->repeat_last_n > 1 << 20 ||
        !(p->top_p > 0.0f && p->top_p <= 1.0f) || !(p->min_p >= 0.0f && p->min_p <= 1.0f) ||
        !(p->repeat_penalty > 0.0f) || isnan(p->temperature) || isnan(p->presence_penalty) ||
        isnan(p->frequency_penalty)) {
        eng_fail(why, ENG_ERR_RANGE,
                 "sampler: invalid parameters (need top_k >= 0, 0 < top_p <= 1, "
                 "0 <= min_p <= 1, repeat_penalty > 0)");
        return NULL;
    }
    struct eng_sampler *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->adjusted = malloc((size_t)n_vocab * sizeof *s->adjusted);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->mark = calloc((size_t)n_vocab, 1);
    s->history = malloc(((size_t)p->repeat_last_n + 1) * sizeof *s->history);
    if (!s->cand || !s->adjusted || !s->counts || !s->mark || !s->history) goto nomem;
    eng_sampler_reset(s);
    return s;
nomem:
    eng_sampler_free(s);
    eng_fail(why, ENG_ERR_NOMEM, "sampler: out of memory");
    return NULL;
}

void eng_sampler_free(struct eng_sampler *s)
{
    if (!s) return;
    free(s->cand);
    free(s->adjusted);
    free(s->counts);
    free(s->mark);
    free(s->history);
    free(s);
}

void eng_sampler_reset(struct eng_sampler *s)
{
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++)
        s->s[i] = splitmix64(&x);
    memset(s->counts, 0, (size_t)s->n_vocab * sizeof *s->counts);
    s->n_history = 0;
    s->head = 0;
}

void eng_sampler_accept(struct eng_sampler *s, int32_t id)
{
    int32_t cap = s->p.repeat_last_n;
    if (cap == 0 || id < 0 || id >= s->n_vocab) return;
    if (s->n_history == cap) {
        int32_t old = s->history[s->head];
        s->counts[old]--;
    } else {
        s->n_history++;
    }
    s->history[s->head] = id;
    if (s->counts[id] < UINT16_MAX) s->counts[id]++;
    s->head = (s->head + 1) % cap;
}

/* Penalties as llama.cpp applies them: repetition divides positive logits and multiplies
 * negative ones; presence subtracts once, frequency once per occurrence. Each distinct id in
 * the window is penalised once (`mark` flags the ones done, then is cleared). */
static void apply_penalties(struct eng_sampler *s, const float *logits)
{
    memcpy(s->adjusted, logits, (size_t)s->n_vocab * sizeof *logits);
    bool rep = s->p.repeat_penalty != 1.0f;
    bool pres = s->p.presence_penalty != 0.0f || s->p.frequency_penalty != 0.0f;
    if (s->n_history == 0 || (!rep && !pres)) return;
    for (int32_t i = 0; i < s->n_history; i++) {
        int32_t id = s->history[i];
        if (s->mark[id]) continue;
        s->mark[id] = 1;
        float *l = &s->adjusted[id];
        if (rep) *l = *l > 0.0f ? *l / s->p.repeat_penalty : *l * s->p.repeat_penalty;
        if (pres) *l -= (float)s->counts[id] * s->p.frequency_penalty + s->p.presence_penalty;
    }
    for (int32_t i = 0; i < s->n_history; i++)
        s->mark[s->history[i]] = 0;
}

static int cmp_cand_desc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Min-heap on logit (ties: larger id is "smaller", so lower ids win). */
static inline bool heap_less(const struct cand *a, const struct cand *b)
{
    return a->logit < b->logit || (a->logit == b->logit && a->id > b->id);
}

static void sift_down(struct cand *h, int32_t n, int32_t i)
{
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &h[i])) return;
        struct cand t = h[c];
        h[c] = h[i];
        h[i] = t;
        i = c;
    }
}

int32_t eng_sampler_sample(struct eng_sampler *s, const float *logits)
{
    apply_penalties(s, logits);
    const float *l = s->adjusted;
    int32_t n = s->n_vocab;

    /* Greedy: the first id with the highest logit (NaN never wins). */
    if (s->p.temperature <= 0.0f) {
        int32_t best = 0;
        for (int32_t i = 1; i < n; i++)
            if (l[i] > l[best] || isnan(l[best])) best = i;
        return best;
    }

    int32_t m = 0;
    if (s->p.top_k > 0 && s->p.top_k < n) {
        int32_t k = s->p.top_k;
        for (int32_t i = 0; i < n; i++) {
            if (isnan(l[i])) continue;
            struct cand c = {i, l[i]};
            if (m < k) {
                s->cand[m++] = c;
                if (m == k)
                    for (int32_t j = k / 2 - 1; j >= 0; j--)
                        sift_down(s->cand, k, j);
            } else if (heap_less(&s->cand[0], &c)) {
                s->cand[0] = c;
                sift_down(s->cand, k, 0);
            }
        }
    } else {
        float best = -INFINITY;
        for (int32_t i = 0; i < n; i++)
            if (l[i] > best) best = l[i];
        float floor_logit = best - CUTOFF * fmaxf(s->p.temperature, 1.0f);
        for (int32_t i = 0; i < n; i++)
            if (l[i] >= floor_logit) s->cand[m++] = (struct cand){i, l[i]};
    }
    if (m == 0) return 0;
    qsort(s->cand, (size_t)m, sizeof *s->cand, cmp_cand_desc);

    /* Probabilities at temperature 1 for top-p and min-p (as llama.cpp: both act on the
     * distribution before temperature scaling). */
    double maxl = s->cand[0].logit, sum = 0.0;
    for (int32_t i = 0; i < m; i++)
        sum += exp((double)s->cand[i].logit - maxl);
    if (s->p.top_p < 1.0f) {
        double acc = 0.0;
        int32_t keep = m;
        for (int32_t i = 0; i < m; i++) {
            acc += exp((double)s->cand[i].logit - maxl) / sum;
            if (acc >= s->p.top_p) {
                keep = i + 1;
                break;
            }
        }
        m = keep;
    }
    if (s->p.min_p > 0.0f) {
        /* p_i >= min_p * p_max  <=>  logit_i >= max + ln(min_p) */
        double floor_l = maxl + log((double)s->p.min_p);
        int32_t keep = 1;
        while (keep < m && s->cand[keep].logit >= floor_l)
            keep++;
        m = keep;
    }
    /* Temperature, then draw. */
    double inv_t = 1.0 / (double)s->p.temperature, total = 0.0;
    for (int32_t i = 0; i < m; i++)
        total += exp(((double)s->cand[i].logit - maxl) * inv_t);
    double r = next_unit(s->s) * total, acc = 0.0;
    for (int32_t i = 0; i < m; i++) {
        acc += exp(((double)s->cand[i].logit - maxl) * inv_t);
        if (r < acc) return s->cand[i].id;
    }
    return s->cand[m - 1].id;
}
