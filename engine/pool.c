/* The compute pool: n_threads - 1 worker threads that, with the calling thread, run one
 * function over thread indices 0..n-1 (a "parallel region") and then wait for the next.
 *
 * Data model: one generation counter. eng_pool_run publishes fn/arg, sets `pending` to the
 * number of workers and bumps `gen`; each worker notices the new generation, runs fn with its
 * index, and decrements `pending`; the caller runs index 0 itself and waits until `pending` is
 * 0. Because run waits for every worker before it returns, a worker is never more than one
 * generation behind, so comparing against the last generation it saw is enough.
 *
 * Waiting is two-phase. A decode step runs ~10 regions per layer a few microseconds apart, so
 * a waiter first spins on the counter (SPIN_NS); only after that does it sleep on a futex,
 * announcing itself in a sleeper count so the other side makes the wake-up syscall only when
 * someone actually sleeps. The sleeper count and the counter it guards are both accessed with
 * sequentially consistent atomics (a Dekker pattern): either the sleeper sees the new value, or
 * the writer sees the sleeper. The futex itself rechecks the value in the kernel, so a wake
 * that lands between the check and the sleep is not lost.
 *
 * Linux only (futex, /sys topology), as the rest of the engine (/proc/meminfo).
 */
#include "engine/eng_int.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long a waiter spins before it sleeps. Consecutive regions of a decode step are a few
 * microseconds apart (rmsnorm, rope, the KV store run serially between them); between tokens
 * (sampling, the sink) the gap is 0.1-1 ms. 100 µs keeps the workers awake through a token
 * and lets them sleep between tokens and when idle (test_pool prints both latencies). */
#define SPIN_NS 100000

/* The words threads spin on sit on cache lines of their own (64 bytes on x86-64 and most
 * arm64), so the workers' reads of `gen` do not collide with their writes of `pending`. */
#define CACHE_LINE 64

struct eng_pool {
    int n_threads; /* workers + the caller */
    int n_workers; /* started (n_threads - 1 once construction succeeded) */
    pthread_t *workers;
    eng_pool_fn_cb fn; /* the current region; written before gen is bumped */
    void *arg;         /* its argument */
    bool quit;         /* written before the final bump of gen */
    _Alignas(CACHE_LINE) _Atomic uint32_t gen;     /* regions started; workers futex-wait on it */
    _Atomic int gen_sleepers;                      /* workers asleep (or about to be) on gen */
    _Alignas(CACHE_LINE) _Atomic uint32_t pending; /* workers still in the region */
    _Atomic int done_sleeper; /* 1 while the caller sleeps (or is about to) on pending */
};

struct worker_arg {
    struct eng_pool *p;
    int ith;
};

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
    /* Returns at once (EAGAIN) when *addr != val; spurious wake-ups are handled by callers. */
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until *addr != val or SPIN_NS pass; returns the last value read. */
static uint32_t spin_while_equal(_Atomic uint32_t *addr, uint32_t val)
{
    uint32_t v = atomic_load_explicit(addr, memory_order_acquire);
    if (v != val) return v;
    const int64_t t0 = now_ns();
    for (uint32_t i = 1;; i++) {
        cpu_relax();
        v = atomic_load_explicit(addr, memory_order_acquire);
        if (v != val) return v;
        /* Read the clock only now and then: it costs more than a pause. Yield then too, so
         * that on a machine with more runnable threads than CPUs (several sessions, other
         * programs) the thread being waited for gets a CPU at once rather than a time slice
         * later. */
        if ((i & 63) == 0) {
            if (now_ns() - t0 > SPIN_NS) return v;
            sched_yield();
        }
    }
}

static void *worker_main(void *varg)
{
    struct worker_arg *wa = varg;
    struct eng_pool *p = wa->p;
    const int ith = wa->ith;
    free(wa);
    uint32_t seen = 0; /* workers start before the first region: gen is 0 */
    for (;;) {
        uint32_t g = spin_while_equal(&p->gen, seen);
        if (g == seen) {
            atomic_fetch_add(&p->gen_sleepers, 1);
            while ((g = atomic_load(&p->gen)) == seen)
                futex_wait(&p->gen, seen);
            atomic_fetch_sub(&p->gen_sleepers, 1);
        }
        seen = g;
        if (p->quit) return NULL;
        p->fn(p->arg, ith, p->n_threads);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->done_sleeper))
            futex_wake_all(&p->pending);
    }
}

/* Starts the next generation: every worker wakes and reads fn/arg/quit. */
static void publish(struct eng_pool *p)
{
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->gen_sleepers) > 0) futex_wake_all(&p->gen);
}

