// The rule for the liveness device's name, shared by lb-dataplane
// --liveness-iface (which creates it) and lb-controlplane
// --bird-liveness-iface (which writes it, quoted, into BIRD's
// configuration): a subset of what the kernel allows, so that the name also
// sits in BIRD's configuration as it is. Pure; any thread.
#pragma once

#include <string>

namespace sluice {

// 1 to 15 characters (IFNAMSIZ - 1) of [A-Za-z0-9._-], not "." or "..".
inline bool valid_iface_name(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace sluice
