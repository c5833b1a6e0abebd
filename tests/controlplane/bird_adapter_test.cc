// The BIRD adapter (controlplane/bird_adapter.h) against a real BIRD 2 in
// a network namespace of its own: a desired file becomes BIRD's routes; a
// change made while BIRD is down is in the file BIRD reads when it starts,
// and the adapter reconnects and configures again; a configuration BIRD
// refuses is reported with BIRD's message; `show protocols` gives the BGP
// session's state. Under CI=true a missing bird binary or namespace support
// fails the test; elsewhere it skips.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

#include "controlplane/bird_adapter.h"
#include "tests/controlplane/test_util.h"

namespace sluice::cp {
namespace {

using test::TempDir;

constexpr const char* kBird = "/usr/sbin/bird";

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

bool wait_for(const std::function<bool()>& done, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// A namespace with lo up, and BIRD in it (ended by PID).
class BirdLab {
 public:
  explicit BirdLab(const TempDir& dir)
      : dir_(dir), netns_(test::unique_name("sl-birdt")), socket_(dir.file("bird.ctl")) {}
  ~BirdLab() {
    stop();
    std::system(("ip netns del " + netns_ + " 2>/dev/null").c_str());
  }
  std::string setup() {
    if (access(kBird, X_OK) != 0) return std::string(kBird) + " is not installed (scripts/setup)";
    if (std::system(("ip netns add " + netns_ + " && ip -n " + netns_ + " link set lo up").c_str()) !=
        0) {
      return "cannot create a network namespace";
    }
    return {};
  }
  void write_config(const std::string& include) {
    test::write_all(dir_.file("bird.conf"),
                    "router id 192.0.2.1;\n"
                    "protocol device { }\n"
                    "include \"" + include + "\";\n"
                    "protocol bgp uplink {\n"
                    "  local 192.0.2.1 as 65001;\n"
                    "  neighbor 192.0.2.2 as 65000;\n"
                    "  ipv4 { import none; export where proto = \"sluice4\"; };\n"
                    "}\n");
  }
  bool start() {
    unlink(socket_.c_str());
    pid_ = fork();
    if (pid_ == 0) {
      execlp("ip", "ip", "netns", "exec", netns_.c_str(), kBird, "-f", "-c",
             dir_.file("bird.conf").c_str(), "-s", socket_.c_str(), "-P",
             dir_.file("bird.pid").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    struct stat st{};
    return wait_for([&] { return stat(socket_.c_str(), &st) == 0; }, 5000);
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // `show route` through a client of our own.
  std::string routes() {
    BirdClient c;
    if (!c.connect(socket_, 2000).empty()) return {};
    std::string error;
    const auto r = c.command("show route all", 2000, error);
    std::string text;
    if (r) {
      for (const BirdLine& l : r->lines) text += l.text + "\n";
    }
    return text;
  }
  const std::string& socket() const { return socket_; }

 private:
  const TempDir& dir_;
  std::string netns_;
  std::string socket_;
  pid_t pid_ = -1;
};

TEST(BirdAdapter, AppliesSurvivesRestartsAndReportsRefusals) {
  TempDir dir;
  BirdLab lab(dir);
  if (std::string problem = lab.setup(); !problem.empty()) {
    if (in_ci()) FAIL() << problem;
    GTEST_SKIP() << problem;
  }
  const std::string include = dir.file("vips.conf");
  test::write_all(include, "");
  lab.write_config(include);
  ASSERT_TRUE(lab.start());

  BirdAdapterOptions o{lab.socket(), include, "lo", 2000, 200};
  BirdAdapter adapter(o);
  adapter.start();
  BirdVipsFile want;
  want.routes = {{"192.0.2.10/32", false, false}};
  adapter.set_desired(want);
  ASSERT_TRUE(wait_for([&] { return lab.routes().find("192.0.2.10/32") != std::string::npos; },
                       5000))
      << lab.routes();
  EXPECT_TRUE(wait_for([&] { return adapter.status().applied_generation == 1; }, 2000));
  EXPECT_TRUE(adapter.status().connected);
  EXPECT_EQ(adapter.status().version.rfind("2.", 0), 0u) << adapter.status().version;
  // The BGP session's state from `show protocols` (it cannot come up here).
  ASSERT_TRUE(wait_for(
      [&] {
        for (const BirdProtocol& p : adapter.status().protocols) {
          if (p.name == "uplink" && p.proto == "BGP") return true;
        }
        return false;
      },
      3000));

  // The graceful-shutdown tag reaches BIRD's route attributes.
  want.routes[0].graceful_shutdown = true;
  adapter.set_desired(want);
  ASSERT_TRUE(wait_for([&] { return lab.routes().find("(65535,0)") != std::string::npos; }, 5000))
      << lab.routes();

  // BIRD down: a change still reaches the file, which BIRD reads at start;
  // the adapter reconnects and configures again.
  lab.stop();
  want.routes = {{"192.0.2.10/32", false, false}, {"192.0.2.11/32", false, false}};
  adapter.set_desired(want);
  ASSERT_TRUE(wait_for(
      [&] { return test::read_all(include).find("192.0.2.11/32") != std::string::npos; }, 3000));
  ASSERT_TRUE(lab.start());
  ASSERT_TRUE(wait_for(
      [&] {
        const BirdStatus s = adapter.status();
        return s.connected && s.reconnects >= 1 && s.applied_generation == s.desired_generation;
      },
      5000))
      << adapter.status().error;
  const std::string routes = lab.routes();
  EXPECT_NE(routes.find("192.0.2.10/32"), std::string::npos) << routes;
  EXPECT_NE(routes.find("192.0.2.11/32"), std::string::npos) << routes;

  // The operator's configuration broken: BIRD refuses, and says why; BIRD
  // keeps running what it had.
  test::write_all(dir.file("bird.conf"), "this is not a BIRD configuration\n");
  want.routes.pop_back();
  adapter.set_desired(want);
  ASSERT_TRUE(wait_for(
      [&] { return adapter.status().error.find("BIRD refused") != std::string::npos; }, 5000))
      << adapter.status().error;
  EXPECT_NE(lab.routes().find("192.0.2.11/32"), std::string::npos);
  EXPECT_NE(adapter.status().applied_generation, adapter.status().desired_generation);
}

}  // namespace
}  // namespace sluice::cp
