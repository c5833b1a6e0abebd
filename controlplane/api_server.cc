#include "controlplane/api_server.h"
#include "common/errno_text.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/control_segment.h"

namespace sluice::cp {

namespace {

constexpr size_t kMaxPendingOutput = 4u << 20;  // stop reading a client that does not read
// How long a departing connection is read and discarded: after a too-long
// line, long enough for the client to finish sending up to 64 MiB; after
// a refusal, an eviction or an idle timeout, enough for a request in flight.
constexpr uint64_t kDiscardNs = 10'000'000'000;
constexpr uint64_t kLingerNs = 1'000'000'000;

ApiError unavailable(const std::string& what) {
  return ApiError{ErrorCode::kUnavailable, what, ""};
}


std::string mkdirs(const std::string& dir) {
  if (dir.empty()) return {};
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      return "cannot create directory " + partial + ": " + errno_text();
    }
  }
  return {};
}

bool fill_address(const std::string& path, sockaddr_un& addr) {
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

ApiServer::ApiServer(Handler handler, ErrorLine error_line, ApiServerLimits limits)
    : handler_(std::move(handler)), error_line_(std::move(error_line)), limits_(limits) {
  if (limits_.max_clients == 0) limits_.max_clients = 1;
}

ApiServer::~ApiServer() { shutdown(); }

namespace {

// Takes `lock_path` (created if needed) with an exclusive flock and writes
// our pid into it. Each round checks, after locking, that the name still
// leads to the file it locked: a predecessor removes its lock file on the
// way out, and a lock on a removed file guards nothing. Returns the
// descriptor, or -1 with `error` set (naming the holder's pid when it is
// another daemon's).
int take_lock_file(const std::string& lock_path, const std::string& what, std::string& error) {
  for (int round = 0; round < 8; ++round) {
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      error = "cannot open " + lock_path + ": " + errno_text();
      return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int lock_errno = errno;
      char pid[32] = {};
      const ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
      close(fd);
      if (lock_errno != EWOULDBLOCK) {
        error = "cannot lock " + lock_path + ": " + std::strerror(lock_errno);
        return -1;
      }
      // A whole line is the holder's pid; anything else (being written) is left out.
      std::string holder(pid, n > 0 ? static_cast<size_t>(n) : 0);
      const bool whole = !holder.empty() && holder.back() == '\n';
      holder = whole ? " (pid " + holder.substr(0, holder.size() - 1) + ")" : "";
      error = "another lb-controlplane" + holder + " serves " + what + " (it holds " + lock_path +
              "); stop it first, or give this one another --socket";
      return -1;
    }
    struct stat locked {}, named{};
    if (fstat(fd, &locked) != 0 || stat(lock_path.c_str(), &named) != 0 ||
        locked.st_ino != named.st_ino || locked.st_dev != named.st_dev) {
      close(fd);
      continue;
    }
    // Our pid, for the message a refused successor prints.
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      std::fprintf(stderr, "lb-controlplane: cannot write our pid into %s: %s\n",
                   lock_path.c_str(), errno_text().c_str());
    }
    return fd;
  }
  error = "cannot lock " + lock_path + ": other processes keep replacing it";
  return -1;
}

}  // namespace

