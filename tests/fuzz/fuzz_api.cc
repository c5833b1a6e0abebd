// Fuzz target: the control API's request handling, Controller::handle, the
// function lb-controlplane's ApiServer calls with each request line. The
// input is what a client sends on its socket: it is cut into lines as the
// server cuts it ('\n', a trailing '\r' dropped, blank lines skipped) and
// at most kMaxLines requests go, in order, to one in-memory controller:
// a few VIPs and backends to start from, a state file in a private
// temporary directory, no audit log and no dataplane (the instance name is
// one no dataplane uses, so changes are accepted locally, as with a
// dataplane down). Each input gets a fresh controller, so it reproduces on
// its own.
//
// Invariants, for every request line:
//  - an answer comes at once (nothing waits for a dataplane), as one line
//    of valid JSON: an object whose "ok" is a boolean;
//  - ok: a "result" object; not ok: an "error" with a known code and a
//    message, never "internal" (an exception escaped a handler, or the
//    state file could not be written: both bugs here);
//  - a refused request leaves the state as it was; an accepted one leaves
//    a state that passes validate_table_config.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/table_config.h"
#include "controlplane/audit_log.h"
#include "controlplane/controller.h"
#include "controlplane/dataplane_link.h"
#include "controlplane/request_args.h"
#include "controlplane/state.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using nlohmann::json;
using namespace sluice;
using namespace sluice::cp;

constexpr size_t kMaxLines = 8;

// The declarative config every input starts from (ids assigned by
// apply_config, as config.apply would).
constexpr const char* kInitialConfig = R"({"vips": [
  {"address": "192.0.2.10", "port": 80, "protocol": "tcp", "table_size": 251,
   "backends": [{"name": "web-1", "address": "198.51.100.1"},
                {"name": "web-2", "address": "198.51.100.2", "weight": 3},
                {"name": "web-3", "address": "198.51.100.3", "state": "draining"}]},
  {"address": "2001:db8::10", "port": 53, "protocol": "udp", "encap": "gue", "table_size": 17,
   "backends": [{"name": "dns-1", "address": "198.51.100.4"},
                {"name": "dns-2", "address": "2001:db8:b::5", "state": "disabled"}]},
  {"address": "192.0.2.11", "port": 0, "protocol": "tcp", "table_size": 7, "backends": []}]})";

struct World {
  std::string dir;
  std::string state_file;
  std::string instance;
  State initial;
  // One link for the process: it never attaches, and it says so once
  // rather than once per input.
  std::unique_ptr<DataplaneLink> link;

  World() {
    // tmpfs when there is one: every accepted change fsyncs the state file.
    std::error_code ec;
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                     ? std::filesystem::path("/dev/shm")
                                     : std::filesystem::temp_directory_path();
    std::string tmpl = (base / "sluice-fuzz-api-XXXXXX").string();
    FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr, "cannot create a temporary directory");
    dir = tmpl;
    state_file = dir + "/state.json";
    instance = "fuzz-api-none-" + std::to_string(getpid());
    link = std::make_unique<DataplaneLink>(instance, LinkTiming{});

    ConfigDocument doc;
    const std::string e = parse_config_document(kInitialConfig, doc);
    FUZZ_CHECK(e.empty(), "initial config: " + e);
    TableConfig desired = std::move(doc.config);
    ApplySummary summary;
    const auto refused = apply_config(initial, std::move(desired), TableLimits{}, summary);
    FUZZ_CHECK(!refused, "initial config refused: " + refused->message);
  }
};

// Answers by op and outcome over all inputs, printed at exit: which
// operations the run got past the parser (and how far).
std::map<std::string, uint64_t> g_outcomes;

void print_outcomes() {
  std::string line;
  for (const auto& [what, n] : g_outcomes)
    line.append(" ").append(what).append("=").append(std::to_string(n));
  std::fprintf(stderr, "fuzz_api: answers over all inputs:%s\n", line.c_str());
}

void count_outcome(const std::string& line, const json& answer) {
  // Not parsed when deeper than the controller takes (copies recurse).
  const json request = json_nesting_depth(line) > kMaxRequestDepth
                           ? json()
                           : json::parse(line, nullptr, /*allow_exceptions=*/false);
  std::string op = "(no op)";
  if (request.is_object() && request.contains("op") && request["op"].is_string()) {
    op = request["op"].get<std::string>();
    const bool unknown =
        !answer["ok"].get<bool>() &&
        answer["error"]["message"].get<std::string>().starts_with("op: unknown op");
    if (unknown) op = "(unknown op)";
  }
  const std::string outcome =
      answer["ok"].get<bool>() ? "ok" : answer["error"]["code"].get<std::string>();
  ++g_outcomes[op + ":" + outcome];
}

World& world() {
  static World* w = [] {
    auto* created = new World();  // lives as long as the process
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(world().dir, ignored);
      print_outcomes();
    });
    return created;
  }();
  return *w;
}

