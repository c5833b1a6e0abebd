// ApiServer (controlplane/api_server.h) on a real Unix socket, driven round
// by round from the test's thread: an answer to every line (a blank one
// included), the connection cap that closes the longest-idle connection to
// make room and refuses a newcomer only while every connection waits for an
// answer, the idle timeout, and what a closed client reads (one error line,
// then end-of-file, even if it writes its request after the refusal); the
// socket's name has one owner (a lock file): a second server is refused
// while the first listens, a dead one's socket is replaced, a stop removes
// the socket and the lock file.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/api_server.h"
#include "controlplane/views.h"
#include "tests/controlplane/test_util.h"

namespace sluice::cp {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint64_t kMs = 1'000'000;

// A client socket, non-blocking, read and written by the test.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ok_ = connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return ok_; }
  // False if the daemon's side is gone (EPIPE and such).
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads what is there; notes end-of-file.
  void pump() {
    char buf[4096];
    for (;;) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        buffer_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) eof_ = true;
      return;
    }
  }
  bool has_line() {
    pump();
    return buffer_.find('\n') != std::string::npos;
  }
  json take_line() {
    const auto nl = buffer_.find('\n');
    if (nl == std::string::npos) return json();
    const std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    return json::parse(line);
  }
  bool at_eof() {
    pump();
    return eof_ && buffer_.empty();
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  bool eof_ = false;
  std::string buffer_;
};

// The server with a handler that answers {"ok": true, "echo": LINE} at once,
// and defers "wait" (as a change waiting for the dataplane would be).
class ServerTest : public ::testing::Test {
 protected:
  void start(ApiServerLimits limits) {
    server_ = std::make_unique<ApiServer>(
        [this](ConnId conn, const std::string& line) -> std::optional<std::string> {
          if (line == "wait") {
            waiting_.push_back(conn);
            return std::nullopt;
          }
          return answer_line(json{{"ok", true}, {"echo", line}});
        },
        [](const ApiError& e) { return answer_line(error_answer(e)); }, limits);
    ASSERT_EQ(server_->listen(path_), "");
  }

  // Polls the server until `done` or `limit` passes; true if `done`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 2000ms) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      server_->poll_once(5 * kMs, nullptr);
      if (done()) return true;
    }
    return done();
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }
  // A client the server has accepted.
  std::unique_ptr<Client> connect() {
    auto c = std::make_unique<Client>(path_);
    EXPECT_TRUE(c->connected());
    const uint64_t before = server_->counters().accepted;
    EXPECT_TRUE(run_until([&] { return server_->counters().accepted > before; }));
    return c;
  }
  json answer(Client& c) {
    EXPECT_TRUE(run_until([&] { return c.has_line(); })) << "no answer";
    return c.take_line();
  }
  static bool unavailable(const json& a, const std::string& says) {
    return a.value("ok", true) == false && a["error"]["code"] == "unavailable" &&
           a["error"]["message"].get<std::string>().find(says) != std::string::npos;
  }

  test::TempDir dir_;
  std::string path_ = dir_.file("api.sock");
  std::unique_ptr<ApiServer> server_;
  std::vector<ConnId> waiting_;
};

TEST_F(ServerTest, EveryLineGetsAnAnswerABlankOneAnError) {
  start({});
  auto c = connect();
  ASSERT_TRUE(c->send("\n \t\r\n{\"op\": \"status\"}\n\r\n"));
  for (int i = 0; i < 4; ++i) {
    const json a = answer(*c);
    if (i == 2) {
      EXPECT_EQ(a, (json{{"ok", true}, {"echo", "{\"op\": \"status\"}"}}));
      continue;
    }
    EXPECT_EQ(a["ok"], false) << a;
    EXPECT_EQ(a["error"]["code"], "usage") << a;
    EXPECT_NE(a["error"]["message"].get<std::string>().find("empty request"), std::string::npos);
  }
  EXPECT_EQ(server_->counters().empty_lines, 3u);
  EXPECT_FALSE(c->at_eof()) << "a blank line does not end the connection";
}

