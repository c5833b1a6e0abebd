// The control API's BGP operations (docs/control-api.md, "BGP"): bgp.show
// (BIRD's connection and sessions, the host's drain state, every VIP's
// announcement and why), host.drain and host.undrain. They act on the
// running announcements only; the desired configuration is not touched.
#include "controlplane/bgp_service.h"
#include "controlplane/controller.h"
#include "controlplane/views.h"

namespace sluice::cp {

namespace {

ApiError bgp_off_error() {
  return ApiError{ErrorCode::kInvalid, "BGP is off: lb-controlplane runs without --bird-socket",
                  ""};
}

// Decimal seconds from a request ("gshut_time": 5, "timeout": 2.5).
std::optional<ApiError> seconds_arg(const RequestArgs& args, const char* key, double max,
                                    uint64_t& out_ns) {
  if (!args.has(key)) return std::nullopt;
  const json& v = args.raw(key);
  if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > max) {
    return invalid_error(key, "must be a number of seconds from 0 to " +
                                             std::to_string(static_cast<int>(max)));
  }
  out_ns = static_cast<uint64_t>(v.get<double>() * 1e9);
  return std::nullopt;
}

}  // namespace

json Controller::op_bgp_show(const RequestArgs& args) {
  if (auto e = args.only({})) return error_answer(*e);
  if (bgp_ == nullptr) return ok_answer(json{{"enabled", false}, {"vips", json::array()}});
  return ok_answer(bgp_->view(monotonic_ns()));
}

json Controller::op_host_drain(const RequestArgs& args) {
  if (auto e = args.only({"gshut_time", "timeout"})) return error_answer(*e);
  if (bgp_ == nullptr) return error_answer(bgp_off_error());
  uint64_t gshut_ns = 5'000'000'000, timeout_ns = 30'000'000'000;
  if (auto e = seconds_arg(args, "gshut_time", 3600, gshut_ns)) return error_answer(*e);
  if (auto e = seconds_arg(args, "timeout", 3600, timeout_ns)) return error_answer(*e);
  json result;
  bgp_->drain(monotonic_ns(), gshut_ns, timeout_ns, result);
  return ok_answer(json{{"host", std::move(result)}});
}

json Controller::op_host_undrain(const RequestArgs& args) {
  if (auto e = args.only({})) return error_answer(*e);
  if (bgp_ == nullptr) return error_answer(bgp_off_error());
  json result;
  bgp_->undrain(monotonic_ns(), result);
  return ok_answer(json{{"host", std::move(result)}});
}

}  // namespace sluice::cp
