#include "controlplane/api_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/control_segment.h"

namespace sluice::cp {

namespace {

constexpr size_t kMaxConnections = 256;
constexpr size_t kMaxPendingOutput = 4u << 20;  // stop reading a client that does not read
constexpr uint64_t kDiscardNs = 10'000'000'000;

std::string errno_text() { return std::strerror(errno); }

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

ApiServer::ApiServer(Handler handler, TooLong too_long)
    : handler_(std::move(handler)), too_long_(std::move(too_long)) {}

ApiServer::~ApiServer() { shutdown(); }

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
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return path + " exists and is not a socket; not replacing it";
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live =
        probe >= 0 && connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) close(probe);
    if (live) return "another lb-controlplane is listening on " + path;
    unlink(path.c_str());  // left by a daemon that died
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return "cannot create a Unix socket: " + errno_text();
  // Mode 0660 from the start: no window in which others could connect.
  const mode_t old_umask = umask(0117);
  const int rc = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  umask(old_umask);
  if (rc != 0) {
    close(fd);
    return "cannot bind " + path + ": " + std::strerror(bind_errno);
  }
  if (chmod(path.c_str(), 0660) != 0 || ::listen(fd, 64) != 0 || stat(path.c_str(), &st) != 0) {
    const std::string e = "cannot listen on " + path + ": " + errno_text();
    close(fd);
    unlink(path.c_str());
    return e;
  }
  listen_fd_ = fd;
  path_ = path;
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
}

void ApiServer::accept_all() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error: the next round retries
    if (conns_.size() >= kMaxConnections) {
      close(fd);
      continue;
    }
    Conn c;
    c.fd = fd;
    conns_.emplace(next_id_++, std::move(c));
  }
}

void ApiServer::read_from(ConnId, Conn& c) {
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      if (c.discard_until_ns == 0) c.in.append(buf, static_cast<size_t>(n));
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
    if ((nl == std::string::npos && c.in.size() > kMaxRequestBytes) ||
        (nl != std::string::npos && nl > kMaxRequestBytes)) {
      c.out += too_long_();
      c.in.clear();
      c.close_after = true;
      c.discard_until_ns = monotonic_ns() + kDiscardNs;
      break;
    }
    std::string line;
    if (nl == std::string::npos) {  // the last line, cut by end-of-file
      line = std::move(c.in);
      c.in.clear();
    } else {
      line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
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
  const uint64_t now = monotonic_ns();
  for (auto& [id, c] : conns_) {
    const bool discarding = c.discard_until_ns != 0;
    short events = 0;
    if (discarding ||
        (!c.waiting && !c.eof && !c.close_after && c.out.size() < kMaxPendingOutput)) {
      events |= POLLIN;
    }
    if (!c.out.empty()) events |= POLLOUT;
    if (discarding && now > c.discard_until_ns) events = 0;
    // A client that hung up while its answer is outstanding would report
    // POLLHUP on every round: leave it out until there is something to do.
    const bool idle_hangup = c.eof && !discarding && c.out.empty();
    fds.push_back(pollfd{idle_hangup ? -1 : c.fd, events, 0});
    ids.push_back(id);
  }
  timespec ts{static_cast<time_t>(timeout_ns / 1000000000),
              static_cast<long>(timeout_ns % 1000000000)};
  const int n = ppoll(fds.data(), fds.size(), &ts, sigmask);
  if (n < 0) return;  // EINTR: a signal; the caller looks at its flags
  size_t i = 0;
  if (listen_fd_ >= 0) {
    if (fds[0].revents & POLLIN) accept_all();
    i = 1;
  }
  for (size_t k = 0; k < ids.size(); ++k, ++i) {
    const auto it = conns_.find(ids[k]);
    if (it == conns_.end()) continue;
    Conn& c = it->second;
    const short rev = fds[i].revents;
    if (rev & (POLLIN | POLLHUP | POLLERR)) {
      if (c.discard_until_ns != 0) {
        char buf[65536];
        ssize_t r;
        while ((r = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          c.eof = true;
          c.discard_until_ns = 0;
        }
      } else if (!c.waiting && !c.close_after) {
        read_from(ids[k], c);
        process(ids[k], c);
      } else if (rev & (POLLHUP | POLLERR)) {
        c.eof = true;
      }
    }
    if (rev & POLLOUT) flush(c);
    const bool drained = c.out.empty();
    const bool discard_over = c.discard_until_ns == 0 || monotonic_ns() > c.discard_until_ns;
    if ((c.close_after && drained && discard_over) ||
        (c.eof && !c.waiting && drained && c.in.empty())) {
      close_conn(ids[k]);
    }
  }
}

}  // namespace sluice::cp
