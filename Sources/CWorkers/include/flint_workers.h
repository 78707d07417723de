#ifndef FLINT_WORKERS_H
#define FLINT_WORKERS_H

// The CPU backend's worker threads. A training step runs hundreds of short parallel loops and
// products back to back (an LSTM step: two products and a cell per timestep, ~100 µs each);
// waking a sleeping thread for each (libdispatch's concurrentPerform) cost tens of
// microseconds a time. These workers spin briefly after each job, so the next one finds them
// awake, then sleep on a condition variable. Workers run with denormals flushed to zero.

// Runs body(context, task) for every task in 0..<tasks (tasks ≤ 65535), on the calling thread
// and up to threads - 1 workers (started on first use, kept for the process). Returns when all
// have finished. One job at a time: a call made while another runs (from a second thread, or
// from inside a task) runs its tasks on its own thread, in order.
void flint_workers_run(long threads, long tasks, void (*body)(void *context, long task), void *context);

// The calling thread's slot: k on the k-th worker (k < the `threads` of the run that started it),
// 0 on any other thread. A job's tasks run on its caller and the workers, so per-thread scratch
// indexed by slot is never shared by two of its tasks at once, however they are handed out.
long flint_workers_slot(void);

#endif
