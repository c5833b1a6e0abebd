#include "controlplane/bird_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace sluice::cp {

namespace {

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

bool is_digits(const std::string& s, size_t from, size_t count) {
  if (s.size() < from + count) return false;
  for (size_t i = from; i < from + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// A "since" column: "17:54:56.094" today, a date (and maybe a time) before.
bool looks_like_time(const std::string& token) {
  return token.find(':') != std::string::npos && !token.empty() && token[0] >= '0' &&
         token[0] <= '9';
}

}  // namespace

std::optional<BirdReply> parse_bird_reply(const std::string& bytes, std::string& error) {
  BirdReply reply;
  size_t pos = 0;
  int code = 0;
  while (pos < bytes.size()) {
    const size_t end = bytes.find('\n', pos);
    if (end == std::string::npos) return std::nullopt;  // a line still arriving
    const std::string line = bytes.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line[0] == ' ') {  // continues the previous code
      if (code == 0) {
        error = "continuation line before any code: '" + line + "'";
        return std::nullopt;
      }
      reply.lines.push_back(BirdLine{code, line.substr(1)});
      continue;
    }
    if (!is_digits(line, 0, 4) || line.size() < 5 || (line[4] != '-' && line[4] != ' ')) {
      error = "not a BIRD reply line: '" + line + "'";
      return std::nullopt;
    }
    code = std::stoi(line.substr(0, 4));
    reply.lines.push_back(BirdLine{code, line.substr(5)});
    if (line[4] == ' ') {
      reply.final_code = code;
      return reply;
    }
  }
  return std::nullopt;
}

std::vector<BirdProtocol> parse_show_protocols(const BirdReply& reply) {
  std::vector<BirdProtocol> out;
  for (const BirdLine& line : reply.lines) {
    if (line.code != 1002) continue;  // 2002 is the header, 0000 the end
    std::istringstream in(line.text);
    BirdProtocol p;
    if (!(in >> p.name >> p.proto >> p.table >> p.state)) continue;
    in >> p.since;
    // An older "since" is a date and a time: two tokens.
    std::streampos mark = in.tellg();
    std::string next;
    if (in >> next && looks_like_time(next) && p.since.find('-') != std::string::npos) {
      p.since += " " + next;
    } else {
      in.clear();
      in.seekg(mark);
    }
    std::getline(in, p.info);
    const size_t first = p.info.find_first_not_of(' ');
    p.info = first == std::string::npos ? std::string() : p.info.substr(first);
    while (!p.info.empty() && p.info.back() == ' ') p.info.pop_back();
    out.push_back(std::move(p));
  }
  return out;
}

std::string BirdClient::connect(const std::string& socket_path, int timeout_ms) {
  disconnect();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return "socket path too long: " + socket_path;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::string e = "cannot connect to BIRD at ";
    e += socket_path;
    e += ": ";
    e += std::strerror(errno);
    ::close(fd);
    return e;
  }
  fd_ = fd;
  std::string error;
  const auto greeting = read_reply(timeout_ms, error);
  if (!greeting) return "no greeting from BIRD: " + error;
  if (greeting->final_code != 1) {
    std::string e = "unexpected greeting from BIRD: ";
    e += greeting->final_text();
    disconnect();
    return e;
  }
  // "BIRD 2.0.12 ready."
  std::istringstream in(greeting->final_text());
  std::string name, version;
  in >> name >> version;
  version_ = version;
  return {};
}

void BirdClient::disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::optional<BirdReply> BirdClient::command(const std::string& command, int timeout_ms,
                                             std::string& error) {
  if (fd_ < 0) {
    error = "not connected";
    return std::nullopt;
  }
  std::string line = command;
  line += '\n';
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("cannot send to BIRD: ") + std::strerror(errno);
      disconnect();
      return std::nullopt;
    }
    done += static_cast<size_t>(n);
  }
  return read_reply(timeout_ms, error);
}

std::optional<BirdReply> BirdClient::read_reply(int timeout_ms, std::string& error) {
  std::string bytes;
  const uint64_t deadline = now_ms() + static_cast<uint64_t>(timeout_ms);
  for (;;) {
    std::string parse_error;
    if (auto reply = parse_bird_reply(bytes, parse_error)) return reply;
    if (!parse_error.empty()) {
      error = parse_error;
      disconnect();
      return std::nullopt;
    }
    const uint64_t now = now_ms();
    if (now >= deadline) {
      error = "BIRD did not answer within " + std::to_string(timeout_ms) + " ms";
      disconnect();
      return std::nullopt;
    }
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(deadline - now));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // the deadline check above ends it
    char buf[8192];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n == 0 ? "BIRD closed the connection" : std::string("recv: ") + std::strerror(errno);
      disconnect();
      return std::nullopt;
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace sluice::cp
