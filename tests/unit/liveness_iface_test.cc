// The liveness device (dataplane/liveness_iface.h): created down, up on
// request, never persistent, gone when its holder closes it or dies (kill -9
// included), and an existing name refused. Runs in a network namespace of
// its own (unshare), so it needs CAP_SYS_ADMIN and CAP_NET_ADMIN and
// /dev/net/tun; without them it skips and says why (fails under CI=true).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dataplane/liveness_iface.h"

namespace sluice::dp {
namespace {

// Why this process cannot run the tests (empty if it can); moves it into a
// new, empty network namespace on the first call.
std::string environment_problem() {
  static const std::string problem = [] {
    if (::access("/dev/net/tun", R_OK | W_OK) != 0) return std::string("no usable /dev/net/tun");
    if (::unshare(CLONE_NEWNET) != 0) {
      std::string why = "cannot make a network namespace (unshare): ";
      why += std::strerror(errno);
      return why;
    }
    return std::string();
  }();
  return problem;
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// Under CI=true a missing capability is a failure, never a skip.
#define REQUIRE_ENVIRONMENT()                                   \
  do {                                                          \
    const std::string why = environment_problem();              \
    if (!why.empty()) {                                         \
      if (in_ci()) FAIL() << why;                               \
      GTEST_SKIP() << why;                                      \
    }                                                           \
  } while (0)

bool exists(const std::string& name) { return if_nametoindex(name.c_str()) != 0; }

// IFF_* flags of `name`, or -1.
int flags_of(const std::string& name) {
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  const int rc = ::ioctl(sock, SIOCGIFFLAGS, &ifr);
  ::close(sock);
  return rc == 0 ? ifr.ifr_flags : -1;
}

TEST(LivenessIface, Names) {
  EXPECT_TRUE(valid_iface_name("sluice-alive"));
  EXPECT_TRUE(valid_iface_name("a.b_c-9"));
  EXPECT_TRUE(valid_iface_name("fifteen-chars15"));
  EXPECT_FALSE(valid_iface_name("sixteen-chars-16"));
  EXPECT_FALSE(valid_iface_name(""));
  EXPECT_FALSE(valid_iface_name("."));
  EXPECT_FALSE(valid_iface_name(".."));
  EXPECT_FALSE(valid_iface_name("a/b"));
  EXPECT_FALSE(valid_iface_name("a b"));
  EXPECT_FALSE(valid_iface_name("tun%d"));
  EXPECT_FALSE(valid_iface_name("a\"b"));
  LivenessIface dev;
  EXPECT_NE(dev.create("a\"b").find("not an interface name"), std::string::npos);
  EXPECT_FALSE(dev.created());
}

TEST(LivenessIface, CreatedDownThenUpThenGoneOnClose) {
  REQUIRE_ENVIRONMENT();
  LivenessIface dev;
  ASSERT_EQ(dev.create("sl-alive0"), "");
  ASSERT_TRUE(exists("sl-alive0"));
  EXPECT_EQ(flags_of("sl-alive0") & IFF_UP, 0) << "down until the dataplane has tables";
  EXPECT_FALSE(dev.is_up());
  ASSERT_EQ(dev.set_up(), "");
  EXPECT_TRUE(dev.is_up());
  EXPECT_NE(flags_of("sl-alive0") & IFF_UP, 0);
  dev.close();
  EXPECT_FALSE(exists("sl-alive0")) << "a non-persistent TUN device goes with its last fd";
  EXPECT_NE(dev.set_up(), "");
}

TEST(LivenessIface, ExistingNameRefused) {
  REQUIRE_ENVIRONMENT();
  LivenessIface first, second;
  ASSERT_EQ(first.create("sl-alive1"), "");
  const std::string e = second.create("sl-alive1");
  EXPECT_NE(e.find("exists already"), std::string::npos) << e;
  EXPECT_FALSE(second.created());
  EXPECT_NE(second.create("lo").find("exists already"), std::string::npos);
  // A persistent TUN device of that name (left by someone else) is refused
  // too: TUNSETIFF would attach to it, and it would outlive us.
  const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "sl-persist", IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  ASSERT_EQ(::ioctl(fd, TUNSETIFF, &ifr), 0);
  ASSERT_EQ(::ioctl(fd, TUNSETPERSIST, 1), 0);
  ::close(fd);
  ASSERT_TRUE(exists("sl-persist"));
  EXPECT_NE(second.create("sl-persist").find("exists already"), std::string::npos);
  EXPECT_FALSE(second.created());
}

TEST(LivenessIface, GoneWhenTheHolderIsKilled) {
  REQUIRE_ENVIRONMENT();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    LivenessIface dev;
    const bool ok = dev.create("sl-alive2").empty() && dev.set_up().empty();
    const char c = ok ? '1' : '0';
    if (::write(ready[1], &c, 1) != 1) ::_exit(3);
    ::pause();  // until kill -9
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(c, '1');
  EXPECT_TRUE(exists("sl-alive2"));
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  // The kernel deletes the device as the killed process's files close
  // (before waitpid returns, in practice); allow it a second.
  for (int i = 0; i < 100 && exists("sl-alive2"); ++i) ::usleep(10'000);
  EXPECT_FALSE(exists("sl-alive2"));
}

}  // namespace
}  // namespace sluice::dp
