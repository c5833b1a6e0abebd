#include "tools/lbctl/stats_commands.h"

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "common/counters.h"
#include "tools/lbctl/api_client.h"
#include "tools/lbctl/exit_codes.h"
#include "tools/lbctl/output.h"
#include "tools/lbctl/values.h"

namespace sluice::lbctl {

namespace {

using nlohmann::json;

// The longest -w / --interval: a typo of minutes for seconds should not
// leave a terminal silent for hours.
constexpr uint64_t kMaxSeconds = 3600;
constexpr const char* kTraffic[] = {"packets", "bytes", "new_flows"};

json ask(ApiClient& client, const json& request) {
  const json answer = client.call(request);
  if (!answer["ok"].get<bool>()) {
    const json& e = answer["error"];
    throw CliError(exit_for_daemon_code(e["code"].get<std::string>()),
                   e["message"].get<std::string>());
  }
  return answer["result"];
}

bool attached(const json& result) {
  const auto it = result.find("attached");
  return it != result.end() && it->is_boolean() && it->get<bool>();
}

uint64_t seconds_option(const Invocation& inv, const char* name, uint64_t fallback) {
  const auto text = inv.option(name);
  if (!text) return fallback;
  uint64_t v = 0;
  std::string e = parse_uint(std::string("--") + name, *text, kMaxSeconds, v);
  if (e.empty() && v == 0) e = std::string("--") + name + " must be at least 1 second";
  if (!e.empty()) {
    throw CliError(Exit::kInvalid, e, "run 'lbctl stats --help' for the accepted values");
  }
  return v;
}

uint64_t number(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

double per_second(uint64_t now, uint64_t before, double seconds) {
  // A counter below its earlier value means a restarted dataplane; the
  // caller never compares two boots, so this is only a guard.
  return now >= before && seconds > 0 ? static_cast<double>(now - before) / seconds : 0.0;
}

std::string rate_cell(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 100 || v == 0 ? "%.0f" : "%.1f", v);
  return buf;
}

// A connection per request in the loops: the daemon closes connections
// idle for --client-idle-timeout-ms, which a -w 30 would exceed.
json ask_fresh(const Invocation& inv, const json& request) {
  ApiClient client(inv.globals.socket, std::chrono::milliseconds(inv.globals.timeout_ms));
  return ask(client, request);
}

void write_now(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

json stats_rates(const json& before, const json& now) {
  const double seconds =
      static_cast<double>(number(now, "at_ns") - std::min(number(now, "at_ns"), number(before, "at_ns"))) /
      1e9;
  json counters = json::object();
  for (const auto& [name, value] : now["counters"].items()) {
    if (!value.is_number_unsigned()) continue;
    counters[name] = per_second(value.get<uint64_t>(), number(before["counters"], name.c_str()),
                                seconds);
  }
  auto traffic = [&](const json& n, const json* b) {
    json r = json::object();
    for (const char* k : kTraffic) r[k] = per_second(number(n, k), b ? number(*b, k) : 0, seconds);
    return r;
  };
  auto find = [](const json& list, const char* key, const json& value) -> const json* {
    if (!list.is_array()) return nullptr;
    for (const json& item : list) {
      if (item.is_object() && item.value(key, json()) == value) return &item;
    }
    return nullptr;
  };
  json vips = json::array();
  for (const json& v : now.value("vips", json::array())) {
    const json* bv = find(before.value("vips", json::array()), "key", v["key"]);
    json rv = traffic(v, bv);
    rv["key"] = v["key"];
    json backends = json::array();
    for (const json& b : v.value("backends", json::array())) {
      const json* bb = bv ? find(bv->value("backends", json::array()), "name", b["name"]) : nullptr;
      json rb = traffic(b, bb);
      rb["name"] = b["name"];
      backends.push_back(std::move(rb));
    }
    rv["backends"] = std::move(backends);
    vips.push_back(std::move(rv));
  }
  return json{{"interval_s", seconds}, {"counters", std::move(counters)}, {"vips", std::move(vips)}};
}

std::string render_stats_table(const json& result) {
  if (!attached(result)) return render_stats(result);
  std::string out = render_stats(result);  // every counter, in the list's order
  Table t({{"vip / backend"},
           {"packets", Table::Align::kRight},
           {"bytes", Table::Align::kRight},
           {"new_flows", Table::Align::kRight},
           {"dropped", Table::Align::kRight}});
  for (const json& v : result.value("vips", json::array())) {
    // The VIP's drops, all reasons together (-o json has them by reason).
    uint64_t dropped = 0;
    const json drops = v.value("drops", json::object());
    for (const auto& [reason, n] : drops.items()) {
      if (n.is_number_unsigned()) dropped += n.get<uint64_t>();
    }
    t.add_row({cell(v, "key"), cell(v, "packets"), cell(v, "bytes"), cell(v, "new_flows"),
               std::to_string(dropped)});
    for (const json& b : v.value("backends", json::array())) {
      t.add_row({"  -> " + cell(b, "name"), cell(b, "packets"), cell(b, "bytes"),
                 cell(b, "new_flows"), ""});
    }
  }
  if (t.rows() != 0) out += "\n" + t.render();
  return out;
}

std::string render_rates_table(const json& rates) {
  Table totals({{"counter"}, {"per_second", Table::Align::kRight}});
  const json& counters = rates["counters"];
  std::set<std::string> rest;
  for (const auto& item : counters.items()) rest.insert(item.key());
  for (const CounterInfo& info : kCounterInfo) {
    if (rest.erase(info.name) != 0) totals.add_row({info.name, rate_cell(counters[info.name])});
  }
  for (const std::string& name : rest) totals.add_row({name, rate_cell(counters[name])});
  Table t({{"vip / backend"},
           {"pps", Table::Align::kRight},
           {"bps", Table::Align::kRight},
           {"flows_per_s", Table::Align::kRight}});
  for (const json& v : rates["vips"]) {
    t.add_row({cell(v, "key"), rate_cell(v["packets"]), rate_cell(v["bytes"].get<double>() * 8),
               rate_cell(v["new_flows"])});
    for (const json& b : v["backends"]) {
      t.add_row({"  -> " + cell(b, "name"), rate_cell(b["packets"]),
                 rate_cell(b["bytes"].get<double>() * 8), rate_cell(b["new_flows"])});
    }
  }
  char head[64];
  std::snprintf(head, sizeof head, "rates over %.1f s\n", rates["interval_s"].get<double>());
  std::string out = head + totals.render();
  if (t.rows() != 0) out += "\n" + t.render();
  return out;
}

void cmd_stats(const Invocation& inv, ApiClient& client, std::string& out) {
  const bool rate = inv.option("rate").has_value();
  const bool json_out = inv.globals.output == OutputFormat::kJson;
  const uint64_t watch = seconds_option(inv, "watch", 0);
  const uint64_t interval = seconds_option(inv, "interval", watch != 0 ? watch : 1);
  auto show = [&](const json& result) { return json_out ? json_text(result) : render_stats_table(result); };

  json before = ask(client, {{"op", "stats"}});
  if (!rate && watch == 0) {
    out += show(before);
    return;
  }
  // Rates divide the difference of two answers of one dataplane boot by
  // the daemon's own interval between them.
  const uint64_t step = rate ? interval : watch;
  for (uint64_t round = 0;; ++round) {
    if (rate || round > 0) std::this_thread::sleep_for(std::chrono::seconds(step));
    const json now = rate || round > 0 ? ask_fresh(inv, {{"op", "stats"}}) : before;
    std::string text;
    if (!attached(now)) {
      text = show(now);
    } else if (rate) {
      if (!attached(before) || before.value("boot_id", "") != now.value("boot_id", "")) {
        text = "the dataplane restarted (or attached) during the interval; rates next time\n";
      } else {
        const json r = stats_rates(before, now);
        text = json_out ? json_text(r) : render_rates_table(r);
      }
    } else {
      text = show(now);
    }
    before = now;
    if (watch == 0) {
      out += text;
      return;
    }
    // Until interrupted (SIGINT ends lbctl): each refresh as it comes.
    write_now((round > 0 && !json_out ? "\n" : "") + text);
  }
}

void cmd_log(const Invocation& inv, ApiClient& client, std::string& out) {
  uint64_t lines = 20;
  if (const auto n = inv.option("lines")) {
    if (std::string e = parse_uint("-n", *n, 1000, lines); !e.empty()) {
      throw CliError(Exit::kInvalid, e, "lbctl log keeps the last 1000 lines; -n 1 to 1000");
    }
  }
  const bool follow = inv.option("follow").has_value();
  const bool json_out = inv.globals.output == OutputFormat::kJson;
  json result = ask(client, {{"op", "log"}, {"lines", lines}});
  auto render = [&](const json& r) {
    if (json_out) return json_text(r);
    std::string text;
    if (r["path"].is_null() && !follow) return std::string("no audit log (lb-controlplane --audit-log not set)\n");
    // The lines as they are in the file: JSON, one per line (tail -f style).
    for (const json& e : r["entries"]) text += e["entry"].dump() + "\n";
    return text;
  };
  if (!follow) {
    out += render(result);
    return;
  }
  write_now(render(result));
  uint64_t next = result["next"].get<uint64_t>();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    result = ask_fresh(inv, {{"op", "log"}, {"lines", 1000}, {"after", next}});
    if (!result["entries"].empty()) write_now(render(result));
    next = result["next"].get<uint64_t>();
  }
}

}  // namespace sluice::lbctl
