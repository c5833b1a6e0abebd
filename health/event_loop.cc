#include "health/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace sluice::health {

namespace {

// Markers for the loop's own fds in epoll_event.data.ptr.
char g_timer_tag, g_wake_tag;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

EventLoop::EventLoop() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || timer_fd_ < 0 || wake_fd_ < 0) {
    const std::string e = errno_text("health event loop");
    this->~EventLoop();
    throw std::runtime_error(e);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &g_timer_tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &ev);
  ev.data.ptr = &g_wake_tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EventLoop::~EventLoop() {
  for (int* fd : {&epoll_fd_, &timer_fd_, &wake_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

std::string EventLoop::watch(int fd, uint32_t events, FdHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return errno_text("epoll_ctl add");
  return {};
}

std::string EventLoop::modify(int fd, uint32_t events, FdHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) return errno_text("epoll_ctl mod");
  return {};
}

void EventLoop::forget(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::wake() {
  const uint64_t one = 1;
  // A full counter already means "wake up": nothing to do on EAGAIN.
  [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::run_once(uint64_t deadline_ns) {
  int timeout_ms = 0;
  if (deadline_ns != 0 && deadline_ns > monotonic_ns()) {
    timeout_ms = -1;  // the timerfd ends the wait
    if (deadline_ns != armed_ns_) {
      itimerspec its{};
      its.it_value.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000ull);
      its.it_value.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000ull);
      timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
      armed_ns_ = deadline_ns;
    }
  }
  epoll_event events[256];
  const int n = epoll_wait(epoll_fd_, events, 256, timeout_ms);
  for (int i = 0; i < n; ++i) {
    void* tag = events[i].data.ptr;
    uint64_t drained = 0;
    if (tag == &g_timer_tag) {
      [[maybe_unused]] const ssize_t r = read(timer_fd_, &drained, sizeof drained);
      armed_ns_ = 0;
    } else if (tag == &g_wake_tag) {
      [[maybe_unused]] const ssize_t r = read(wake_fd_, &drained, sizeof drained);
    } else {
      static_cast<FdHandler*>(tag)->on_event(events[i].events);
    }
  }
}

}  // namespace sluice::health
