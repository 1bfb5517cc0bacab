/* tok_bench — encoding throughput of glmterm's GLM-4 tokenizer, the C side of bench/tokenizer.
 *
 * Protocol (shared with bench/tiktoken_bench.mjs, which runs npm tiktoken on the same corpus):
 * load the vocabulary, read the corpus, one warm-up encode, then REPS timed encodes of the
 * whole corpus as ordinary text (tok_encode: special-token text is plain text), each into a
 * fresh id array as tiktoken's encode_ordinary returns a fresh one. Reports MB/s (10^6 bytes of
 * UTF-8 input per second, CLOCK_MONOTONIC) of the median rep, the number of ids and FNV-1a 64
 * over the ids as little-endian u32, so the two implementations can be shown to do the same
 * work. Single-threaded.
 *
 * Usage: tok_bench TOKENIZER CORPUS [REPS]   (REPS default 5)
 * Output: "key value" lines (impl, load_s, bytes, reps, mbps_median, mbps_min, mbps_max, ids,
 * checksum); errors go to stderr with exit status 1 (2 for bad usage).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer/tokenizer.h"

enum {
    BENCH_MAX_REPS = 1000,
};
/* The corpus is read whole; bench/make_corpus writes ~13 MB. */
#define BENCH_MAX_CORPUS ((size_t)1 << 30)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* FNV-1a 64 over the ids as little-endian u32 (the same sum tiktoken_bench.mjs computes). */
static uint64_t ids_checksum(const int32_t *ids, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = (uint32_t)ids[i];
        for (int s = 0; s < 32; s += 8) {
            h ^= (id >> s) & 0xffu;
            h *= 0x100000001b3u;
        }
    }
    return h;
}

/* Reads a whole file of at most BENCH_MAX_CORPUS bytes. Returns NULL with a message printed. */
static char *read_corpus(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tok_bench: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= BENCH_MAX_CORPUS) {
                fprintf(stderr, "tok_bench: %s: larger than %zu bytes\n", path, BENCH_MAX_CORPUS);
                goto fail;
            }
            size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                fprintf(stderr, "tok_bench: out of memory reading %s\n", path);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                fprintf(stderr, "tok_bench: %s: read error\n", path);
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One encode of the whole corpus into a fresh `out`. Returns 0 or prints and returns -1. */
static int encode_once(const struct tok_vocab *v, const char *text, size_t len, struct tok_ids *out)
{
    char *why = NULL;
    *out = (struct tok_ids){0};
    int rc = tok_encode(v, text, len, out, &why);
    if (rc != TOK_OK) {
        fprintf(stderr, "tok_bench: encode failed (%d): %s\n", rc, why ? why : "?");
        free(why);
        tok_ids_done(out);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: tok_bench TOKENIZER CORPUS [REPS]\n");
        return 2;
    }
    long reps = 5;
    if (argc == 4) {
        char *end;
        errno = 0;
        reps = strtol(argv[3], &end, 10);
        if (errno || *end || end == argv[3] || reps < 1 || reps > BENCH_MAX_REPS) {
            fprintf(stderr, "tok_bench: bad REPS '%s' (1..%d)\n", argv[3], BENCH_MAX_REPS);
            return 2;
        }
    }

    int status = 1;
    struct tok_vocab *v = NULL;
    char *text = NULL;
    double *mbps = NULL;
    struct tok_ids ids = {0};

    char *why = NULL;
    double t0 = now_s();
    v = tok_vocab_load(argv[1], &why);
    double load_s = now_s() - t0;
    if (!v) {
        fprintf(stderr, "tok_bench: %s\n", why ? why : "cannot load the vocabulary");
        free(why);
        goto out;
    }

    size_t len = 0;
    text = read_corpus(argv[2], &len);
    if (!text) goto out;
    if (len == 0) {
        fprintf(stderr, "tok_bench: %s is empty\n", argv[2]);
        goto out;
    }

    mbps = calloc((size_t)reps, sizeof *mbps);
    if (!mbps) {
        fprintf(stderr, "tok_bench: out of memory\n");
        goto out;
    }

    if (encode_once(v, text, len, &ids) != 0) /* warm-up: page in the tables, JIT the regex */
        goto out;
    for (long r = 0; r < reps; r++) {
        tok_ids_done(&ids);
        double a = now_s();
        if (encode_once(v, text, len, &ids) != 0) goto out;
        double s = now_s() - a;
        mbps[r] = (double)len / 1e6 / s;
    }
    qsort(mbps, (size_t)reps, sizeof *mbps, cmp_double);
    size_t mid = (size_t)reps / 2;
    double median = reps % 2 ? mbps[mid] : (mbps[mid - 1] + mbps[mid]) / 2;

    printf("impl glmterm\n");
    printf("load_s %.3f\n", load_s);
    printf("bytes %zu\n", len);
    printf("reps %ld\n", reps);
    printf("mbps_median %.2f\n", median);
    printf("mbps_min %.2f\n", mbps[0]);
    printf("mbps_max %.2f\n", mbps[reps - 1]);
    printf("ids %zu\n", ids.n);
    printf("checksum %016llx\n", (unsigned long long)ids_checksum(ids.v, ids.n));
    status = 0;
out:
    tok_ids_done(&ids);
    free(mbps);
    free(text);
    tok_vocab_free(v);
    return status;
}