struct eng_pool *eng_pool_new(int n_threads, char **why)
{
    if (why) *why = NULL;
    if (n_threads < 1 || n_threads > ENG_POOL_MAX_THREADS) {
        eng_fail(why, ENG_ERR_RANGE, "pool: %d threads is not in 1..%d", n_threads,
                 ENG_POOL_MAX_THREADS);
        return NULL;
    }
    struct eng_pool *p = aligned_alloc(CACHE_LINE, sizeof *p);
    if (!p) goto nomem;
    memset(p, 0, sizeof *p);
    p->n_threads = n_threads;
    if (n_threads == 1) return p;
    p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
    if (!p->workers) goto nomem;

    /* Workers take no signals: they stay with the threads that handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (int i = 1; i < n_threads && rc == 0; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (!wa) {
            rc = ENOMEM;
            break;
        }
        wa->p = p;
        wa->ith = i;
        rc = pthread_create(&p->workers[p->n_workers], NULL, worker_main, wa);
        if (rc != 0) {
            free(wa);
            break;
        }
        pthread_setname_np(p->workers[p->n_workers], "glm-pool");
        p->n_workers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        eng_fail(why, ENG_ERR_NOMEM, "pool: cannot start thread %d of %d: %s", p->n_workers + 2,
                 n_threads, strerror(rc));
        eng_pool_free(p);
        return NULL;
    }
    return p;
nomem:
    free(p);
    eng_fail(why, ENG_ERR_NOMEM, "pool: out of memory");
    return NULL;
}

void eng_pool_free(struct eng_pool *p)
{
    if (!p) return;
    if (p->n_workers > 0) {
        p->quit = true;
        publish(p);
        for (int i = 0; i < p->n_workers; i++)
            pthread_join(p->workers[i], NULL);
    }
    free(p->workers);
    free(p);
}

int eng_pool_n_threads(const struct eng_pool *p)
{
    return p->n_threads;
}

void eng_pool_run(struct eng_pool *p, eng_pool_fn_cb fn, void *arg)
{
    if (p->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, (uint32_t)p->n_workers);
    publish(p);
    fn(arg, 0, p->n_threads);

    /* Spin while the workers make progress; sleep once they stop for SPIN_NS. */
    for (uint32_t left = atomic_load(&p->pending); left != 0;) {
        const uint32_t now = spin_while_equal(&p->pending, left);
        if (now != left) {
            left = now;
            continue;
        }
        atomic_store(&p->done_sleeper, 1);
        while ((left = atomic_load(&p->pending)) != 0)
            futex_wait(&p->pending, left);
        atomic_store(&p->done_sleeper, 0);
    }
}

/* ---- CPU topology ------------------------------------------------------------------------ */

static bool read_long(const char *path, long *out)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fscanf(f, "%ld", out) == 1;
    fclose(f);
    return ok;
}

/* CPUs' worth of the cgroup CPU quota (containers started with --cpus), rounded up, or 0 when
 * there is none: v2 "QUOTA PERIOD" (or "max PERIOD") in cpu.max, v1 cpu.cfs_quota_us (-1: none)
 * over cpu.cfs_period_us. Read at the usual mount points, which inside a container are its
 * own cgroup. */
static int cgroup_cpu_limit(void)
{
    long quota = 0, period = 0;
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char q[32] = "";
        if (fscanf(f, "%31s %ld", q, &period) != 2 || strcmp(q, "max") == 0) period = 0;
        quota = strtol(q, NULL, 10);
        fclose(f);
    } else if (!read_long("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", &quota) ||
               !read_long("/sys/fs/cgroup/cpu/cpu.cfs_period_us", &period)) {
        return 0;
    }
    if (quota <= 0 || period <= 0) return 0;
    return (int)((quota + period - 1) / period);
}

int eng_cpu_physical_cores(void)
{
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (n_cpu < 1) n_cpu = 1;
    cpu_set_t set;
    bool have_set = sched_getaffinity(0, sizeof set, &set) == 0;

    /* Distinct (package, core) pairs among the CPUs this process may run on: SMT siblings
     * share a core and would only compete for its execution units. */
    int64_t *cores = malloc(CPU_SETSIZE * sizeof *cores);
    int n_cores = 0;
    bool topology = cores != NULL;
    for (int cpu = 0; cpu < CPU_SETSIZE && topology; cpu++) {
        if (have_set ? !CPU_ISSET(cpu, &set) : cpu >= n_cpu) continue;
        char path[96];
        long core = 0, pkg = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        if (!read_long(path, &core)) topology = false;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id",
                 cpu);
        if (!read_long(path, &pkg)) topology = false;
        if (!topology) break;
        const int64_t key = (int64_t)pkg << 32 | (uint32_t)core;
        int i = 0;
        while (i < n_cores && cores[i] != key)
            i++;
        if (i == n_cores) cores[n_cores++] = key;
    }
    free(cores);

    int n = topology && n_cores > 0 ? n_cores : (have_set ? CPU_COUNT(&set) : (int)n_cpu);
    const int quota = cgroup_cpu_limit();
    if (quota > 0 && n > quota) n = quota;
    if (n > ENG_POOL_MAX_THREADS) n = ENG_POOL_MAX_THREADS;
    return n < 1 ? 1 : n;
}
