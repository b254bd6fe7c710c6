// A persistent worker pool with threads pinned to CPUs.
//
// A forward pass issues a few hundred short parallel regions per token, so waking workers must
// cost well under a microsecond: workers spin on a generation counter for a while before they
// fall back to sleeping on a condition variable, and the caller works on tasks too.
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define SWELL_PAUSE() _mm_pause()
#else
#define SWELL_PAUSE() ((void)0)
#endif

/// Spin iterations (each a pause, ~10-40 ns) before a worker sleeps: roughly a millisecond, long
/// enough to bridge the single-threaded gaps between the kernels of one forward pass.
#define SWELL_SPIN_LIMIT 50000
/// Pauses the caller spends waiting for the last worker before it starts yielding its CPU.
#define SWELL_YIELD_AFTER 20000

struct swell_pool {
    int threads;
    int pin;
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t wake;

    // The current parallel region. The counters live on separate cache lines: workers poll
    // `generation` while tasks are being claimed from `next_task`.
    swell_task_fn fn;
    void *context;
    int tasks;
    int simd;
    _Alignas(64) _Atomic int next_task;
    _Alignas(64) _Atomic int finished_workers;
    _Alignas(64) _Atomic unsigned generation;
    _Alignas(64) _Atomic int stopping;
    _Atomic int sleepers;
    void *scratch;
    size_t scratch_bytes;
};

typedef struct {
    swell_pool *pool;
    int index;
} worker_start;

static void pin_current_thread(int cpu) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus <= 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)cpus, &set);
    sched_setaffinity(0, sizeof set, &set); // best effort: a restricted cpuset may refuse
}

static void run_tasks(swell_pool *pool, int thread) {
    for (;;) {
        int task = atomic_fetch_add_explicit(&pool->next_task, 1, memory_order_relaxed);
        if (task >= pool->tasks) return;
        pool->fn(pool->context, task, thread);
    }
}

static void *worker_main(void *argument) {
    worker_start start = *(worker_start *)argument;
    free(argument);
    swell_pool *pool = start.pool;
    if (pool->pin) pin_current_thread(start.index);
    unsigned seen = 0;
    for (;;) {
        unsigned generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int spins = 0; generation == seen && spins < SWELL_SPIN_LIMIT; spins++) {
            SWELL_PAUSE();
            generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (generation == seen) {
            // Announce the sleep before re-checking, so a caller that bumps the generation
            // afterwards sees the sleeper and signals (both sides use sequentially consistent atomics).
            pthread_mutex_lock(&pool->mutex);
            atomic_fetch_add(&pool->sleepers, 1);
            while ((generation = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stopping)) {
                pthread_cond_wait(&pool->wake, &pool->mutex);
            }
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->mutex);
        }
        if (atomic_load(&pool->stopping)) {
            swell_release_thread_scratch();
            return NULL;
        }
        seen = generation;
        swell_simd_override = pool->simd;
        run_tasks(pool, start.index);
        atomic_fetch_add_explicit(&pool->finished_workers, 1, memory_order_acq_rel);
    }
}

swell_pool *swell_pool_create(int threads, int pin) {
    if (threads < 1) threads = 1;
    size_t size = (sizeof(swell_pool) + 63) / 64 * 64;
    swell_pool *pool = aligned_alloc(64, size);
    if (!pool) return NULL;
    memset(pool, 0, size);
    pool->threads = threads;
    pool->pin = pin;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->workers = calloc((size_t)threads, sizeof(pthread_t));
    if (!pool->workers) threads = pool->threads = 1;
    for (int i = 1; i < threads; i++) {
        worker_start *start = malloc(sizeof *start);
        if (start) {
            start->pool = pool;
            start->index = i;
        }
        if (!start || pthread_create(&pool->workers[i], NULL, worker_main, start) != 0) {
            // Run with the workers that did start rather than wait for one that never will.
            free(start);
            pool->threads = i;
            break;
        }
    }
    return pool;
}

void swell_pool_destroy(swell_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store(&pool->stopping, 1);
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 1; i < pool->threads; i++) pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool->scratch);
    free(pool);
}

static _Thread_local void *thread_scratch = NULL;
static _Thread_local size_t thread_scratch_bytes = 0;

static void *grow(void **buffer, size_t *capacity, size_t bytes) {
    if (*capacity >= bytes && *buffer) return *buffer;
    size_t wanted = bytes < 4096 ? 4096 : bytes + bytes / 2;
    void *grown = realloc(*buffer, wanted);
    if (!grown) return NULL;
    *buffer = grown;
    *capacity = wanted;
    return grown;
}

void *swell_pool_scratch(swell_pool *pool, size_t bytes) {
    return pool ? grow(&pool->scratch, &pool->scratch_bytes, bytes) : grow(&thread_scratch, &thread_scratch_bytes, bytes);
}

int swell_pool_threads(const swell_pool *pool) { return pool ? pool->threads : 1; }

void swell_pool_run(swell_pool *pool, swell_task_fn fn, void *context, int tasks) {
    if (pool->threads == 1 || tasks <= 1) {
        for (int i = 0; i < tasks; i++) fn(context, i, 0);
        return;
    }
    pool->fn = fn;
    pool->context = context;
    pool->tasks = tasks;
    pool->simd = swell_use_simd;
    atomic_store_explicit(&pool->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->finished_workers, 0, memory_order_relaxed);
    // Publishes the region's fields to workers that observe the new generation.
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }

    run_tasks(pool, 0);
    // Workers finish their last task within microseconds unless the machine is oversubscribed and
    // one was preempted; then give the CPU away instead of burning the rest of the time slice.
    for (int spins = 0; atomic_load_explicit(&pool->finished_workers, memory_order_acquire) < pool->threads - 1; spins++) {
        if (spins < SWELL_YIELD_AFTER) {
            SWELL_PAUSE();
        } else {
            sched_yield();
        }
    }
}
