// The state file: a round trip keeps ids and counters; a missing file is an
// empty state; a truncated, damaged or unparsable one is refused, moved
// aside to FILE.corrupt-UNIXTIME and never overwritten (not even an earlier
// .corrupt file); saving is atomic (no temporary file left behind).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "controlplane/state_file.h"
#include "tests/controlplane/test_util.h"

namespace sluice::cp {
namespace {

using test::TempDir;

State sample_state() {
  State s;
  TableLimits limits;
  VipConfig v;
  v.address = *parse_ip_address("192.0.2.10");
  v.port = 80;
  v.protocol = 6;
  v.table_size = 251;
  EXPECT_FALSE(add_vip(s, v, limits));
  v.address = *parse_ip_address("2001:db8::10");
  v.port = 0;
  v.protocol = 17;
  v.encap = Encap::kGue;
  EXPECT_FALSE(add_vip(s, v, limits));
  std::string error;
  BackendConfig b;
  b.name = "web-1";
  b.address = *parse_ip_address("198.51.100.1");
  b.weight = 3;
  b.state = BackendState::kDraining;
  EXPECT_FALSE(add_backend(s, *parse_vip_key("192.0.2.10:80/tcp", error), b, limits));
  b.name = "dns-1";
  b.address = *parse_ip_address("198.51.100.2");
  EXPECT_FALSE(add_backend(s, *parse_vip_key("[2001:db8::10]:0/udp", error), b, limits));
  EXPECT_FALSE(del_vip(s, *parse_vip_key("192.0.2.10:80/tcp", error)));
  v.address = *parse_ip_address("192.0.2.10");
  v.port = 80;
  v.protocol = 6;
  EXPECT_FALSE(add_vip(s, v, limits));  // id 3: counters moved on
  return s;
}

std::vector<std::string> corrupt_files(const TempDir& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    const std::string name = e.path().filename().string();
    if (name.find(".corrupt-") != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

TEST(StateFile, RoundTripKeepsIdsAndCounters) {
  TempDir dir;
  const std::string path = dir.file("state.json");
  const State s = sample_state();
  ASSERT_EQ(save_state_file(path, s), "");
  const LoadResult r = load_state_file(path);
  ASSERT_EQ(r.kind, LoadResult::Kind::kLoaded) << r.error;
  EXPECT_TRUE(same_config(r.state.config, s.config));
  EXPECT_EQ(r.state.next_vip_id, 4u);
  EXPECT_EQ(r.state.next_backend_id, 3u);
  ASSERT_EQ(r.state.config.vips.size(), 2u);
  EXPECT_EQ(r.state.config.vips[0].id, 3u);
  EXPECT_EQ(r.state.config.vips[1].backends[0].state, BackendState::kDraining);
  EXPECT_EQ(r.state.config.vips[1].backends[0].weight, 3u);
  // Atomic write: nothing but the file itself in the directory.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "state.json");
  }
  EXPECT_EQ(entries, 1u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(StateFile, SaveReplacesTheOldFileWhole) {
  TempDir dir;
  const std::string path = dir.file("state.json");
  ASSERT_EQ(save_state_file(path, sample_state()), "");
  ASSERT_EQ(save_state_file(path, State{}), "");
  const LoadResult r = load_state_file(path);
  ASSERT_EQ(r.kind, LoadResult::Kind::kLoaded) << r.error;
  EXPECT_TRUE(r.state.config.vips.empty());
}

TEST(StateFile, SaveIntoAMissingDirectoryFailsCleanly) {
  TempDir dir;
  const std::string e = save_state_file(dir.file("no/such/dir/state.json"), State{});
  EXPECT_NE(e.find("no/such/dir/state.json.tmp-"), std::string::npos) << e;
}

TEST(StateFile, MissingFileIsAnEmptyState) {
  TempDir dir;
  const LoadResult r = load_state_file(dir.file("state.json"));
  EXPECT_EQ(r.kind, LoadResult::Kind::kMissing);
  EXPECT_TRUE(r.state.config.vips.empty());
  EXPECT_TRUE(corrupt_files(dir).empty());
}

TEST(StateFile, CountersBelowIdsInUseAreRaised) {
  State s = sample_state();
  std::string text = state_to_json(s);
  const std::string needle = "\"next_vip_id\": 4";
  ASSERT_NE(text.find(needle), std::string::npos);
  text.replace(text.find(needle), needle.size(), "\"next_vip_id\": 1");
  State out;
  ASSERT_EQ(parse_state_json(text, out), "");
  EXPECT_EQ(out.next_vip_id, 4u);
}

struct CorruptCase {
  const char* what;
  std::string text;
  const char* expect;
};

TEST(StateFile, CorruptFilesAreRefusedAndMovedAsideNeverOverwritten) {
  const std::string good = state_to_json(sample_state());
  std::string wrong_id = good;
  wrong_id.replace(wrong_id.find("\"id\": 3"), 7, "\"id\": 0");
  const std::vector<CorruptCase> cases = {
      {"empty", "", "empty"},
      {"truncated", good.substr(0, good.size() / 2), "not valid JSON"},
      {"garbage", "\x01\x02garbage", "not valid JSON"},
      {"not an object", "[]", "must be an object"},
      {"other format",
       R"({"format": "x", "version": 1, "next_vip_id": 1, "next_backend_id": 1, "vips": []})",
       "format"},
      {"future version",
       R"({"format": "sluice-controlplane-state", "version": 2, "next_vip_id": 1, "next_backend_id": 1, "vips": []})",
       "version"},
      {"unknown field",
       R"({"format": "sluice-controlplane-state", "version": 1, "next_vip_id": 1, "next_backend_id": 1, "vips": [], "x": 1})",
       "x: unknown field"},
      {"bad vip",
       R"({"format": "sluice-controlplane-state", "version": 1, "next_vip_id": 1, "next_backend_id": 1, "vips": [{"id": 1}]})",
       "vips[0].address"},
      {"id 0", wrong_id, "id 0"},
      {"deeply nested", std::string(100000, '[') + std::string(100000, ']'), "nested too deeply"},
  };
  for (const CorruptCase& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    const std::string path = dir.file("state.json");
    test::write_all(path, c.text);
    // An earlier corrupt file from this very second must survive too.
    const std::string earlier = path + ".corrupt-" + std::to_string(std::time(nullptr));
    test::write_all(earlier, "earlier");
    const LoadResult r = load_state_file(path);
    ASSERT_EQ(r.kind, LoadResult::Kind::kCorrupt);
    EXPECT_NE(r.error.find(path), std::string::npos) << r.error;
    EXPECT_NE(r.error.find(c.expect), std::string::npos) << r.error;
    EXPECT_FALSE(std::filesystem::exists(path));
    ASSERT_FALSE(r.moved_to.empty()) << r.error;
    EXPECT_NE(r.moved_to, earlier);
    EXPECT_NE(r.error.find(r.moved_to), std::string::npos) << r.error;
    EXPECT_EQ(test::read_all(r.moved_to), c.text);
    EXPECT_EQ(test::read_all(earlier), "earlier");
    EXPECT_EQ(corrupt_files(dir).size(), 2u);
  }
}

TEST(StateFile, UnreadableFileIsLeftInPlace) {
  TempDir dir;
  const std::string path = dir.file("state.json");
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0);  // a directory: read() fails with EISDIR
  const LoadResult r = load_state_file(path);
  EXPECT_EQ(r.kind, LoadResult::Kind::kUnreadable) << r.error;
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_TRUE(corrupt_files(dir).empty());
}

}  // namespace
}  // namespace sluice::cp