TEST_F(ServerTest, AtTheCapTheLongestIdleConnectionMakesRoom) {
  start({3, 10'000 * kMs});
  auto a = connect();
  run_for(10ms);
  auto b = connect();
  run_for(10ms);
  auto c = connect();
  run_for(10ms);
  // A was connected first but has just made a request: B is idle the longest.
  ASSERT_TRUE(a->send("ping\n"));
  EXPECT_EQ(answer(*a)["echo"], "ping");

  auto d = connect();
  ASSERT_TRUE(run_until([&] { return b->has_line(); }));
  const json bye = b->take_line();
  EXPECT_TRUE(unavailable(bye, "idle the longest")) << bye;
  EXPECT_NE(bye["error"]["message"].get<std::string>().find("--max-clients"), std::string::npos);
  EXPECT_TRUE(run_until([&] { return b->at_eof(); })) << "then end-of-file";
  EXPECT_EQ(server_->counters().evicted_idle, 1u);
  EXPECT_EQ(server_->counters().refused_busy, 0u);

  // The newcomer is served; the others are untouched.
  ASSERT_TRUE(d->send("hello\n"));
  EXPECT_EQ(answer(*d)["echo"], "hello");
  for (Client* other : {a.get(), c.get()}) {
    EXPECT_FALSE(other->has_line());
    EXPECT_FALSE(other->at_eof());
  }
  EXPECT_EQ(server_->active_connections(), 3u);
}

TEST_F(ServerTest, ManyIdleClientsNeverLockOutTheNextOne) {
  start({4, 10'000 * kMs});
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 60; ++i) idle.push_back(connect());
  EXPECT_EQ(server_->active_connections(), 4u);
  EXPECT_LE(server_->connections(), 8u) << "departing connections are bounded too";
  auto op = connect();
  ASSERT_TRUE(op->send("status\n"));
  EXPECT_EQ(answer(*op)["echo"], "status");
  EXPECT_EQ(server_->counters().evicted_idle, 57u);
  // Every evicted client read why, then end-of-file (the answer went out
  // before the oldest departing connections were closed to bound them).
  run_for(50ms);
  size_t told = 0;
  for (size_t i = 0; i < 57; ++i) {
    if (idle[i]->has_line()) told += unavailable(idle[i]->take_line(), "idle the longest");
    EXPECT_TRUE(run_until([&] { return idle[i]->at_eof(); }, 1500ms)) << i;
  }
  EXPECT_EQ(told, 57u);
  for (size_t i = 57; i < idle.size(); ++i) EXPECT_FALSE(idle[i]->at_eof()) << i;
}

TEST_F(ServerTest, RefusedOnlyWhileEveryConnectionWaitsForAnAnswer) {
  start({2, 10'000 * kMs});
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(a->send("wait\n"));
  ASSERT_TRUE(b->send("wait\n"));
  ASSERT_TRUE(run_until([&] { return waiting_.size() == 2; }));

  auto c = connect();
  ASSERT_TRUE(run_until([&] { return c->has_line(); }));
  EXPECT_TRUE(unavailable(c->take_line(), "waiting for answers"));
  EXPECT_EQ(server_->counters().refused_busy, 1u);
  // A refused client that writes its request only now still gets to send
  // it (no broken pipe) and reads end-of-file after the answer.
  EXPECT_TRUE(c->send("status\n"));
  EXPECT_TRUE(run_until([&] { return c->at_eof(); }));

  // The waiting ones keep their turn and get their answers.
  server_->deliver(waiting_[0], answer_line(json{{"ok", true}, {"done", 1}}));
  EXPECT_EQ(answer(*a)["done"], 1);
  // A is idle now: the next newcomer takes its place, B keeps waiting.
  auto d = connect();
  ASSERT_TRUE(run_until([&] { return a->has_line(); }));
  EXPECT_TRUE(unavailable(a->take_line(), "idle the longest"));
  ASSERT_TRUE(d->send("x\n"));
  EXPECT_EQ(answer(*d)["echo"], "x");
  server_->deliver(waiting_[1], answer_line(json{{"ok", true}, {"done", 2}}));
  EXPECT_EQ(answer(*b)["done"], 2);
}

TEST_F(ServerTest, IdleConnectionsAreClosedAfterTheTimeout) {
  start({8, 300 * kMs});
  auto idle = connect();
  auto chatty = connect();
  auto waiting = connect();
  auto half = connect();
  ASSERT_TRUE(waiting->send("wait\n"));
  ASSERT_TRUE(half->send("{\"op\": \"sta"));  // a request that never ends
  const auto start_time = Clock::now();
  // The chatty client sends a request every 100 ms for 600 ms.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(chatty->send("ping\n"));
    EXPECT_EQ(answer(*chatty)["echo"], "ping");
    run_for(100ms);
  }
  ASSERT_TRUE(idle->has_line());
  EXPECT_TRUE(unavailable(idle->take_line(), "without a request"));
  EXPECT_TRUE(run_until([&] { return idle->at_eof(); }));
  ASSERT_TRUE(half->has_line());
  EXPECT_TRUE(unavailable(half->take_line(), "--client-idle-timeout-ms"));
  EXPECT_FALSE(chatty->has_line());
  EXPECT_FALSE(chatty->at_eof());
  EXPECT_FALSE(waiting->has_line()) << "an outstanding answer keeps the connection";
  EXPECT_GE(server_->counters().idle_timeouts, 2u);
  EXPECT_GE(Clock::now() - start_time, 300ms);

  // Once its answer is delivered, its idle clock starts from then.
  ASSERT_EQ(waiting_.size(), 1u);
  server_->deliver(waiting_[0], answer_line(json{{"ok", true}}));
  EXPECT_EQ(answer(*waiting)["ok"], true);
  run_for(150ms);
  EXPECT_FALSE(waiting->at_eof());
  ASSERT_TRUE(run_until([&] { return waiting->has_line(); }, 1000ms));
  EXPECT_TRUE(unavailable(waiting->take_line(), "without a request"));
}

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

ApiServer plain_server() {
  return ApiServer([](ConnId, const std::string&) { return std::optional<std::string>("{}\n"); },
                   [](const ApiError& e) { return answer_line(error_answer(e)); });
}

TEST_F(ServerTest, TheSocketsNameHasOneOwner) {
  start({});
  EXPECT_TRUE(exists(path_ + ".lock"));
  // A second daemon is refused, even if the first does not answer (a full
  // backlog, a stopped process): the lock decides, not a connect().
  ApiServer second = plain_server();
  const std::string e = second.listen(path_);
  EXPECT_NE(e.find("another lb-controlplane (pid " + std::to_string(getpid()) + ") serves " +
                   path_),
            std::string::npos)
      << e;
  // The first one's socket is untouched and still serves.
  auto c = connect();
  ASSERT_TRUE(c->send("ping\n"));
  EXPECT_EQ(answer(*c)["echo"], "ping");
  // A clean stop removes the socket and the lock file; the name is free.
  server_->shutdown();
  EXPECT_FALSE(exists(path_));
  EXPECT_FALSE(exists(path_ + ".lock"));
  EXPECT_EQ(second.listen(path_), "");
}

TEST_F(ServerTest, ADeadDaemonsSocketIsReplaced) {
  // What kill -9 leaves: a bound socket file nobody listens on, and a lock
  // file nobody holds.
  {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    close(fd);
    const int lock = open((path_ + ".lock").c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(lock, 0);
    ASSERT_EQ(write(lock, "999999\n", 7), 7);
    close(lock);
  }
  ASSERT_TRUE(exists(path_));
  start({});
  auto c = connect();
  ASSERT_TRUE(c->send("ping\n"));
  EXPECT_EQ(answer(*c)["echo"], "ping");
}

TEST_F(ServerTest, AFileThatIsNoSocketIsLeftAlone) {
  const int fd = open(path_.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  ApiServer server = plain_server();
  EXPECT_NE(server.listen(path_).find("is not a socket"), std::string::npos);
  EXPECT_TRUE(exists(path_));
  EXPECT_FALSE(exists(path_ + ".lock")) << "a refused start releases the name";
}

}  // namespace
}  // namespace sluice::cp
