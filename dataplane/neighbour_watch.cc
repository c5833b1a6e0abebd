#include "dataplane/neighbour_watch.h"
#include "common/errno_text.h"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/next_hop_mac.h"

namespace sluice::dp {

namespace {

uint64_t unix_now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

int af_of(const IpAddress& a) { return a.is_v4() ? AF_INET : AF_INET6; }
size_t addr_len(const IpAddress& a) { return a.is_v4() ? 4 : 16; }

// Appends one attribute to a request built in `buf` (nlmsg_len grows).
void add_attr(nlmsghdr* h, size_t cap, uint16_t type, const void* data, size_t len) {
  const size_t at = NLMSG_ALIGN(h->nlmsg_len);
  if (at + RTA_SPACE(len) > cap) return;  // our requests are fixed and fit
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<uint8_t*>(h) + at);
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
  h->nlmsg_len = static_cast<uint32_t>(at + RTA_SPACE(len));
}


std::string describe(const IpAddress& a) {
  std::string s = "next hop ";
  s += format_ip_address(a);
  return s;
}

}  // namespace

bool parse_neighbour_message(const void* msg, size_t len, NeighbourMessage& out) {
  if (len < NLMSG_LENGTH(sizeof(ndmsg))) return false;
  const auto* h = static_cast<const nlmsghdr*>(msg);
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ndmsg)) || h->nlmsg_len > len) return false;
  if (h->nlmsg_type != RTM_NEWNEIGH && h->nlmsg_type != RTM_DELNEIGH) return false;
  const auto* nd = static_cast<const ndmsg*>(NLMSG_DATA(h));
  if (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) return false;
  out = NeighbourMessage{};
  out.deleted = h->nlmsg_type == RTM_DELNEIGH;
  out.ifindex = nd->ndm_ifindex;
  out.state = nd->ndm_state;
  out.flags = nd->ndm_flags;
  const size_t want_addr = nd->ndm_family == AF_INET ? 4 : 16;
  bool have_dst = false;
  // The attributes follow the ndmsg, each length-checked against what is
  // left of this message (RTA_OK) before it is read.
  int left = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(ndmsg)));
  for (const auto* rta = reinterpret_cast<const rtattr*>(
           reinterpret_cast<const uint8_t*>(nd) + NLMSG_ALIGN(sizeof(ndmsg)));
       RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
    const size_t payload = RTA_PAYLOAD(rta);
    if (rta->rta_type == NDA_DST) {
      if (payload != want_addr) return false;
      out.address.family = want_addr == 4 ? 4 : 6;
      std::memcpy(out.address.bytes, RTA_DATA(rta), payload);
      have_dst = true;
    } else if (rta->rta_type == NDA_LLADDR) {
      // Only Ethernet addresses are ours to send to; other lengths (a
      // tunnel's, none) leave the entry without a usable MAC.
      if (payload == 6) {
        std::memcpy(out.lladdr, RTA_DATA(rta), 6);
        out.has_lladdr = true;
      }
    }
  }
  return have_dst;
}

bool neighbour_state_usable(uint16_t state) {
  return (state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT |
                   NUD_NOARP)) != 0;
}

uint64_t neighbour_packed_mac(const NeighbourMessage& m) {
  if (m.deleted || !m.has_lladdr || !neighbour_state_usable(m.state)) return 0;
  const uint8_t* a = m.lladdr;
  // An all-zero address (NOARP entries of some devices) is no station.
  if ((a[0] | a[1] | a[2] | a[3] | a[4] | a[5]) == 0) return 0;
  return pack_mac(m.lladdr);
}

bool neighbour_matches(const NeighbourMessage& m, const IpAddress& address, int ifindex) {
  return address.family != 0 && (m.flags & NTF_PROXY) == 0 && m.address == address &&
         (ifindex == 0 || m.ifindex == ifindex);
}

std::string neighbour_state_name(uint16_t state) {
  static const struct {
    uint16_t bit;
    const char* name;
  } kNames[] = {{NUD_INCOMPLETE, "INCOMPLETE"}, {NUD_REACHABLE, "REACHABLE"},
                {NUD_STALE, "STALE"},           {NUD_DELAY, "DELAY"},
                {NUD_PROBE, "PROBE"},           {NUD_FAILED, "FAILED"},
                {NUD_NOARP, "NOARP"},           {NUD_PERMANENT, "PERMANENT"}};
  std::string s;
  for (const auto& n : kNames) {
    if ((state & n.bit) == 0) continue;
    if (!s.empty()) s += '|';
    s += n.name;
  }
  return s.empty() ? "NONE" : s;
}