std::string ApiServer::listen(const std::string& path) {
  sockaddr_un addr;
  if (!fill_address(path, addr)) {
    return "--socket " + path + " is longer than " + std::to_string(sizeof addr.sun_path - 1) +
           " bytes";
  }
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (std::string e = mkdirs(path.substr(0, slash)); !e.empty()) return e;
  }
  // Who owns the socket's name is decided by a lock, not by whether the
  // file answers: a daemon whose backlog is full, or that is stopped, does
  // not answer either, and two daemons starting at once would both find
  // the name free. The lock is held while we listen.
  std::string error;
  const std::string lock_path = path + ".lock";
  const int lock_fd = take_lock_file(lock_path, path, error);
  if (lock_fd < 0) return error;
  auto give_up = [&](std::string e) {
    unlink(lock_path.c_str());  // ours: we hold it
    close(lock_fd);
    return e;
  };
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return give_up(path + " exists and is not a socket; not replacing it");
    // Nobody holds the lock, so the socket is a dead daemon's, unless a
    // daemon that does not take the lock (an older one) answers on it.
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live =
        probe >= 0 && connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) close(probe);
    if (live) return give_up("another lb-controlplane is listening on " + path);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return give_up("cannot remove the stale socket " + path + ": " + errno_text());
    }
    std::fprintf(stderr, "lb-controlplane: removed the stale socket %s (its daemon is gone)\n",
                 path.c_str());
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return give_up("cannot create a Unix socket: " + errno_text());
  // Mode 0660 from the start: no window in which others could connect.
  const mode_t old_umask = umask(0117);
  const int rc = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  umask(old_umask);
  if (rc != 0) {
    close(fd);
    return give_up("cannot bind " + path + ": " + std::strerror(bind_errno));
  }
  if (chmod(path.c_str(), 0660) != 0 || ::listen(fd, 64) != 0 || stat(path.c_str(), &st) != 0) {
    const std::string e = "cannot listen on " + path + ": " + errno_text();
    close(fd);
    unlink(path.c_str());
    return give_up(e);
  }
  listen_fd_ = fd;
  lock_fd_ = lock_fd;
  path_ = path;
  lock_path_ = lock_path;
  inode_ = st.st_ino;
  return {};
}

void ApiServer::shutdown() {
  for (auto& [id, c] : conns_) close(c.fd);
  conns_.clear();
  shutdown_listener();
}

void ApiServer::shutdown_listener() {
  if (listen_fd_ < 0) return;
  close(listen_fd_);
  listen_fd_ = -1;
  // Remove the file only if it is still ours (not a successor's).
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && st.st_ino == inode_) unlink(path_.c_str());
  // The lock file last, while still holding it: a successor that opened it
  // meanwhile finds it removed and opens the name afresh.
  unlink(lock_path_.c_str());
  close(lock_fd_);
  lock_fd_ = -1;
}

size_t ApiServer::active_connections() const {
  size_t n = 0;
  for (const auto& [id, c] : conns_) n += c.close_after ? 0 : 1;
  return n;
}

ConnId ApiServer::idle_victim(ConnId except) const {
  ConnId victim = 0;
  uint64_t since = UINT64_MAX;
  for (const auto& [id, c] : conns_) {
    if (id == except || c.close_after || c.waiting) continue;
    // Ties (accepted in one round) go to the older connection: map order.
    if (c.last_active_ns < since) {
      since = c.last_active_ns;
      victim = id;
    }
  }
  return victim;
}

void ApiServer::depart(Conn& c, const ApiError& why, uint64_t linger_ns, uint64_t now) {
  c.in.clear();
  c.out += error_line_(why);
  c.close_after = true;
  c.discard_until_ns = now + linger_ns;
  flush(c);
}

void ApiServer::bound_departing() {
  size_t departing = conns_.size() - active_connections();
  // Oldest first (map order): they have had the longest to read their answer.
  for (auto it = conns_.begin(); it != conns_.end() && departing > limits_.max_clients;) {
    if (it->second.close_after) {
      close(it->second.fd);
      it = conns_.erase(it);
      --departing;
    } else {
      ++it;
    }
  }
}

std::optional<ApiServer::Peer> ApiServer::peer(ConnId conn) const {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return std::nullopt;
  return it->second.peer;
}

