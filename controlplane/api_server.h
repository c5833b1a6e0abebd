// The control API's transport (docs/control-api.md): a Unix stream socket,
// newline-delimited requests of at most 64 MiB, one answer line per request,
// several clients at once, in a single-threaded poll() loop.
//
// A connection's requests are handled in order: while one waits for its
// answer (a change waiting for the dataplane), the connection is not read
// further, which also bounds what a client can queue. A line that is too
// long gets an error answer and the connection is closed; a last line
// without '\n' before end-of-file is still handled.
//
// Not thread-safe; everything runs on the event loop's thread.
#pragma once

#include <signal.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace sluice::cp {

// 64 MiB: a config.apply of 4,096 VIPs with 10 backends each is about 5 MiB.
inline constexpr size_t kMaxRequestBytes = 64u << 20;

using ConnId = uint64_t;

class ApiServer {
 public:
  // The answer line (with '\n') now, or nullopt: it comes later via deliver().
  using Handler = std::function<std::optional<std::string>(ConnId, const std::string& line)>;
  // The answer for a line that is too long (the connection closes after it).
  using TooLong = std::function<std::string()>;

  ApiServer(Handler handler, TooLong too_long);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Creates the directory if needed, refuses a socket a live daemon answers
  // on, replaces a stale one, listens with mode 0660. Empty on success.
  std::string listen(const std::string& path);

  // One poll() round of at most `timeout_ns`, with `sigmask` in force while
  // waiting (ppoll), so a signal blocked elsewhere interrupts it.
  void poll_once(uint64_t timeout_ns, const sigset_t* sigmask);

  // Sends a deferred answer; ignored if the connection has gone.
  void deliver(ConnId conn, const std::string& answer_line);

  // Closes the listening socket and removes its file (if still ours);
  // connections stay.
  void shutdown_listener();
  // The listener and every connection.
  void shutdown();

  size_t connections() const { return conns_.size(); }

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    std::string out;
    bool waiting = false;      // an answer is outstanding
    bool eof = false;          // the client sent everything it will send
    bool close_after = false;  // stop answering; close once `out` is flushed
    // After a too-long line: the answer went out and our side is shut; the
    // rest of what the client sends is read and thrown away (so it can
    // finish sending and read the answer) until EOF or this deadline.
    uint64_t discard_until_ns = 0;
  };

  void accept_all();
  void read_from(ConnId id, Conn& c);
  void process(ConnId id, Conn& c);
  void flush(Conn& c);
  void close_conn(ConnId id);

  Handler handler_;
  TooLong too_long_;
  int listen_fd_ = -1;
  std::string path_;
  uint64_t inode_ = 0;
  ConnId next_id_ = 1;
  std::map<ConnId, Conn> conns_;
};

}  // namespace sluice::cp