NeighbourWatch::~NeighbourWatch() {
  if (fd_ >= 0) ::close(fd_);
}

std::string NeighbourWatch::start(const IpAddress next_hop[2], NextHopMacs& macs,
                                  NextHopStatus status[2]) {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd_ < 0) return "--next-hop-ip: cannot open a netlink socket: " + errno_text(errno);
  // Room for a burst of events (a router failover changes every entry at
  // once); what does not fit is lost with ENOBUFS and made up by a dump.
  const int rcvbuf = 1 << 20;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // Strict checking of our requests, as iproute2 asks for: a request the
  // kernel cannot fully honour is refused rather than partly ignored.
  const int one = 1;
  ::setsockopt(fd_, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_NEIGH;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    return "--next-hop-ip: cannot subscribe to the kernel's neighbour events (RTNLGRP_NEIGH): " +
           errno_text(err);
  }
  const uint64_t now = monotonic_ns();
  for (int i = 0; i < 2; ++i) {
    Target& t = targets_[i];
    t.address = next_hop[i];
    t.worker_mac = &macs.packed[i];
    t.status = &status[i];
    if (t.address.family == 0) continue;
    lookup_route(t, now);
    t.next_ask_ns = now;  // ask at once if the dump does not know it
  }
  dump_wanted_ = true;
  send_dump();
  // The dump's answer before the workers start, so that a next hop the
  // kernel knows costs no packet at start. Bounded: 200 ms, then the main
  // loop goes on reading it.
  const uint64_t give_up = now + 200'000'000;
  while (dump_running_ && monotonic_ns() < give_up) {
    poll(monotonic_ns());
    if (dump_running_) ::usleep(1000);
  }
  return {};
}

bool NeighbourWatch::send_dump() {
  struct {
    nlmsghdr h;
    ndmsg nd;
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  req.h.nlmsg_type = RTM_GETNEIGH;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = ++seq_;
  req.nd.ndm_family = AF_UNSPEC;
  if (::send(fd_, &req, req.h.nlmsg_len, 0) < 0) {
    // Not sent (the socket's buffer full?): again in a second.
    next_dump_ns_ = monotonic_ns() + kAskUnknownNs;
    return false;
  }
  dump_wanted_ = false;
  dump_running_ = true;
  return true;
}

void NeighbourWatch::log_error(Target& t, const std::string& error) {
  if (error == t.last_error) return;
  t.last_error = error;
  if (!error.empty()) {
    std::fprintf(stderr, "lb-dataplane: %s: %s\n", describe(t.address).c_str(), error.c_str());
  }
}

// The interface the kernel would send to the next hop by: the neighbour
// entry that counts is the one on it, and NTF_USE needs a device. Asked on
// a socket of its own so the answer is not mixed with events; the kernel
// answers within the send, so the receive does not wait.
void NeighbourWatch::lookup_route(Target& t, uint64_t now_ns) {
  t.next_route_ns = now_ns + kAskUnknownNs;
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    log_error(t, "cannot open a netlink socket for the route lookup: " + errno_text(errno));
    return;
  }
  const timeval timeout{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  alignas(nlmsghdr) uint8_t buf[512] = {};
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  h->nlmsg_type = RTM_GETROUTE;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = 1;
  auto* rt = static_cast<rtmsg*>(NLMSG_DATA(h));
  rt->rtm_family = static_cast<uint8_t>(af_of(t.address));
  rt->rtm_dst_len = static_cast<uint8_t>(addr_len(t.address) * 8);
  add_attr(h, sizeof buf, RTA_DST, t.address.bytes, addr_len(t.address));
  std::string error;
  int oif = 0;
  bool via_gateway = false;
  if (::send(fd, buf, h->nlmsg_len, 0) < 0) {
    error = "route lookup failed: " + errno_text(errno);
  } else {
    alignas(nlmsghdr) uint8_t reply[8192];
    const ssize_t n = ::recv(fd, reply, sizeof reply, 0);
    if (n < 0) {
      error = "route lookup got no answer: " + errno_text(errno);
    } else {
      int left = static_cast<int>(n);
      for (auto* r = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(r, left);
           r = NLMSG_NEXT(r, left)) {
        if (r->nlmsg_type == NLMSG_ERROR) {
          const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(r));
          if (e->error != 0) error = "no route to it: " + errno_text(-e->error);
          break;
        }
        if (r->nlmsg_type != RTM_NEWROUTE || r->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) continue;
        const auto* got = static_cast<const rtmsg*>(NLMSG_DATA(r));
        int attrs = static_cast<int>(RTM_PAYLOAD(r));
        for (const rtattr* a = RTM_RTA(got); RTA_OK(a, attrs); a = RTA_NEXT(a, attrs)) {
          if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int)) {
            std::memcpy(&oif, RTA_DATA(a), sizeof(int));
          } else if (a->rta_type == RTA_GATEWAY) {
            via_gateway = true;
          }
        }
        break;
      }
    }
  }
  ::close(fd);
  if (error.empty() && oif == 0) error = "the kernel's route to it names no interface";
  t.on_link = error.empty() && !via_gateway;
  if (error.empty() && via_gateway) {
    // Its neighbour entry would never exist: the kernel would send to
    // another router. Logged and not solicited (an ARP for an address off
    // the subnet); the route is looked up again every second, and the
    // interface watched, in case the address becomes on-link.
    error = "is not on a directly connected network (the kernel routes it via a gateway): "
            "give the address of the router on the Sluice host's own subnet";
  }
  if (oif != 0 && oif != t.ifindex) {
    if (t.ifindex != 0) {
      // A MAC learned on the old interface says nothing about the new one.
      set_mac(t, 0, "route moved to another interface", now_ns);
    }
    t.ifindex = oif;
    char name[IF_NAMESIZE] = {};
    std::fprintf(stderr, "lb-dataplane: %s is reached through %s (ifindex %d)\n",
                 describe(t.address).c_str(),
                 if_indextoname(static_cast<unsigned>(oif), name) != nullptr ? name : "?", oif);
    dump_wanted_ = true;
  }
  log_error(t, error);
}

