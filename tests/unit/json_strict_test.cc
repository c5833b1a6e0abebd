// parse_json_strict (common/json_strict.h): a key twice in one object is
// refused with the key and its path; everything nlohmann accepts otherwise
// parses to the same value; syntax errors say where; a refusal leaves the
// output untouched.
#include <gtest/gtest.h>

#include <string>

#include "common/json_strict.h"

namespace sluice {
namespace {

using nlohmann::json;

struct Duplicate {
  const char* text;
  const char* root;
  const char* field;
  const char* key;
};

class JsonStrictDuplicates : public ::testing::TestWithParam<Duplicate> {};

TEST_P(JsonStrictDuplicates, NameTheKeyAndItsPath) {
  const Duplicate& d = GetParam();
  json out = {{"untouched", true}};
  JsonStrictError e;
  EXPECT_FALSE(parse_json_strict(d.text, out, e, d.root)) << d.text;
  EXPECT_EQ(e.field, d.field);
  EXPECT_EQ(e.message, std::string(d.field) + ": duplicate key '" + d.key +
                           "' (a key may appear once per object)");
  EXPECT_EQ(out, (json{{"untouched", true}})) << "a refused parse changed the output";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, JsonStrictDuplicates,
    ::testing::Values(
        // The one the issue found: "op" overridden inside one request.
        Duplicate{R"({"op": "status", "op": "vip.del", "vip": "192.0.2.10:80/tcp"})", "", "op",
                  "op"},
        Duplicate{R"({"a": 1, "b": 2, "a": 1})", "", "a", "a"},
        Duplicate{R"({"op": "config.apply", "config": {"vips": [{"port": 80, "port": 81}]}})", "",
                  "config.vips[0].port", "port"},
        Duplicate{R"({"vips": [{"address": "192.0.2.10"},
                               {"address": "192.0.2.11", "backends": [
                                 {"name": "a"}, {"name": "b", "weight": 1, "name": "c"}]}]})",
                  "config", "config.vips[1].backends[1].name", "name"},
        // Arrays of arrays and scalars keep the index right.
        Duplicate{R"({"x": [[1, 2], [3, {"y": 1}], {"z": [true, null, {"k": 1, "k": 2}]}]})", "",
                  "x[2].z[2].k", "k"},
        // Equal keys in different objects are fine; the duplicate is the later one's.
        Duplicate{R"({"a": {"k": 1}, "b": {"k": 2, "k": 3}})", "", "b.k", "k"},
        // Escapes are decoded before comparing: "\u006f\u0070" is "op".
        Duplicate{R"({"op": "status", "\u006f\u0070": "vip.del"})", "", "op", "op"},
        // Unprintable key bytes are shown as '?'.
        Duplicate{"{\"a\\nb\": 1, \"a\\nb\": 2}", "", "a?b", "a?b"},
        Duplicate{R"({"": 1, "": 2})", "", "", ""}));

TEST(JsonStrict, AcceptsWhatHasNoDuplicateAndParsesItAsNlohmannDoes) {
  const char* texts[] = {
      R"({"op": "status"})",
      R"({"vips": [{"address": "192.0.2.10", "backends": [{"name": "a"}, {"name": "b"}]},
                   {"address": "192.0.2.11", "backends": [{"name": "a"}]}]})",
      R"([{"k": 1}, {"k": 2}, [{"k": 3}]])",
      R"({"a": {"a": {"a": 1}}})",
      "42",
      "\"text\"",
      "[]",
      "{}",
      " {\"x\": [1, 2.5, -3e2, true, false, null, \"s\"]} ",
  };
  for (const char* text : texts) {
    json out;
    JsonStrictError e;
    EXPECT_TRUE(parse_json_strict(text, out, e)) << text << ": " << e.message;
    EXPECT_EQ(out, json::parse(text)) << text;
  }
}

TEST(JsonStrict, SyntaxErrorsSayWhereAndUnderTheRoot) {
  struct Case {
    const char* text;
    const char* root;
    const char* message_starts;
  };
  const Case cases[] = {
      {"{", "", "not valid JSON: "},
      {"", "", "not valid JSON: "},
      {"{\"op\": \"status\",}", "", "not valid JSON: "},
      {"[1, 2", "config", "config: not valid JSON: "},
      {"{\"a\": 1} trailing", "config", "config: not valid JSON: "},
      {"{\"op\": \"st\xff\"}", "", "not valid JSON: "},  // invalid UTF-8
  };
  for (const Case& c : cases) {
    json out = 7;
    JsonStrictError e;
    EXPECT_FALSE(parse_json_strict(c.text, out, e, c.root)) << c.text;
    EXPECT_EQ(e.message.rfind(c.message_starts, 0), 0u) << e.message;
    EXPECT_NE(e.message.find(" at byte "), std::string::npos) << e.message;
    EXPECT_EQ(e.field, c.root);
    EXPECT_EQ(out, json(7));
    for (const char ch : e.message) {
      EXPECT_TRUE(ch >= 0x20 && ch < 0x7F) << "unprintable byte in " << e.message;
    }
  }
}

// Deep nesting is parsed without recursion (the control API refuses it
// earlier, by depth, but a configuration file reaches this directly).
TEST(JsonStrict, DeepNestingDoesNotOverflowTheStack) {
  constexpr int kDepth = 100000;
  const std::string text = std::string(kDepth, '[') + std::string(kDepth, ']');
  json out;
  JsonStrictError e;
  EXPECT_TRUE(parse_json_strict(text, out, e)) << e.message;
  const std::string dup = "{\"a\": " + std::string(kDepth, '[') + "{\"k\": 1, \"k\": 2}" +
                          std::string(kDepth, ']') + "}";
  EXPECT_FALSE(parse_json_strict(dup, out, e));
  EXPECT_EQ(e.field.substr(0, 7), "a[0][0]");
  EXPECT_EQ(e.field.substr(e.field.size() - 5), "[0].k");
}

}  // namespace
}  // namespace sluice
