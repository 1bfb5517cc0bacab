/* Compute pool tests (engine/pool.c): every run calls fn once on each thread index with the
 * right thread count and its writes are visible when run returns, over 10k runs for many thread
 * counts; the sleeping paths (workers idle past the spin, a caller waiting on a slow thread)
 * lose no wake-up; a pool frees cleanly right after creation and while idle; bad counts are
 * refused; the physical core count is sane. Wake-up latencies are printed for the record. */
#include "test_util.h"
#include "engine/eng_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_RUNS  10000
#define MAX_NTH 32

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct count_job {
    int nth;                   /* expected thread count */
    _Atomic int hits[MAX_NTH]; /* calls per index, cumulative */
    int seen[MAX_NTH];         /* plain writes: the run number each index last saw */
    int run;
    _Atomic int bad; /* a call with a wrong ith / nth */
    int slow_ith;    /* this index sleeps slow_us per call (-1: none) */
    int slow_us;
};

static void count_fn(void *arg, int ith, int nth)
{
    struct count_job *j = arg;
    if (nth != j->nth || ith < 0 || ith >= nth) {
        atomic_fetch_add(&j->bad, 1);
        return;
    }
    if (ith == j->slow_ith) usleep((useconds_t)j->slow_us);
    atomic_fetch_add(&j->hits[ith], 1);
    j->seen[ith] = j->run;
}

/* Runs `n_runs` regions on a pool of `nth`, checking every index ran once per run; sleeps
 * `gap_us` between runs (0: back to back). */
static void check_runs(int nth, int n_runs, int gap_us, int slow_ith, int slow_us)
{
    char *why = NULL;
    struct eng_pool *p = eng_pool_new(nth, &why);
    assert_non_null(p);
    assert_null(why);
    assert_int_equal(eng_pool_n_threads(p), nth);
    struct count_job *j = calloc(1, sizeof *j);
    assert_non_null(j);
    j->nth = nth;
    j->slow_ith = slow_ith;
    j->slow_us = slow_us;
    for (int r = 1; r <= n_runs; r++) {
        j->run = r;
        eng_pool_run(p, count_fn, j);
        assert_int_equal(atomic_load(&j->bad), 0);
        for (int i = 0; i < nth; i++) {
            assert_int_equal(atomic_load(&j->hits[i]), r);
            assert_int_equal(j->seen[i], r);
        }
        if (gap_us) usleep((useconds_t)gap_us);
    }
    eng_pool_free(p);
    free(j);
}

static void test_every_index_once(void **state)
{
    (void)state;
    static const int counts[] = {1, 2, 3, 4, 5, 8, 13, 16, MAX_NTH};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        /* Beyond the CPUs the host has, the threads time-share: fewer runs keep it quick. */
        int n_runs = counts[i] <= sysconf(_SC_NPROCESSORS_ONLN) ? N_RUNS : N_RUNS / 10;
        double t0 = now_us();
        check_runs(counts[i], n_runs, 0, -1, 0);
        printf("pool of %2d: %d runs checked in %.0f ms\n", counts[i], n_runs,
               (now_us() - t0) / 1e3);
    }
}

/* Gaps longer than the spin put the workers to sleep before each run; a slow index keeps the
 * caller (slow worker) or the workers (slow caller) waiting past the spin. */
static void test_sleeping_paths(void **state)
{
    (void)state;
    check_runs(4, 200, 1000, -1, 0);
    check_runs(4, 100, 0, 3, 1000);
    check_runs(4, 100, 0, 0, 1000);
    check_runs(3, 200, 300, 1, 300);
}

static void noop_fn(void *arg, int ith, int nth)
{
    (void)arg, (void)ith, (void)nth;
}

static void test_free_idle(void **state)
{
    (void)state;
    eng_pool_free(NULL);
    for (int n = 1; n <= 8; n++) {
        struct eng_pool *p = eng_pool_new(n, NULL); /* freed before the workers ever ran */
        assert_non_null(p);
        eng_pool_free(p);
    }
    struct eng_pool *p = eng_pool_new(4, NULL);
    assert_non_null(p);
    eng_pool_run(p, noop_fn, NULL);
    eng_pool_free(p); /* workers still spinning */
    p = eng_pool_new(4, NULL);
    assert_non_null(p);
    eng_pool_run(p, noop_fn, NULL);
    usleep(20000); /* workers asleep on the futex */
    eng_pool_free(p);
}

static void test_bad_counts(void **state)
{
    (void)state;
    char *why = NULL;
    assert_null(eng_pool_new(0, &why));
    assert_non_null(why);
    assert_non_null(strstr(why, "threads"));
    free(why);
    why = NULL;
    assert_null(eng_pool_new(ENG_POOL_MAX_THREADS + 1, &why));
    assert_non_null(why);
    free(why);
}

static void test_physical_cores(void **state)
{
    (void)state;
    int n = eng_cpu_physical_cores();
    long logical = sysconf(_SC_NPROCESSORS_ONLN);
    printf("physical cores: %d (logical CPUs online: %ld)\n", n, logical);
    assert_true(n >= 1);
    assert_true(logical < 1 || n <= logical);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* For the record: the cost of an empty region with the workers spinning (back to back, as the
 * regions of one decode step) and asleep (after an idle gap, as the first region of a token).
 * Medians of N_SAMPLES, as other processes on the host add outliers. */
#define N_SAMPLES 200
static void test_latency(void **state)
{
    (void)state;
    int counts[] = {2, 4, eng_cpu_physical_cores()};
    double hot[N_SAMPLES], cold[N_SAMPLES];
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        const int nth = counts[i];
        struct eng_pool *p = eng_pool_new(nth, NULL);
        assert_non_null(p);
        for (int k = 0; k < N_SAMPLES; k++) {
            eng_pool_run(p, noop_fn, NULL); /* wakes the workers */
            double t0 = now_us();
            for (int r = 0; r < 100; r++)
                eng_pool_run(p, noop_fn, NULL);
            hot[k] = (now_us() - t0) / 100;
        }
        for (int k = 0; k < N_SAMPLES; k++) {
            usleep(1000); /* past the spin: every worker sleeps */
            double t0 = now_us();
            eng_pool_run(p, noop_fn, NULL);
            cold[k] = now_us() - t0;
        }
        eng_pool_free(p);
        qsort(hot, N_SAMPLES, sizeof *hot, cmp_double);
        qsort(cold, N_SAMPLES, sizeof *cold, cmp_double);
        printf("pool of %2d: empty region %.2f us (p90 %.2f) with the workers spinning, "
               "%.1f us (p90 %.1f) waking them\n",
               nth, hot[N_SAMPLES / 2], hot[N_SAMPLES * 9 / 10], cold[N_SAMPLES / 2],
               cold[N_SAMPLES * 9 / 10]);
        assert_true(hot[0] > 0 && cold[0] > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once), cmocka_unit_test(test_sleeping_paths),
        cmocka_unit_test(test_free_idle),        cmocka_unit_test(test_bad_counts),
        cmocka_unit_test(test_physical_cores),   cmocka_unit_test(test_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
