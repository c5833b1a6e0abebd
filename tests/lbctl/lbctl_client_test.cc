// lbctl's API client against a scripted in-process server: the request line
// it sends, answers that arrive in pieces, several requests on one
// connection, and every way of not getting an answer (exit 5) or getting a
// garbled one (exit 1).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "tools/lbctl/api_client.h"
#include "tools/lbctl/exit_codes.h"

namespace sluice::lbctl {
namespace {

using namespace std::chrono_literals;

// Listens on a fresh socket path; serve(fd) runs on a thread for the first
// connection and the connection is closed when it returns.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int)> serve) {
    char dir[] = "/tmp/lbctl-client-test-XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/s.sock";
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, path_.size());
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    thread_ = std::thread([this, serve] {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      serve(fd);
      close(fd);
    });
  }
  ~ScriptedServer() {
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept() if nobody connected
    thread_.join();
    close(listen_fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
  int listen_fd_ = -1;
  std::thread thread_;
};

// One request line (the client sends nothing after it before an answer).
std::string read_line(int fd) {
  std::string line;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    line.append(buf, static_cast<size_t>(n));
    if (line.back() == '\n') break;
  }
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

void write_all(int fd, const std::string& s) {
  ASSERT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

// Runs one call and returns the exit code and message of its failure.
std::pair<Exit, std::string> call_failure(const std::string& path,
                                          std::chrono::milliseconds timeout = 2000ms) {
  ApiClient client(path, timeout);
  try {
    client.call({{"op", "status"}});
  } catch (const CliError& e) {
    return {e.exit, e.what()};
  }
  return {Exit::kOk, ""};
}

TEST(ApiClient, OneLinePerRequestAnswersInPieces) {
  std::string first, second;
  {
    ScriptedServer server([&](int fd) {
      first = read_line(fd);
      write_all(fd, R"({"ok": true, "res)");
      std::this_thread::sleep_for(20ms);
      write_all(fd, "ult\": {\"vips\": []}}\n");
      second = read_line(fd);
      write_all(fd, R"({"ok": false, "error": {"code": "not_found", "message": "m"}})"
                    "\n");
    });
    ApiClient client(server.path(), 2000ms);
    const auto a = client.call({{"op", "vip.list"}});
    EXPECT_EQ(a["result"], nlohmann::json({{"vips", nlohmann::json::array()}}));
    const auto b = client.call({{"op", "vip.show"}, {"vip", "192.0.2.10:80/tcp"}});
    EXPECT_EQ(b["error"]["code"], "not_found");  // returned, not thrown
  }  // the server's thread is joined: what it read is safe to look at
  EXPECT_EQ(first, R"({"op":"vip.list"})");
  EXPECT_EQ(second, R"({"op":"vip.show","vip":"192.0.2.10:80/tcp"})");
}

TEST(ApiClient, NobodyListening) {
  const auto [exit, message] = call_failure("/tmp/lbctl-client-test-nobody.sock");
  EXPECT_EQ(exit, Exit::kUnreachable);
  EXPECT_EQ(message,
            "cannot connect to lb-controlplane at /tmp/lbctl-client-test-nobody.sock: No such "
            "file or directory");
  ApiClient client("/tmp/lbctl-client-test-nobody.sock", 100ms);
  try {
    client.call({{"op", "status"}});
    ADD_FAILURE();
  } catch (const CliError& e) {
    EXPECT_NE(e.hint.find("is lb-controlplane running? it listens on "
                          "/tmp/lbctl-client-test-nobody.sock"),
              std::string::npos);
  }
}

TEST(ApiClient, ClosedWithoutAnswer) {
  ScriptedServer server([](int fd) { read_line(fd); });
  EXPECT_EQ(call_failure(server.path()),
            std::make_pair(Exit::kUnreachable,
                           std::string("lb-controlplane closed the connection without an answer")));
}

TEST(ApiClient, ClosedHalfwayThroughTheAnswer) {
  ScriptedServer server([](int fd) {
    read_line(fd);
    write_all(fd, R"({"ok": tr)");
  });
  EXPECT_EQ(call_failure(server.path()).first, Exit::kUnreachable);
}

TEST(ApiClient, NoAnswerInTime) {
  ScriptedServer server([](int fd) {
    read_line(fd);
    std::this_thread::sleep_for(500ms);
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(call_failure(server.path(), 150ms),
            std::make_pair(Exit::kUnreachable,
                           std::string("lb-controlplane did not answer within 150 ms")));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 450ms);
}

TEST(ApiClient, GarbledAnswersAreInternalErrors) {
  for (const char* answer : {"not json\n", "[1, 2]\n", "{\"result\": {}}\n", "{\"ok\": true}\n",
                             "{\"ok\": false, \"error\": {\"code\": \"invalid\"}}\n"}) {
    ScriptedServer server([answer](int fd) {
      read_line(fd);
      write_all(fd, answer);
    });
    const auto [exit, message] = call_failure(server.path());
    EXPECT_EQ(exit, Exit::kInternal) << answer;
    EXPECT_EQ(message.rfind("the answer from lb-controlplane ", 0), 0u) << message;
  }
}

TEST(ApiClient, RequestOverTheLimitIsRefusedUnsent) {
  bool connected = false;
  {
    ScriptedServer server([&](int) { connected = true; });
    ApiClient client(server.path(), 2000ms);
    const nlohmann::json big = {{"op", "config.apply"},
                                {"pad", std::string(kMaxRequestBytes, 'a')}};
    try {
      client.call(big);
      ADD_FAILURE() << "sent";
    } catch (const CliError& e) {
      EXPECT_EQ(e.exit, Exit::kInvalid);
      const size_t size = big.dump().size();  // 30 bytes of JSON around the padding
      EXPECT_EQ(e.what(), "the request is " + std::to_string(size) +
                              " bytes; the control API takes at most 67108864 (64 MiB)");
    }
  }  // the server's thread is joined here: `connected` is safe to read
  EXPECT_FALSE(connected);
  // Exactly the limit is sent (the newline is not counted).
  ScriptedServer limit([](int fd) {
    EXPECT_EQ(read_line(fd).size(), kMaxRequestBytes);
    write_all(fd, "{\"ok\": true, \"result\": {}}\n");
  });
  ApiClient at_limit(limit.path(), 5000ms);
  const std::string overhead = nlohmann::json({{"op", "x"}, {"pad", ""}}).dump();
  EXPECT_NO_THROW(
      at_limit.call({{"op", "x"}, {"pad", std::string(kMaxRequestBytes - overhead.size(), 'a')}}));
}

TEST(ApiClient, SocketPathTooLong) {
  EXPECT_EQ(call_failure("/tmp/" + std::string(200, 'x')).first, Exit::kUsage);
}

}  // namespace
}  // namespace sluice::lbctl
