// A test hook for the control channel (lb-dataplane --test-channel-exception
// N, documented under "Testing" in --help): the Nth committed transaction
// throws inside ControlChannel::poll, where an allocation failure while
// assembling would, so a test can show that the transaction is refused and
// counted while forwarding goes on. Set once at start, before the channel
// polls; read and counted on the main lcore only. Never for production.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sluice::dp {

struct ChannelTestHook {
  uint64_t throw_at_commit = 0;  // 0: never
  uint64_t commits = 0;
};

inline ChannelTestHook g_channel_test_hook;

// Called by ControlChannel::poll for each committed transaction.
inline void channel_test_hook_on_commit() {
  ChannelTestHook& h = g_channel_test_hook;
  if (h.throw_at_commit == 0) return;
  if (++h.commits == h.throw_at_commit) {
    throw std::runtime_error("exception injected into the control channel's poll by "
                             "--test-channel-exception " + std::to_string(h.throw_at_commit));
  }
}

}  // namespace sluice::dp