void ApiServer::accept_all(uint64_t now) {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error: the next round retries
    ++counters_.accepted;
    // The clock now, not at the start of the round: a connection accepted
    // and answered earlier in this loop must count as more idle than this one.
    now = monotonic_ns();
    const ConnId id = next_id_++;
    Conn& fresh = conns_[id];
    fresh.fd = fd;
    ucred cred{};
    socklen_t cred_len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) {
      fresh.peer = Peer{cred.uid, cred.gid, cred.pid};
    }
    fresh.last_active_ns = now;
    const std::string cap = std::to_string(limits_.max_clients);
    if (active_connections() > limits_.max_clients) {
      // Room for the newcomer, the one most likely to be an operator, at
      // the expense of whoever has been idle the longest.
      const ConnId victim = idle_victim(id);
      if (victim != 0) {
        ++counters_.evicted_idle;
        depart(conns_.at(victim),
               unavailable("closed to make room for a new client: lb-controlplane serves at most " +
                           cap + " clients at once (--max-clients) and this connection was the "
                           "one idle the longest"),
               kLingerNs, now);
      } else {
        ++counters_.refused_busy;
        depart(fresh,
               unavailable("too many clients: all " + cap +
                           " connections lb-controlplane serves at once (--max-clients) are "
                           "waiting for answers; retry in a moment"),
               kLingerNs, now);
      }
      bound_departing();
    }
    // Serve what the newcomer has sent already, without waiting a round.
    const auto it = conns_.find(id);
    if (it != conns_.end() && !it->second.close_after) {
      read_from(id, it->second);
      process(id, it->second);
    }
  }
}

void ApiServer::expire_idle(uint64_t now) {
  const std::string ms = std::to_string(limits_.idle_timeout_ns / 1'000'000);
  for (auto& [id, c] : conns_) {
    // (last_active_ns may be a little later than `now`: set while this round ran.)
    if (c.close_after || c.waiting || c.last_active_ns + limits_.idle_timeout_ns > now) continue;
    ++counters_.idle_timeouts;
    depart(c,
           unavailable("closed after " + ms +
                       " ms without a request (--client-idle-timeout-ms); reconnect to send more"),
           kLingerNs, now);
  }
  bound_departing();
}

uint64_t ApiServer::next_deadline() const {
  uint64_t next = UINT64_MAX;
  for (const auto& [id, c] : conns_) {
    uint64_t at = UINT64_MAX;
    if (c.close_after) {
      if (c.discard_until_ns != 0) at = c.discard_until_ns + 1;
    } else if (!c.waiting) {
      at = c.last_active_ns + limits_.idle_timeout_ns;
    }
    if (at < next) next = at;
  }
  return next;
}

void ApiServer::read_from(ConnId, Conn& c) {
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      // Enough to tell a too-long line; the rest stays in the socket.
      if (c.in.size() > kMaxRequestBytes) return;
      continue;
    }
    if (n == 0) {
      c.eof = true;
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) c.eof = true;
    return;
  }
}

void ApiServer::process(ConnId id, Conn& c) {
  while (!c.waiting && !c.close_after) {
    const auto nl = c.in.find('\n');
    if (nl == std::string::npos && c.in.size() <= kMaxRequestBytes && !(c.eof && !c.in.empty())) {
      break;
    }
    const uint64_t now = monotonic_ns();
    if ((nl == std::string::npos && c.in.size() > kMaxRequestBytes) ||
        (nl != std::string::npos && nl > kMaxRequestBytes)) {
      ++counters_.too_long;
      depart(c,
             usage_error("", "the request exceeds " + std::to_string(kMaxRequestBytes) +
                                 " bytes (64 MiB); closing the connection"),
             kDiscardNs, now);
      return;
    }
    std::string line;
    if (nl == std::string::npos) {  // the last line, cut by end-of-file
      line = std::move(c.in);
      c.in.clear();
    } else {
      line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
    }
    c.last_active_ns = now;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      // Every line gets an answer, so a client never waits for one that
      // will not come.
      ++counters_.empty_lines;
      c.out += error_line_(usage_error(
          "", "empty request: send one JSON object per line, like {\"op\": \"status\"}"));
      continue;
    }
    std::optional<std::string> answer = handler_(id, line);
    if (answer) {
      c.out += *answer;
    } else {
      c.waiting = true;
    }
  }
  flush(c);
}

