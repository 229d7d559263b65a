#include "runtime/thread_pool.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BRINE_CPU_RELAX() _mm_pause()
#else
#define BRINE_CPU_RELAX() std::this_thread::yield()
#endif

namespace brine::rt {

namespace {

// How long an idle worker keeps polling for the next loop before it sleeps,
// while a model runs (ParallelRun): longer than the gap between two steps of
// a scan or two kernels (the executor's bookkeeping and the kernel's entry,
// a few µs). Outside a run, workers sleep at once: other threads of the
// process (another library's pool) get the cores back.
constexpr auto kSpinTime = std::chrono::microseconds(200);

thread_local bool in_loop = false;  // this thread runs a task: nested loops run serially

// Each thread of the pool owns the indices i with i % threads == its
// number (the caller is 0) and runs those first, so that a loop whose
// index is a block of data (a scan step's block of units and its slice of
// the recurrent kernel) meets the same block on the same core at every
// step, its data still in that core's L2. A thread with nothing of its own
// left takes the others' unclaimed indices: a sleeping or descheduled
// worker delays nothing.
//
// Every owner's share is one word holding its next index and its end, so a
// thread can only claim an index of a loop that is still running; the
// caller waits for every index to finish before it returns or publishes the
// next loop, so whoever holds a claimed index reads that loop's fields while
// they are stable.
//
// The word also carries the loop's generation (its low 16 bits), and a
// thread claims only in the loop whose generation it saw: the caller opens
// the shares one by one and then bumps the generation, so a worker that
// claimed as soon as a share was open, or that was still finishing the
// previous loop, could find its own share still closed and take the
// caller's index of the next loop (a scan step's block on the wrong core: 2
// loops in 200 on a loaded machine, tests/thread_pool_test.cpp).
constexpr int kIndexBits = 24;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
constexpr uint64_t kTagMask = 0xffff;
constexpr uint64_t work_word(uint64_t next, uint64_t end, uint64_t generation) {
  return (generation & kTagMask) << (2 * kIndexBits) | next << kIndexBits | end;
}

class Pool {
 public:
  explicit Pool(int threads) : threads_(threads), shares_(new std::atomic<uint64_t>[threads]) {
    for (int t = 0; t < threads; ++t) shares_[t].store(0, std::memory_order_relaxed);
    for (int t = 1; t < threads; ++t) std::thread([this, t] { work(t); }).detach();
  }

  int threads() const { return threads_; }
  void begin_run() { busy_runs_.fetch_add(1, std::memory_order_relaxed); }
  void end_run() { busy_runs_.fetch_sub(1, std::memory_order_relaxed); }

  int run(void* uc, ParallelTask f, int min, int size, uint8_t* closure) {
    if (threads_ == 1 || size <= 1 || in_loop || uint64_t(size) > kIndexMask) return serial(uc, f, min, size, closure);
    std::unique_lock lock(busy_, std::try_to_lock);
    if (!lock.owns_lock()) return serial(uc, f, min, size, closure);
    f_ = f;
    user_context_ = uc;
    closure_ = closure;
    min_ = min;
    finished_.store(0, std::memory_order_relaxed);
    status_.store(0, std::memory_order_relaxed);
    // Owner t's share: t, t + threads, ... below size (the k-th is t + k·threads).
    const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;  // only the caller writes it
    for (int t = 0; t < threads_; ++t)
      shares_[t].store(work_word(0, t < size ? (size - 1 - t) / threads_ + 1 : 0, generation),
                       std::memory_order_release);
    generation_.store(generation, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
    claim(0, generation);
    while (finished_.load(std::memory_order_acquire) < size) BRINE_CPU_RELAX();
    return status_.load(std::memory_order_relaxed);
  }

 private:
  static int serial(void* uc, ParallelTask f, int min, int size, uint8_t* closure) {
    const bool outer = !in_loop;
    in_loop = true;
    int status = 0;
    for (int i = min; i < min + size && status == 0; ++i) status = f(uc, i, closure);
    if (outer) in_loop = false;
    return status;
  }

  static bool open(uint64_t w) { return (w >> kIndexBits & kIndexMask) < (w & kIndexMask); }
  static bool of(uint64_t w, uint64_t generation) { return (w >> (2 * kIndexBits)) == (generation & kTagMask); }

  // Thread `self` claims its own indices of loop `generation`, then the
  // others', until none is left.
  void claim(int self, uint64_t generation) {
    in_loop = true;
    for (int k = 0; k < threads_; ++k) {
      const int owner = (self + k) % threads_;
      std::atomic<uint64_t>& share = shares_[owner];
      uint64_t w = share.load(std::memory_order_acquire);
      while (open(w) && of(w, generation)) {
        if (!share.compare_exchange_weak(w, w + (uint64_t{1} << kIndexBits), std::memory_order_acq_rel,
                                         std::memory_order_acquire))
          continue;
        const int i = min_ + owner + static_cast<int>(w >> kIndexBits & kIndexMask) * threads_;
        if (const int s = f_(user_context_, i, closure_); s != 0) {
          int zero = 0;
          status_.compare_exchange_strong(zero, s, std::memory_order_relaxed);
        }
        finished_.fetch_add(1, std::memory_order_release);
        w = share.load(std::memory_order_acquire);
      }
    }
    in_loop = false;
  }

  void work(int self) {
    // A loop is out when its generation is: every share of it is open then
    // (see work_word). `seen` is the generation this thread last claimed
    // in; it starts at the pool's first, 0 (read later, a loop published
    // before this thread ran would look old). A loop the others finished
    // without it is claimed in vain, harmlessly.
    uint64_t seen = 0;
    for (;;) {
      const auto until = std::chrono::steady_clock::now() + kSpinTime;
      uint64_t g;
      for (int spins = 0; (g = generation_.load(std::memory_order_acquire)) == seen; ++spins) {
        BRINE_CPU_RELAX();
        if ((spins & 63) != 63 ||
            (busy_runs_.load(std::memory_order_relaxed) > 0 && std::chrono::steady_clock::now() < until))
          continue;
        // Sleep until the next loop: announce it, then wait unless the
        // generation moved meanwhile (a loop published in between either
        // sees the sleeper and wakes it or is seen by the wait).
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        generation_.wait(seen, std::memory_order_seq_cst);
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        spins = 0;
      }
      seen = g;
      claim(self, g);
    }
  }

  const int threads_;
  std::unique_ptr<std::atomic<uint64_t>[]> shares_;  // per owning thread
  std::atomic<int> busy_runs_{0};  // ParallelRun scopes open
  std::mutex busy_;  // held by the thread running a loop
  ParallelTask f_ = nullptr;
  void* user_context_ = nullptr;
  uint8_t* closure_ = nullptr;
  int min_ = 0;
  std::atomic<int> finished_{0};
  std::atomic<int> status_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> sleepers_{0};
};

int threads_from_environment() {
  if (const char* s = std::getenv("HL_NUM_THREADS"); s && std::atoi(s) > 0) return std::atoi(s);
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

// Never destroyed: its workers outlive static destruction, asleep.
Pool& pool() {
  static Pool* p = new Pool(threads_from_environment());
  return *p;
}

}  // namespace

int parallel_for(void* user_context, ParallelTask f, int min, int size, uint8_t* closure) {
  return pool().run(user_context, f, min, size, closure);
}

int parallel_threads() { return pool().threads(); }

ParallelRun::ParallelRun() { pool().begin_run(); }
ParallelRun::~ParallelRun() { pool().end_run(); }

}  // namespace brine::rt
