// The include file lb-controlplane writes for BIRD (DESIGN.md section 8):
// two static protocols, sluice4 and sluice6, with one route per announced
// VIP prefix. The operator's BIRD configuration includes it and exports
// those protocols' routes to its BGP peers (docs/bird/sluice-host.conf).
//
// Why a generated file plus `configure` rather than per-VIP `enable` and
// `disable` commands or routes in a kernel table:
//  - atomic: BIRD parses the whole file and applies it as one
//    reconfiguration, and a static protocol changes only the routes that
//    differ, so a change to one VIP never touches the others' sessions;
//  - survives a restart of either side: BIRD reads the file when it starts,
//    and the file outlives lb-controlplane, so BIRD keeps announcing what
//    it had (fail static) and a new control plane reads it back and takes
//    the announcements over without a flap;
//  - cheap: one write and one command per change, whatever the VIP count.
// Every route is `via "IFACE"`, the liveness device lb-dataplane holds open
// (`--liveness-iface`): BIRD keeps a static route only while its device is
// up, and the kernel deletes the device when the dataplane dies, so a host
// whose dataplane is gone stops announcing even when lb-controlplane is
// gone too.
//
// The file is also the adapter's own record: a header line says whether
// the host is drained (`lbctl host drain`), so a drained host stays
// drained across a control plane restart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::cp {

struct BirdRoute {
  std::string prefix;  // "192.0.2.10/32", "2001:db8::10/128"
  bool ipv6 = false;
  // Tagged with the graceful-shutdown community (RFC 8326, 65535:0).
  bool graceful_shutdown = false;

  bool operator==(const BirdRoute&) const = default;
};

struct BirdVipsFile {
  std::vector<BirdRoute> routes;  // sorted by prefix
  bool host_drained = false;

  bool operator==(const BirdVipsFile&) const = default;
};

// The file's text; `liveness_iface` is the device every route goes via.
std::string render_bird_vips_file(const BirdVipsFile& file, const std::string& liveness_iface);

// Reads back a file render_bird_vips_file wrote (only its own lines); on
// anything else returns nullopt and says why in `error`.
std::optional<BirdVipsFile> parse_bird_vips_file(const std::string& text, std::string& error);

}  // namespace sluice::cp
