// lb-controlplane's options: defaults derived from the instance, the
// --config file with the command line winning, and refusals with exit code 2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controlplane/options.h"
#include "tests/controlplane/test_util.h"

namespace sluice::cp {
namespace {

std::optional<Options> parse(std::vector<std::string> args, int& code) {
  args.insert(args.begin(), "lb-controlplane");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return parse_options(static_cast<int>(argv.size()), argv.data(), code);
}

TEST(Options, DefaultsFollowTheInstance) {
  int code = -1;
  auto o = parse({"--instance", "edge1"}, code);
  ASSERT_TRUE(o);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(o->socket_path, "/run/sluice/edge1.sock");
  EXPECT_EQ(o->state_file, "/var/lib/sluice/edge1.state.json");
  EXPECT_EQ(o->ack_timeout_ms, 5000u);
  EXPECT_EQ(o->max_vips, 4096u);
  EXPECT_EQ(o->max_backend_id, 65535u);
  EXPECT_EQ(o->hash_seed, 0u);
  EXPECT_TRUE(o->audit_log.empty());
  EXPECT_EQ(o->max_clients, 64u);
  EXPECT_EQ(o->client_idle_timeout_ms, 10000u);
}

TEST(Options, ClientLimits) {
  test::TempDir dir;
  const std::string conf = dir.file("cp.conf");
  test::write_all(conf, "max-clients = 8\nclient-idle-timeout-ms = 500\n");
  int code = -1;
  auto o = parse({"--config", conf, "--max-clients", "3"}, code);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->max_clients, 3u);
  EXPECT_EQ(o->client_idle_timeout_ms, 500u);
}

TEST(Options, ConfigFileWithTheCommandLineWinning) {
  test::TempDir dir;
  const std::string conf = dir.file("cp.conf");
  test::write_all(conf,
                  "# comment\ninstance = fromfile\nsocket = /tmp/file.sock\n"
                  "ack-timeout-ms = 250\nhash-seed = 99\naudit-log = /tmp/audit.log\n");
  int code = -1;
  auto o = parse({"--config", conf, "--socket", "/tmp/cli.sock", "--hash-seed", "7"}, code);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->instance, "fromfile");
  EXPECT_EQ(o->socket_path, "/tmp/cli.sock");
  EXPECT_EQ(o->state_file, "/var/lib/sluice/fromfile.state.json");
  EXPECT_EQ(o->ack_timeout_ms, 250u);
  EXPECT_EQ(o->hash_seed, 7u);
  EXPECT_EQ(o->audit_log, "/tmp/audit.log");
}

TEST(Options, Refusals) {
  test::TempDir dir;
  const std::string conf = dir.file("bad.conf");
  test::write_all(conf, "colour = blue\n");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--instance", "a/b"},
                                             {"--instance", ""},
                                             {"--ack-timeout-ms", "0"},
                                             {"--max-vips", "0"},
                                             {"--max-backend-id", "16777217"},
                                             {"--hash-seed", "-1"},
                                             {"--max-clients", "0"},
                                             {"--max-clients", "65537"},
                                             {"--max-clients", "-5"},
                                             {"--client-idle-timeout-ms", "99"},
                                             {"--client-idle-timeout-ms", "1e4"},
                                             {"--bogus"},
                                             {"--config", conf},
                                             {"--config", dir.file("missing.conf")}}) {
    int code = -1;
    EXPECT_FALSE(parse(args, code)) << args[0];
    EXPECT_EQ(code, 2) << args[0];
  }
}

TEST(Options, Help) {
  int code = -1;
  testing::internal::CaptureStdout();
  EXPECT_FALSE(parse({"--help"}, code));
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("--state-file"), std::string::npos);
  EXPECT_NE(out.find("--config"), std::string::npos);
  EXPECT_NE(out.find("--max-clients"), std::string::npos);
  EXPECT_NE(out.find("--client-idle-timeout-ms"), std::string::npos);
}

}  // namespace
}  // namespace sluice::cp
