// brine's parallel-for for Halide kernels, installed in place of Halide's
// thread pool (by the JIT on every pipeline, by generated libraries through
// halide_set_custom_do_par_for).
//
// Why: a recurrent layer's step is one kernel call with one or two parallel
// loops, 50–100 calls per sequence, each loop a few dozen microseconds of
// work. Halide's pool puts its workers to sleep on a condition variable
// within microseconds of a loop's end, so every loop paid a futex wake and
// the sleeper's wake-up latency (about 6–8 µs per step on lstm256). Here,
// while a model runs, workers spin for a while (kSpinTime) after a loop
// before they sleep, so back-to-back loops start at once; between runs they
// sleep. And each thread owns the indices i ≡ its number (mod threads) and
// runs those first (then takes what the others left unclaimed): a step's
// block of units, and its slice of the recurrent kernel, stays on one core
// from step to step. Halide's pool hands indices to whichever thread asks
// first.
//
// Semantics are halide_do_par_for's: f(user_context, i, closure) for every i
// in [min, min + size), the first nonzero status returned. A loop started
// while another runs (a nested loop inside a task, or a second thread's
// kernel) runs serially on its caller, which Halide permits: brine's
// schedules never make tasks wait on one another.
#pragma once

#include <cstdint>

namespace brine::rt {

using ParallelTask = int (*)(void* user_context, int index, uint8_t* closure);

int parallel_for(void* user_context, ParallelTask f, int min, int size, uint8_t* closure);

// Held while a model runs (Executor::run): between its loops workers spin
// rather than sleep. Without one they sleep after every loop, as Halide's do.
class ParallelRun {
 public:
  ParallelRun();
  ~ParallelRun();
  ParallelRun(const ParallelRun&) = delete;
  ParallelRun& operator=(const ParallelRun&) = delete;
};

// The threads the pool runs loops on (the caller included): HL_NUM_THREADS
// when set, else the machine's hardware threads.
int parallel_threads();

}  // namespace brine::rt
