// The text of an errno value, for error messages: errno itself by default,
// or a value a call returned (negative, as libbpf and DPDK return them, or
// positive).
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

namespace sluice {

inline std::string errno_text(int err = errno) { return std::strerror(err < 0 ? -err : err); }

}  // namespace sluice
