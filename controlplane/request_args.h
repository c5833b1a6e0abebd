// Strict reading of one API request's arguments (docs/control-api.md):
// unknown fields, missing arguments and wrong types are `usage` errors;
// well-typed values that are not acceptable (bad address, port 70000, an
// unknown protocol) are `invalid`. Every error names the field. One thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "common/table_config.h"
#include "controlplane/api_error.h"
#include "controlplane/state.h"
#include "controlplane/vip_key.h"

namespace sluice::cp {

using nlohmann::json;

class RequestArgs {
 public:
  explicit RequestArgs(const json& request) : req_(request) {}

  // Refuses any field but "op" and `allowed`.
  std::optional<ApiError> only(std::initializer_list<const char*> allowed) const;
  bool has(const char* key) const { return req_.contains(key); }
  // The value as sent (for readers of their own, like health.set's); the
  // key must be there (has()).
  const json& raw(const char* key) const { return req_.at(key); }

  std::optional<ApiError> string(const char* key, std::string& out) const;
  // An optional true/false; `out` keeps its value when the key is absent.
  std::optional<ApiError> boolean(const char* key, bool& out) const;
  std::optional<ApiError> uint(const char* key, uint64_t max, uint64_t& out) const;
  std::optional<ApiError> address(const char* key, IpAddress& out) const;
  std::optional<ApiError> protocol(const char* key, uint8_t& out) const;
  std::optional<ApiError> vip_key(const char* key, VipKey& out) const;

  // vip.add's "vip": {address, port, protocol, encap?, table_size?}.
  std::optional<ApiError> vip_spec(const char* key, VipConfig& out) const;
  // backend.add's "backend": {name, address, weight?, state?}.
  std::optional<ApiError> backend_spec(const char* key, BackendConfig& out) const;
  // backend.set's "weight", "state" and/or "backup".
  std::optional<ApiError> backend_change(BackendChange& out) const;
  // vip.add's and vip.set's "scheduler", "no_backend", "slow_start" (each
  // optional).
  std::optional<ApiError> vip_change(VipChange& out) const;
  // config.apply / config.check's "config": a declarative config. Errors
  // inside it are `invalid`, their field a path inside the config
  // ("vips[0].port").
  std::optional<ApiError> config(const char* key, TableConfig& out) const;

 private:
  RequestArgs(const json& obj, std::string prefix) : req_(obj), prefix_(std::move(prefix)) {}
  std::string path(const char* key) const { return prefix_ + key; }

  const json& req_;
  std::string prefix_;  // "vip." when reading a nested object
};

// How deeply arrays and objects nest in JSON text (strings skipped), read
// without building anything: requests nested deeper than any real one are
// refused before parsing, since copying or printing a deep JSON value
// recurses once per level.
size_t json_nesting_depth(std::string_view text);
inline constexpr size_t kMaxRequestDepth = 32;

std::optional<BackendState> parse_backend_state(const std::string& name);
std::optional<Encap> parse_encap(const std::string& name);

}  // namespace sluice::cp