// Asks the kernel to resolve (or re-confirm) the next hop: RTM_NEWNEIGH
// with NTF_USE, as `ip neigh add ADDR dev IF use` does. The kernel treats it
// like a packet queued to the neighbour (neigh_event_send): an unknown or
// FAILED entry is created or set INCOMPLETE and solicited, a STALE one goes
// DELAY -> PROBE and is re-confirmed by unicast, a REACHABLE one is left
// alone. Chosen over sending a datagram through an ordinary socket because
// nothing reaches the router but the kernel's own ARP / neighbour
// solicitations (no stray packet to some port of the router, no ICMP back,
// no firewall rule to match), it names the interface (the one the route
// uses), and IPv4 and IPv6 work the same. It needs CAP_NET_ADMIN, which the
// dataplane has for its ports anyway.
void NeighbourWatch::ask(Target& t, uint64_t now_ns) {
  t.next_ask_ns = now_ns + (packed_mac_known(t.mac) ? kRefreshKnownNs : kAskUnknownNs);
  t.last_ask_ns = now_ns;
  if (!packed_mac_known(t.mac) || t.ifindex == 0) lookup_route(t, now_ns);
  if (t.ifindex == 0 || !t.on_link) return;
  alignas(nlmsghdr) uint8_t buf[128] = {};
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  h->nlmsg_type = RTM_NEWNEIGH;
  // CREATE: the entry may not exist (deleted, never made). No REPLACE: an
  // existing entry keeps its MAC; no ACK: only failures come back.
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE;
  h->nlmsg_seq = ++seq_;
  t.ask_seq = seq_;
  auto* nd = static_cast<ndmsg*>(NLMSG_DATA(h));
  nd->ndm_family = static_cast<uint8_t>(af_of(t.address));
  nd->ndm_ifindex = t.ifindex;
  nd->ndm_state = NUD_NONE;
  nd->ndm_flags = NTF_USE;
  add_attr(h, sizeof buf, NDA_DST, t.address.bytes, addr_len(t.address));
  if (::send(fd_, buf, h->nlmsg_len, 0) < 0 && errno != EAGAIN) {
    log_error(t, "cannot ask the kernel to resolve it: " + errno_text(errno));
  }
}

