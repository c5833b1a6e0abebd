// The client side of docs/control-api.md: one Unix stream connection to
// lb-controlplane, one JSON request line out, one JSON answer line back.
// Every failure to get an answer is a CliError with Exit::kUnreachable and a
// hint naming the socket; an answer that is not the envelope of the contract
// is Exit::kInternal. Daemon errors ({"ok": false}) are returned, not thrown:
// what they mean depends on the command. Single-threaded.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::lbctl {

inline constexpr const char* kDefaultSocket = "/run/sluice/sluice.sock";
// Long enough for a change of thousands of VIPs to be built and
// acknowledged (lb-controlplane answers "pending" itself when a build stops
// making progress for its --ack-timeout-ms).
inline constexpr int kDefaultTimeoutMs = 60000;
// The longest request line the control API takes, newline excluded
// (docs/control-api.md: "at most 64 MiB"). lbctl refuses to send a longer
// one rather than have the daemon answer an error and close the connection.
inline constexpr size_t kMaxRequestBytes = 64u << 20;
// An answer longer than this is treated as garbage rather than buffered.
inline constexpr size_t kMaxAnswerBytes = 256u << 20;

class ApiClient {
 public:
  // `timeout` bounds the whole exchange: connect, send and the answer, which
  // for a mutation may take as long as the daemon's dataplane ack timeout.
  ApiClient(std::string socket_path, std::chrono::milliseconds timeout);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Sends `request` (an object with "op") and returns the answer object,
  // which has "ok" and either "result" (an object) or "error" (an object with
  // a string "code" and "message"). A request over kMaxRequestBytes is
  // Exit::kInvalid and is not sent.
  nlohmann::json call(const nlohmann::json& request);

  const std::string& socket_path() const { return path_; }

 private:
  void connect_socket(std::chrono::steady_clock::time_point deadline);
  [[noreturn]] void unreachable(const std::string& what) const;

  std::string path_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;  // bytes received after the last answer line
};

}  // namespace sluice::lbctl
