// Output formatting: aligned tables and "key: value" blocks for people,
// pretty JSON for machines, and the renderers that turn each answer of
// docs/control-api.md into them. Renderers tolerate missing fields (shown as
// "-") and print fields they do not know after the ones they do, so a newer
// lb-controlplane still reads well. Pure functions of their input; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace sluice::lbctl {

using nlohmann::json;

enum class OutputFormat { kTable, kJson };

// Columns padded to the widest cell (header included), two spaces between
// columns, no trailing spaces. Numeric columns are right-aligned.
class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;  // printed in capitals
    Align align = Align::kLeft;
  };
  explicit Table(std::vector<Column> columns);
  // Missing cells are printed empty; extra cells are ignored.
  void add_row(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Lines of "key: value", values aligned one column after the widest
// "key:" plus two spaces. `indent` nests a line under the one above.
class KeyValues {
 public:
  void add(std::string key, std::string value, int indent = 0);
  std::string render() const;

 private:
  struct Line {
    std::string key, value;
    int indent;
  };
  std::vector<Line> lines_;
};

// Pretty JSON, 2-space indent, keys sorted, newline at the end.
std::string json_text(const json& value);

// A scalar as a table cell: strings as they are, numbers in decimal, booleans
// as yes/no, null or missing as "-"; objects and arrays as compact JSON.
std::string cell(const json& object, const char* key);
std::string cell(const json& value);

// "12.5s" below a minute, then "3m 5s", "2h 0m 7s", "4d 1h 2m".
std::string format_duration(double seconds);

// Renderers for the results of the read-only operations (table form).
std::string render_vip_list(const json& result);
std::string render_vip_show(const json& result);
std::string render_backend_list(const json& result);
std::string render_status(const json& result);
std::string render_bgp_show(const json& result);
// COUNTER VALUE in the order of the counter list (common/counters.h);
// counters lbctl does not know follow alphabetically. One line when no
// dataplane is attached.
std::string render_stats(const json& result);
// `flow` describes the flow asked about: "tcp 203.0.113.7:40000 -> 192.0.2.10:80".
std::string render_flow_explain(const json& result, const std::string& flow);

}  // namespace sluice::lbctl
