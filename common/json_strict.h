// Strict JSON reading for everything Sluice takes from outside: control API
// requests, declarative configurations, --static-config files. nlohmann's
// parser keeps the last of two equal keys in one object, so
// {"op": "status", "op": "vip.del", ...} would silently become a deletion;
// here a key seen twice in one object is an error that names the key and
// where it is. Pure function; any thread.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sluice {

struct JsonStrictError {
  // Path of the offending key, in the notation of the configuration errors
  // ("vips[0].backends[1].name"), under `root` when one was given; for a
  // syntax error `root` itself (possibly empty).
  std::string field;
  // "FIELD: duplicate key 'name' (a key may appear once per object)", or
  // "[ROOT: ]not valid JSON: <what the parser expected> at byte N"; printable
  // ASCII whatever the input held.
  std::string message;
};

// Parses `text` into `out`. Returns false, leaving `out` untouched, if it is
// not valid JSON or if any object in it has a key twice (the first one
// found is reported). `root` names the document in paths and messages, e.g.
// "config" gives "config.vips[0].port".
bool parse_json_strict(std::string_view text, nlohmann::json& out, JsonStrictError& error,
                       std::string_view root = {});

}  // namespace sluice