void NeighbourWatch::set_mac(Target& t, uint64_t packed, const char* why, uint64_t now_ns) {
  if (packed == t.mac) return;
  const bool was_known = packed_mac_known(t.mac);
  t.mac = packed;
  // Relaxed: the word is the whole MAC; the workers need nothing else
  // written before it, and load it at their next burst.
  t.worker_mac->store(packed, std::memory_order_relaxed);
  t.status->mac.store(packed, std::memory_order_relaxed);
  t.status->changed_unix_ns.store(unix_now_ns(), std::memory_order_relaxed);
  t.status->changes.fetch_add(1, std::memory_order_relaxed);
  if (packed_mac_known(packed)) {
    uint8_t mac[6];
    unpack_mac(packed, mac);
    std::fprintf(stderr, "lb-dataplane: %s is %s (%s)\n", describe(t.address).c_str(),
                 format_mac_address(mac).c_str(), why);
    t.last_error.clear();
  } else {
    std::fprintf(stderr,
                 "lb-dataplane: %s is unresolved (%s): its family's packets are dropped "
                 "(drop_no_neighbour) until the kernel resolves it\n",
                 describe(t.address).c_str(), why);
    // Ask again at once, but never more than once a second, however
    // often the entry flaps.
    if (was_known) {
      const uint64_t soonest = t.last_ask_ns == 0 ? now_ns : t.last_ask_ns + kAskUnknownNs;
      const uint64_t due = soonest > now_ns ? soonest : now_ns;
      if (due < t.next_ask_ns) t.next_ask_ns = due;
    }
  }
}

void NeighbourWatch::apply(const NeighbourMessage& m, uint64_t now_ns) {
  for (Target& t : targets_) {
    if (!neighbour_matches(m, t.address, t.ifindex)) continue;
    const std::string state = m.deleted ? std::string("deleted") : neighbour_state_name(m.state);
    set_mac(t, neighbour_packed_mac(m), state.c_str(), now_ns);
  }
}

bool NeighbourWatch::poll(uint64_t now_ns) {
  if (fd_ < 0) return false;
  bool worked = false;
  // Bounded per pass so the control channel is never kept waiting.
  alignas(nlmsghdr) static uint8_t buf[65536];
  for (int i = 0; i < 16; ++i) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == ENOBUFS) {
        // Events were lost: the table as it is now comes from a dump.
        dump_wanted_ = true;
        dump_running_ = false;
        worked = true;
        continue;
      }
      break;  // EAGAIN: nothing more now (other errors: next pass)
    }
    worked = true;
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        dump_running_ = false;
        dump_refused_ = false;
      } else if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) continue;
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (e->error == 0) continue;
        if (e->msg.nlmsg_type == RTM_GETNEIGH) {
          // Refused: asked again, but not before a second has passed (a
          // kernel that always refuses must not get a dump every pass).
          dump_running_ = false;
          dump_wanted_ = true;
          next_dump_ns_ = now_ns + kAskUnknownNs;
          if (!dump_refused_) {
            std::fprintf(stderr, "lb-dataplane: the kernel refused the neighbour dump: %s "
                                 "(retrying once a second; events still arrive)\n",
                         errno_text(-e->error).c_str());
          }
          dump_refused_ = true;
        } else {
          for (Target& t : targets_) {
            if (t.address.family != 0 && e->msg.nlmsg_seq == t.ask_seq) {
              log_error(t, "the kernel refused to resolve it (RTM_NEWNEIGH NTF_USE): " +
                               errno_text(-e->error));
            }
          }
        }
      } else {
        NeighbourMessage m;
        if (parse_neighbour_message(h, h->nlmsg_len, m)) apply(m, now_ns);
      }
    }
  }
  if (dump_wanted_ && !dump_running_ && now_ns >= next_dump_ns_) worked |= send_dump();
  for (Target& t : targets_) {
    if (t.address.family == 0) continue;
    if (now_ns >= t.next_ask_ns) {
      ask(t, now_ns);
      worked = true;
    } else if (t.ifindex == 0 && now_ns >= t.next_route_ns) {
      lookup_route(t, now_ns);
    }
  }
  return worked;
}

}  // namespace sluice::dp
