#include "tools/lbctl/api_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "tools/lbctl/exit_codes.h"

namespace sluice::lbctl {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Milliseconds left until `deadline` for poll(); 0 once it has passed.
int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, INT32_MAX));
}

// Waits for `events` on `fd`; false when the deadline passes first.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

ApiClient::ApiClient(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

ApiClient::~ApiClient() {
  if (fd_ >= 0) close(fd_);
}

void ApiClient::unreachable(const std::string& what) const {
  throw CliError(Exit::kUnreachable, what,
                 "is lb-controlplane running? it listens on " + path_ +
                     " (choose another socket with --socket or SLUICE_SOCKET)");
}

void ApiClient::connect_socket(Clock::time_point deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path) {
    throw CliError(Exit::kUsage,
                   "socket path '" + path_ + "' is empty or longer than " +
                       std::to_string(sizeof addr.sun_path - 1) + " bytes",
                   "give a shorter path with --socket or SLUICE_SOCKET");
  }
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    throw CliError(Exit::kInternal, std::string("socket: ") + std::strerror(errno));
  }
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return;
  const int err = errno;
  // A Unix socket whose listen backlog is full answers EAGAIN; wait for room.
  if (err == EAGAIN || err == EINPROGRESS) {
    if (!wait_for(fd_, POLLOUT, deadline)) {
      unreachable("cannot connect to lb-controlplane at " + path_ + ": no answer within " +
                  std::to_string(timeout_.count()) + " ms");
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error == 0) return;
    unreachable("cannot connect to lb-controlplane at " + path_ + ": " + std::strerror(so_error));
  }
  if (err == EACCES || err == EPERM) {
    throw CliError(Exit::kUnreachable,
                   "cannot connect to lb-controlplane at " + path_ + ": " + std::strerror(err),
                   "the socket is mode 0660: run lbctl as root or as a member of its group");
  }
  unreachable("cannot connect to lb-controlplane at " + path_ + ": " + std::strerror(err));
}

json ApiClient::call(const json& request) {
  const auto deadline = Clock::now() + timeout_;
  std::string line = request.dump();
  if (line.size() > kMaxRequestBytes) {
    throw CliError(Exit::kInvalid,
                   "the request is " + std::to_string(line.size()) +
                       " bytes; the control API takes at most " + std::to_string(kMaxRequestBytes) +
                       " (64 MiB)",
                   "make the configuration smaller (fewer VIPs or backends per apply)");
  }
  line += '\n';
  if (fd_ < 0) connect_socket(deadline);

  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (!wait_for(fd_, POLLOUT, deadline)) {
        unreachable("lb-controlplane did not take the request within " +
                    std::to_string(timeout_.count()) + " ms");
      }
    } else {
      unreachable("sending to lb-controlplane at " + path_ + " failed: " + std::strerror(errno));
    }
  }

  size_t newline;
  while ((newline = buffer_.find('\n')) == std::string::npos) {
    if (!wait_for(fd_, POLLIN, deadline)) {
      throw CliError(
          Exit::kUnreachable,
          "lb-controlplane did not answer within " + std::to_string(timeout_.count()) + " ms",
          "a change sent may still be applied: run 'lbctl status' (in sync, config digest) "
          "before retrying, and raise --timeout-ms for very large changes");
    }
    char chunk[65536];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      if (buffer_.size() > kMaxAnswerBytes) {
        throw CliError(Exit::kInternal, "the answer from lb-controlplane is longer than " +
                                            std::to_string(kMaxAnswerBytes) + " bytes");
      }
    } else if (n == 0) {
      unreachable("lb-controlplane closed the connection without an answer");
    } else if (errno != EINTR && errno != EAGAIN) {
      unreachable("reading from lb-controlplane failed: " + std::string(std::strerror(errno)));
    }
  }
  const std::string answer_text = buffer_.substr(0, newline);
  buffer_.erase(0, newline + 1);

  const json answer = json::parse(answer_text, nullptr, /*allow_exceptions=*/false);
  const char* problem = nullptr;
  if (answer.is_discarded() || !answer.is_object()) {
    problem = "is not a JSON object";
  } else if (!answer.contains("ok") || !answer["ok"].is_boolean()) {
    problem = "has no boolean \"ok\"";
  } else if (answer["ok"].get<bool>()) {
    if (!answer.contains("result") || !answer["result"].is_object()) {
      problem = "has \"ok\": true but no \"result\" object";
    }
  } else {
    const auto it = answer.find("error");
    if (it == answer.end() || !it->is_object() || !it->contains("code") ||
        !(*it)["code"].is_string() || !it->contains("message") || !(*it)["message"].is_string()) {
      problem = "has \"ok\": false but no \"error\" with a string code and message";
    }
  }
  if (problem != nullptr) {
    const std::string shown =
        answer_text.size() > 200 ? answer_text.substr(0, 200) + "..." : answer_text;
    throw CliError(Exit::kInternal,
                   std::string("the answer from lb-controlplane ") + problem + ": " + shown,
                   "lbctl and lb-controlplane may be from different versions");
  }
  return answer;
}

}  // namespace sluice::lbctl
