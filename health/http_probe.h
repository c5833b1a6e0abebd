// HTTP and HTTPS probes with libcurl's multi interface, driven by the
// checker's own event loop (curl tells us which sockets to watch and when
// its next timeout is; we tell it what became ready): no thread per probe,
// no hand-written HTTP or TLS client. A probe passes when the status is one
// of the expected codes and, if asked, the body holds the expected
// substring. HTTPS probes do not verify the backend's certificate (the
// backend is addressed by IP, and health is about serving, not identity).
// One thread: the event loop's.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "health/probe.h"

namespace sluice::health {

class CurlDriver {
 public:
  explicit CurlDriver(EventLoop& loop);  // throws std::runtime_error
  ~CurlDriver();
  CurlDriver(const CurlDriver&) = delete;
  CurlDriver& operator=(const CurlDriver&) = delete;

  std::unique_ptr<Probe> start(ProbeSink& sink, uint64_t key, uint64_t token,
                               const ProbeTarget& target, uint64_t now_ns);

  // When curl wants to be called for its timeouts (0: no timer).
  uint64_t deadline_ns() const { return deadline_ns_; }
  // Call once the deadline passed.
  void on_timeout();
  size_t running() const { return transfers_.size(); }
  // Frees the socket handlers curl gave up during the last dispatch pass
  // (the pass may still hold events for them). After each pass.
  void collect();

  // Internals for the C callbacks.
  struct Socket;
  struct Transfer;
  void socket_event(int fd, int curl_events);
  void set_timer(long ms);
  void watch_socket(int fd, int what, Socket* s);
  void forget_transfer(Transfer* t) { transfers_.erase(t); }

 private:
  void finish_done();

  EventLoop& loop_;
  void* multi_ = nullptr;  // CURLM*
  uint64_t deadline_ns_ = 0;
  std::unordered_map<Transfer*, bool> transfers_;
  std::vector<std::unique_ptr<Socket>> dead_sockets_;
};

}  // namespace sluice::health
