#include "flint_workers.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define CPU_RELAX() _mm_pause()
#define FLUSH_DENORMALS() _mm_setcsr(_mm_getcsr() | 0x8040u)
#else
#define CPU_RELAX() ((void)0)
#define FLUSH_DENORMALS() ((void)0)
#endif

enum {
    MAX_WORKERS = 255,
    // How long a worker waits for the next job before it sleeps: longer than the gaps between
    // a step's jobs, far shorter than a step. It pauses for the first PAUSES checks, then
    // yields the core, so a prefetching thread or another process still gets it.
    SPIN_NANOSECONDS = 50000,
    PAUSES = 64,
};

static long long now_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

// Waits until `ready()` or SPIN_NANOSECONDS pass; returns whether it became ready.
static int spin_until(int (*ready)(void)) {
    for (int check = 0; check < PAUSES; check++) {
        if (ready()) return 1;
        CPU_RELAX();
    }
    long long deadline = now_nanoseconds() + SPIN_NANOSECONDS;
    while (!ready()) {
        if (now_nanoseconds() > deadline) return 0;
        sched_yield();
    }
    return 1;
}

// The current job: tasks are claimed by compare-and-swap on one word holding the job's
// generation (high 32 bits), the next task (bits 16–31) and the task count (bits 0–15), so a
// worker can only ever claim a task of the job it read. The caller does not change body/context
// until `remaining` is 0, i.e. until every claimed task has finished.
static _Atomic uint64_t ticket;
static _Atomic long remaining;
static void (*job_body)(void *, long);
static void *job_context;

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;  // held by the caller of a job
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static _Atomic long sleepers;
static long started;  // workers started (under job_lock)
static _Thread_local int is_worker;
static _Thread_local long slot;  // 0 on threads that are not workers, k on the k-th worker

static int claimable(uint64_t word) {
    return ((word >> 16) & 0xFFFF) < (word & 0xFFFF);
}

static int job_waiting(void) { return claimable(atomic_load(&ticket)); }
static int job_finished(void) { return atomic_load(&remaining) == 0; }

// Claims and runs tasks of the job in `word` until none is left.
static void work(void) {
    uint64_t word = atomic_load(&ticket);
    while (claimable(word)) {
        if (!atomic_compare_exchange_weak(&ticket, &word, word + (1u << 16))) continue;
        job_body(job_context, (long)((word >> 16) & 0xFFFF));
        atomic_fetch_sub(&remaining, 1);
        word = atomic_load(&ticket);
    }
}

static void *worker_main(void *index) {
    is_worker = 1;
    slot = (long)(intptr_t)index;
    FLUSH_DENORMALS();
    for (;;) {
        if (!spin_until(job_waiting)) {
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleepers, 1);
            while (!claimable(atomic_load(&ticket))) pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&sleep_lock);
        }
        work();
    }
    return NULL;
}

static void run_inline(long tasks, void (*body)(void *, long), void *context) {
    for (long task = 0; task < tasks; task++) body(context, task);
}

void flint_workers_run(long threads, long tasks, void (*body)(void *context, long task), void *context) {
    if (tasks <= 0) return;
    if (threads <= 1 || tasks == 1 || tasks > 0xFFFF || is_worker || pthread_mutex_trylock(&job_lock) != 0) {
        run_inline(tasks, body, context);
        return;
    }
    long wanted = threads - 1 > MAX_WORKERS ? MAX_WORKERS : threads - 1;
    while (started < wanted) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, worker_main, (void *)(intptr_t)(started + 1));
        pthread_attr_destroy(&attributes);
        if (failed) break;  // fewer helpers; the caller still runs every task
        started++;
    }
    job_body = body;
    job_context = context;
    atomic_store(&remaining, tasks);
    uint64_t generation = (atomic_load(&ticket) >> 32) + 1;
    atomic_store(&ticket, (generation << 32) | (uint64_t)tasks);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    work();
    while (!spin_until(job_finished)) {}  // the last tasks are running on workers
    pthread_mutex_unlock(&job_lock);
}

long flint_workers_slot(void) { return slot; }
