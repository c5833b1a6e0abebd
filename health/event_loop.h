// The health checker's one event loop (DESIGN.md section 5: thousands of
// backends on one thread, no thread per backend): epoll for the probes'
// sockets, a timerfd armed to the earliest deadline the caller names (with
// nanosecond precision, unlike epoll_wait's milliseconds), and an eventfd
// so another thread can wake it. Owned and run by one thread; wake() may be
// called from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::health {

uint64_t monotonic_ns();

class FdHandler {
 public:
  virtual void on_event(uint32_t epoll_events) = 0;

 protected:
  ~FdHandler() = default;
};

class EventLoop {
 public:
  EventLoop();  // throws std::runtime_error when the kernel refuses an fd
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Empty on success, else why.
  std::string watch(int fd, uint32_t events, FdHandler* handler);
  std::string modify(int fd, uint32_t events, FdHandler* handler);
  void forget(int fd);

  // Waits until an fd is ready, wake() is called or the monotonic clock
  // reaches `deadline_ns` (0: do not wait), and dispatches what is ready.
  void run_once(uint64_t deadline_ns);
  void wake();

 private:
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  int wake_fd_ = -1;
  uint64_t armed_ns_ = 0;
};

}  // namespace sluice::health
