// add_steering_program (dataplane/xdp_steering.h): --xdp-steering names the
// steering program in every net_af_xdp --vdev that names none, and leaves
// everything else of the EAL's command line alone.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <unistd.h>

#include "dataplane/xdp_steering.h"

namespace sluice::dp {
namespace {

struct Result {
  std::string error;
  std::vector<std::string> args;
};

Result rewrite(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  EalArgs out;
  Result r;
  r.error = add_steering_program(static_cast<int>(args.size()), argv.data(), out);
  if (!r.error.empty()) return r;  // `out` is not to be used then
  for (int i = 0; i < out.argc(); ++i) r.args.emplace_back(out.argv()[i]);
  EXPECT_EQ(out.argv()[out.argc()], nullptr) << "argv ends with a null pointer";
  return r;
}

class SteeringArgs : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/sluice-steer-XXXXXX";
    const int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    close(fd);
    object_ = name;
  }
  void TearDown() override { std::remove(object_.c_str()); }
  std::string object_;
};

TEST_F(SteeringArgs, WithoutTheOptionNothingChanges) {
  const std::vector<std::string> args = {"lb-dataplane", "--vdev", "net_af_xdp0,iface=eth0",
                                         "--", "--instance", "a"};
  const Result r = rewrite(args);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.args, args);
}

TEST_F(SteeringArgs, AddsTheProgramToEveryAfXdpVdevThatNamesNone) {
  const Result r = rewrite({"lb-dataplane", "--vdev", "net_af_xdp0,iface=eth0",
                            "--vdev=net_af_xdp1,iface=eth1", "--vdev", "net_af_packet0,iface=eth2",
                            "--vdev", "net_af_xdp2,iface=eth3,xdp_prog=/other.o", "--",
                            "--xdp-steering", "--xdp-program", object_});
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.args.size(), 12u);
  EXPECT_EQ(r.args[2], "net_af_xdp0,iface=eth0,xdp_prog=" + object_);
  EXPECT_EQ(r.args[3], "--vdev=net_af_xdp1,iface=eth1,xdp_prog=" + object_);
  EXPECT_EQ(r.args[5], "net_af_packet0,iface=eth2") << "another driver's vdev is left alone";
  EXPECT_EQ(r.args[7], "net_af_xdp2,iface=eth3,xdp_prog=/other.o") << "a named program stays";
}

TEST_F(SteeringArgs, ProgramOptionWithEqualsSign) {
  const Result r = rewrite({"lb-dataplane", "--vdev", "net_af_xdp0,iface=eth0", "--",
                            "--xdp-program=" + object_, "--xdp-steering"});
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.args[2], "net_af_xdp0,iface=eth0,xdp_prog=" + object_);
}

TEST_F(SteeringArgs, OnlyTheEalsVdevsAreRewritten) {
  // A --vdev after "--" is the program's (an unknown option it will refuse).
  const Result r = rewrite({"lb-dataplane", "--", "--xdp-steering", "--xdp-program", object_,
                            "--vdev", "net_af_xdp0,iface=eth0"});
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.args.back(), "net_af_xdp0,iface=eth0");
}

TEST_F(SteeringArgs, AMissingObjectIsAStartUpError) {
  const Result r = rewrite({"lb-dataplane", "--vdev", "net_af_xdp0,iface=eth0", "--",
                            "--xdp-steering", "--xdp-program", "/nonexistent/steer.o"});
  EXPECT_NE(r.error.find("cannot read the steering program /nonexistent/steer.o"),
            std::string::npos)
      << r.error;
}

TEST_F(SteeringArgs, APathThatCannotBeADevargIsRefused) {
  const std::string odd = object_ + ",x";
  std::FILE* f = std::fopen(odd.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  const Result r = rewrite({"lb-dataplane", "--vdev", "net_af_xdp0,iface=eth0", "--",
                            "--xdp-steering", "--xdp-program", odd});
  std::remove(odd.c_str());
  EXPECT_NE(r.error.find("cannot be a devarg"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace sluice::dp
