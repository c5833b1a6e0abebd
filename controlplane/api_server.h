// The control API's transport (docs/control-api.md): a Unix stream socket,
// newline-delimited requests of at most 64 MiB, one answer line per request,
// several clients at once, in a single-threaded poll() loop.
//
// A connection's requests are handled in order: while one waits for its
// answer (a change waiting for the dataplane), the connection is not read
// further, which also bounds what a client can queue. Every line gets an
// answer: a blank one an error ("empty request"); a line that is too long an
// error, after which the connection is closed; a last line without '\n'
// before end-of-file is still handled.
//
// Staying reachable (so that idle or stuck clients never lock an operator
// out):
//   - An idle timeout: a connection with no answer outstanding that has
//     completed no request (and taken no answer bytes) for
//     `idle_timeout_ns` is closed.
//   - A cap of `max_clients` connections. A new connection at the cap makes
//     room by closing the connection idle the longest (any that is not
//     waiting for its answer: no request, a half-sent one, or an answer it
//     does not read); only when every connection waits for an answer (a
//     change waiting for the dataplane, bounded by the ack timeout) is the
//     new one refused.
// Whoever is closed that way first gets one error line (code
// "unavailable") saying why; then the daemon shuts its side, reads and
// discards what the client still sends for up to a second, so that a
// client that was writing its request reads the answer rather than a
// broken pipe, and closes. Such departing connections do not count against
// the cap, and at most `max_clients` of them linger at once.
//
// Not thread-safe; everything runs on the event loop's thread.
#pragma once

#include <signal.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "controlplane/api_error.h"

namespace sluice::cp {

// 64 MiB: a config.apply of 4,096 VIPs with 10 backends each is about 5 MiB.
inline constexpr size_t kMaxRequestBytes = 64u << 20;

using ConnId = uint64_t;

struct ApiServerLimits {
  size_t max_clients = 64;                    // lb-controlplane --max-clients
  uint64_t idle_timeout_ns = 10'000'000'000;  // --client-idle-timeout-ms
};

// What the server did with connections; only go up. Read on the loop's thread.
struct ApiServerCounters {
  uint64_t accepted = 0;       // connections taken
  uint64_t refused_busy = 0;   // refused at the cap: every connection was waiting for an answer
  uint64_t evicted_idle = 0;   // closed at the cap to make room: idle the longest
  uint64_t idle_timeouts = 0;  // closed after the idle timeout
  uint64_t too_long = 0;       // lines over kMaxRequestBytes (the connection closes)
  uint64_t empty_lines = 0;    // blank lines, answered with an error
};

class ApiServer {
 public:
  // The answer line (with '\n') now, or nullopt: it comes later via deliver().
  using Handler = std::function<std::optional<std::string>(ConnId, const std::string& line)>;
  // The answer line (with '\n') for an error the server itself reports: a
  // blank or too-long line, a connection closed at the cap or when idle.
  using ErrorLine = std::function<std::string(const ApiError&)>;

  ApiServer(Handler handler, ErrorLine error_line, ApiServerLimits limits = {});
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Creates the directory if needed and takes the socket's name: an
  // exclusive flock on PATH.lock (holding our pid), held while listening.
  // A name another daemon holds is refused (the message names its pid); a
  // socket file nobody holds is a dead daemon's and is replaced (unless
  // something answers on it). Listens with mode 0660. Empty on success.
  std::string listen(const std::string& path);

  // One poll() round of at most `timeout_ns` (less when a connection's idle
  // timeout or linger ends sooner), with `sigmask` in force while waiting
  // (ppoll), so a signal blocked elsewhere interrupts it.
  void poll_once(uint64_t timeout_ns, const sigset_t* sigmask);

  // Sends a deferred answer; ignored if the connection has gone.
  void deliver(ConnId conn, const std::string& answer_line);

  // Closes the listening socket and removes its file (if still ours) and
  // the lock file, releasing the name; connections stay.
  void shutdown_listener();
  // The listener and every connection.
  void shutdown();

  // Open connections, departing ones included.
  size_t connections() const { return conns_.size(); }
  // Connections that count against the cap.
  size_t active_connections() const;
  const ApiServerCounters& counters() const { return counters_; }
  const ApiServerLimits& limits() const { return limits_; }

  // Who is on the other end of a connection (SO_PEERCRED, taken when it was
  // accepted): the audit log's "who". nullopt for a connection that has
  // gone or whose credentials could not be read.
  struct Peer {
    uint32_t uid;
    uint32_t gid;
    int32_t pid;
  };
  std::optional<Peer> peer(ConnId conn) const;

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    std::string out;
    bool waiting = false;      // an answer is outstanding
    bool eof = false;          // the client sent everything it will send
    bool close_after = false;  // departing: no more answers; close once `out` is flushed
    // While departing with an answer to deliver, our side is shut after it
    // and what the client sends is read and thrown away (so it can finish
    // sending and read the answer) until EOF or this deadline.
    uint64_t discard_until_ns = 0;
    // The idle clock: accepted, last complete request, last answer
    // delivered or last answer bytes the client took.
    uint64_t last_active_ns = 0;
    std::optional<Peer> peer;
  };

  void accept_all(uint64_t now);
  // At the cap: the connection to close for newcomer `except` (the one
  // idle the longest), or 0 if every other one waits for an answer.
  ConnId idle_victim(ConnId except) const;
  // Answers `why` and makes `c` depart (see the top of this file).
  void depart(Conn& c, const ApiError& why, uint64_t linger_ns, uint64_t now);
  // Keeps at most max_clients departing connections: closes the oldest.
  void bound_departing();
  void expire_idle(uint64_t now);
  void read_from(ConnId id, Conn& c);
  void process(ConnId id, Conn& c);
  void flush(Conn& c);
  void close_conn(ConnId id);
  // The earliest idle timeout or linger deadline; UINT64_MAX if none.
  uint64_t next_deadline() const;

  Handler handler_;
  ErrorLine error_line_;
  ApiServerLimits limits_;
  ApiServerCounters counters_;
  int listen_fd_ = -1;
  int lock_fd_ = -1;  // flock on lock_path_, while listening
  std::string path_;
  std::string lock_path_;
  uint64_t inode_ = 0;
  ConnId next_id_ = 1;
  std::map<ConnId, Conn> conns_;
};

}  // namespace sluice::cp