void ApiServer::flush(Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      c.last_active_ns = monotonic_ns();  // a client taking its answer is not idle
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // The client is gone: nothing more can reach it.
    c.out.clear();
    c.eof = true;
    c.close_after = true;
    c.discard_until_ns = 0;
    return;
  }
  if (c.close_after && c.discard_until_ns != 0) {
    ::shutdown(c.fd, SHUT_WR);  // the answer, then EOF
  }
}

void ApiServer::deliver(ConnId id, const std::string& answer_line) {
  const auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  c.waiting = false;
  c.last_active_ns = monotonic_ns();
  c.out += answer_line;
  process(id, c);
}

void ApiServer::close_conn(ConnId id) {
  const auto it = conns_.find(id);
  if (it == conns_.end()) return;
  close(it->second.fd);
  conns_.erase(it);
}

void ApiServer::poll_once(uint64_t timeout_ns, const sigset_t* sigmask) {
  std::vector<pollfd> fds;
  std::vector<ConnId> ids;
  fds.reserve(conns_.size() + 1);
  if (listen_fd_ >= 0) fds.push_back(pollfd{listen_fd_, POLLIN, 0});
  uint64_t now = monotonic_ns();
  for (auto& [id, c] : conns_) {
    const bool discarding = c.close_after && c.discard_until_ns != 0;
    short events = 0;
    if ((discarding && !c.eof) ||
        (!c.close_after && !c.waiting && !c.eof && c.out.size() < kMaxPendingOutput)) {
      events |= POLLIN;
    }
    if (!c.out.empty()) events |= POLLOUT;
    // A client that hung up while its answer is outstanding would report
    // POLLHUP on every round: leave it out until there is something to do.
    const bool idle_hangup = c.eof && c.out.empty();
    fds.push_back(pollfd{idle_hangup ? -1 : c.fd, events, 0});
    ids.push_back(id);
  }
  // Wake for the next idle timeout or end of a linger.
  const uint64_t deadline = next_deadline();
  if (deadline != UINT64_MAX) {
    const uint64_t until = deadline > now ? deadline - now : 0;
    if (until < timeout_ns) timeout_ns = until;
  }
  timespec ts{static_cast<time_t>(timeout_ns / 1000000000),
              static_cast<long>(timeout_ns % 1000000000)};
  const int n = ppoll(fds.data(), fds.size(), &ts, sigmask);
  if (n < 0) return;  // EINTR: a signal; the caller looks at its flags
  now = monotonic_ns();
  const bool can_accept = listen_fd_ >= 0 && (fds[0].revents & POLLIN) != 0;
  size_t i = listen_fd_ >= 0 ? 1 : 0;
  // Connections first, then newcomers: what the clients already connected
  // sent this round counts for their idle clocks before anyone is evicted.
  for (size_t k = 0; k < ids.size(); ++k, ++i) {
    const auto it = conns_.find(ids[k]);
    if (it == conns_.end()) continue;
    Conn& c = it->second;
    const short rev = fds[i].revents;
    if (rev & (POLLIN | POLLHUP | POLLERR)) {
      if (c.close_after) {
        char buf[65536];
        ssize_t r;
        while ((r = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          c.eof = true;
        }
      } else if (!c.waiting) {
        read_from(ids[k], c);
        process(ids[k], c);
      } else if (rev & (POLLHUP | POLLERR)) {
        c.eof = true;
      }
    }
    if (rev & POLLOUT) flush(c);
    const bool drained = c.out.empty();
    // Departing: once the answer is out and the client has finished, or the
    // linger is over whatever the client does.
    const bool departed =
        c.close_after && ((drained && (c.eof || c.discard_until_ns == 0)) ||
                          (c.discard_until_ns != 0 && now > c.discard_until_ns));
    if (departed || (!c.close_after && c.eof && !c.waiting && drained && c.in.empty())) {
      close_conn(ids[k]);
    }
  }
  if (can_accept) accept_all(now);
  expire_idle(now);
}

}  // namespace sluice::cp
