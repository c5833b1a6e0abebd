#include "dataplane/liveness_iface.h"
#include "common/errno_text.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::dp {

namespace {

std::string quoted(const std::string& name) {
  std::string s = "'";
  s += name;
  s += "'";
  return s;
}

}  // namespace

std::string LivenessIface::create(const std::string& name) {
  std::string what = "--liveness-iface ";
  what += quoted(name);
  what += ": ";
  if (!valid_iface_name(name)) {
    return what + "not an interface name (1 to 15 characters of [A-Za-z0-9._-])";
  }
  // TUNSETIFF on the name of an existing TUN device that nobody holds
  // attaches to it instead of creating one; if that device is persistent it
  // would outlive us and keep the routes. Refuse any existing name.
  if (if_nametoindex(name.c_str()) != 0) {
    return what +
           "an interface of that name exists already in this network namespace (another "
           "lb-dataplane with the same --liveness-iface, or a device left behind: "
           "ip link del " + name + ")";
  }
  const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      return what + "cannot open /dev/net/tun (" + errno_text(err) +
             "): the kernel's tun driver is missing (modprobe tun) or the device node is absent";
    }
    return what + "cannot open /dev/net/tun: " + errno_text(err);
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EPERM || err == EACCES) {
      return what + "cannot create the TUN device: " + errno_text(err) + " (needs CAP_NET_ADMIN)";
    }
    if (err == EBUSY || err == EINVAL || err == EEXIST) {
      return what + "cannot create the TUN device: " + errno_text(err) +
             " (an interface of that name appeared meanwhile?)";
    }
    return what + "TUNSETIFF failed: " + errno_text(err);
  }
  // Whatever happened between the check and TUNSETIFF, the device we hold
  // must be ours alone and go when we do.
  ifreq got{};
  if (::ioctl(fd, TUNGETIFF, &got) != 0) {
    const int err = errno;
    ::close(fd);
    return what + "TUNGETIFF failed: " + errno_text(err);
  }
  if ((got.ifr_flags & IFF_PERSIST) != 0 || std::strncmp(got.ifr_name, name.c_str(), IFNAMSIZ) != 0) {
    ::close(fd);
    return what + "the kernel attached an existing persistent device instead of creating one "
                  "(remove it: ip link del " + name + ")";
  }
  fd_ = fd;
  name_ = name;
  up_ = false;
  return {};
}

std::string LivenessIface::set_up() {
  std::string what = "--liveness-iface ";
  what += quoted(name_);
  what += ": ";
  if (fd_ < 0) return what + "not created";
  // Any socket serves for the interface ioctls; IPv4 may be absent, IPv6 too.
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) sock = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return what + "cannot open a socket to set the device up: " + errno_text(errno);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name_.data(), name_.size());
  std::string error;
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
    error = what + "SIOCGIFFLAGS failed: " + errno_text(errno);
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) {
      error = what + "cannot set the device up (SIOCSIFFLAGS): " + errno_text(errno);
    } else {
      up_ = true;
    }
  }
  ::close(sock);
  return error;
}

void LivenessIface::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    up_ = false;
  }
}

}  // namespace sluice::dp