void check_answer(const std::string& line, const std::optional<std::string>& answer,
                  const Controller& ctl, const TableConfig& before) {
  FUZZ_CHECK(answer.has_value(), "no answer without a dataplane, for: " + line);
  const std::string& a = *answer;
  FUZZ_CHECK(!a.empty() && a.back() == '\n' && a.find('\n') == a.size() - 1,
             "the answer is not one line: " + a);
  const json j = json::parse(a, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!j.is_discarded(), "the answer is not JSON: " + a);
  FUZZ_CHECK(j.is_object() && j.contains("ok") && j["ok"].is_boolean(),
             "the answer has no boolean \"ok\": " + a);
  if (j["ok"].get<bool>()) {
    FUZZ_CHECK(j.contains("result") && j["result"].is_object(), "ok without a result: " + a);
    count_outcome(line, j);
    const std::string invalid = validate_table_config(ctl.state().config, TableLimits{});
    FUZZ_CHECK(invalid.empty(), "an accepted request left an invalid state (" + invalid +
                                    ")\nrequest: " + line + "\nanswer: " + a);
    return;
  }
  FUZZ_CHECK(j.contains("error") && j["error"].is_object(), "not ok without an error: " + a);
  const json& e = j["error"];
  FUZZ_CHECK(e.contains("code") && e["code"].is_string() && e.contains("message") &&
                 e["message"].is_string() && !e["message"].get<std::string>().empty(),
             "error without a code and a message: " + a);
  const std::string code = e["code"].get<std::string>();
  FUZZ_CHECK(code == "usage" || code == "invalid" || code == "not_found" || code == "dataplane",
             "error code " + code + "\nrequest: " + line + "\nanswer: " + a);
  FUZZ_CHECK(same_config(before, ctl.state().config),
             "a refused request changed the state\nrequest: " + line + "\nanswer: " + a);
  count_outcome(line, j);
}

}  // namespace

// Mutations that know the input is JSON lines: most byte-level mutations
// only make a request unparseable, so most of the time one value, key or
// array element of one request changes, to a value of the vocabulary below
// (addresses, keys, names, enum words, boundary numbers, other types).
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

const json& vocabulary() {
  static const json v = json::parse(R"([
    null, true, false, 0, 1, -1, 7, 17, 251, 65535, 65536, 65537, 1000000, 1000001, 4294967296,
    18446744073709551615, -9223372036854775808, 1.5, 1e308, -0.0,
    "", "x", "web-1", "web-2", "dns-1",
    "192.0.2.10", "192.0.2.11", "192.0.2.99", "2001:db8::10", "198.51.100.1", "2001:db8:b::5",
    "0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255", "::", "::1", "ff02::1", "1.2.3",
    "192.0.2.10:80/tcp", "[2001:db8::10]:53/udp", "192.0.2.11:0/tcp", "192.0.2.10:65536/tcp",
    "[2001:db8::10]:53", "tcp", "udp", "icmp", "ipip", "gue", "active", "draining", "disabled",
    "status", "stats", "vip.list", "vip.show", "vip.add", "vip.del", "backend.add", "backend.del",
    "backend.set", "backend.list", "config.apply", "config.check", "config.export", "flow.explain",
    [], {}, [1], {"address": "192.0.2.30", "port": 80, "protocol": "tcp", "table_size": 7},
    {"name": "n", "address": "198.51.100.77"}, {"vips": []}
  ])");
  return v;
}

constexpr const char* kKeys[] = {"op",          "vip",      "backend", "name",       "address",
                                 "port",        "protocol", "encap",   "table_size", "weight",
                                 "state",       "config",   "vips",    "backends",   "client",
                                 "client_port", "vip_port", "id",      "extra"};

void collect(json& j, std::vector<json*>& out) {
  out.push_back(&j);
  if (j.is_object() || j.is_array()) {
    for (auto& child : j) collect(child, out);
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned seed) {
  sluice::fuzz::MutationRandom rnd(seed);
  if (size == 0 || rnd(4) == 0) return LLVMFuzzerMutate(data, size, max_size);

  std::vector<std::string> lines;
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  const size_t pick = rnd(lines.size());
  switch (rnd(8)) {
    case 0:  // a request twice (the second meets the first's effect)
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(pick), lines[pick]);
      break;
    case 1:
      if (lines.size() > 1) lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(pick));
      break;
    default: {
      json j = json::parse(lines[pick], nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) {
        std::string& l = lines[pick];
        const size_t room = std::max<size_t>(l.size() + 64, 64);
        l.resize(room);
        l.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(l.data()), room - 64, room));
        break;
      }
      std::vector<json*> nodes;
      collect(j, nodes);
      json& n = *nodes[rnd(nodes.size())];
      const json& v = vocabulary();
      const size_t action = rnd(4);
      if (action == 0 && n.is_object() && !n.empty()) {
        auto it = n.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(rnd(n.size())));
        n.erase(it.key());
      } else if (action == 1 && n.is_object()) {
        n[kKeys[rnd(std::size(kKeys))]] = v[rnd(v.size())];
      } else if (action == 2 && n.is_array() && !n.empty()) {
        const size_t i = rnd(n.size());
        if (rnd(2) == 0) {
          n.erase(i);
        } else {
          n.push_back(n[i]);
        }
      } else {
        n = v[rnd(v.size())];
      }
      lines[pick] = j.dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i != 0) out.push_back('\n');
    out += lines[i];
  }
  if (out.size() > max_size) out.resize(max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  AuditLog audit;  // not opened: no audit log
  ControllerConfig cc;
  cc.state_file = w.state_file;
  Controller ctl(cc, w.initial, /*has_state=*/true, *w.link, audit,
                 [](ConnId, const std::string& line) {
                   FUZZ_CHECK(false, "an answer was delivered later: " + line);
                 });

  const std::string text(reinterpret_cast<const char*>(data), size);
  size_t lines = 0;
  for (size_t pos = 0; pos < text.size() && lines < kMaxLines;) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    ++lines;
    const TableConfig before = ctl.state().config;
    const std::optional<std::string> answer = ctl.handle(1, line);
    check_answer(line, answer, ctl, before);
  }
  return 0;
}
