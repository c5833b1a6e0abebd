// A stand-in for lb-dataplane's control channel, for control-plane tests
// without DPDK: creates the instance's segment, beats the heartbeat, and
// answers transactions from a thread as told (acknowledge, refuse, stay
// silent, stop reading the ring, or stop altogether). Records every
// committed config.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/config_digest.h"
#include "common/control_segment.h"

namespace sluice::test {

class FakeDataplane {
 public:
  enum class Mode {
    kAck,     // acknowledge every commit
    kRefuse,  // refuse every commit with a message
    kSilent,  // read the ring, never acknowledge
    kStuck,   // beat the heartbeat, never read the ring
    kDead,    // no heartbeat, nothing read (a kill -9 that left the segment)
  };

  explicit FakeDataplane(const std::string& instance, SegmentParams params = small_params()) {
    std::string error;
    segment_ = ControlSegment::create(instance, params, error);
    if (!segment_) throw std::runtime_error(error);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeDataplane() {
    stop_.store(true);
    thread_.join();
    segment_->unlink();
  }

  static SegmentParams small_params() {
    SegmentParams p;
    p.hash_seed = 0x1234;
    p.max_vips = 64;
    p.max_backend_id = 1024;
    p.cmd_slots = 256;
    p.event_slots = 16;
    return p;
  }

  void set_mode(Mode m) { mode_.store(m); }
  uint64_t boot_id() const { return segment_->header().boot_id; }
  ControlSegment& segment() { return *segment_; }

  std::vector<TableConfig> applied() {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_;
  }
  size_t commits() {
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }

 private:
  void run() {
    TransactionAssembler assembler;
    uint64_t generation = 0;
    while (!stop_.load()) {
      const Mode mode = mode_.load();
      if (mode != Mode::kDead) {
        segment_->header().heartbeat_ns.store(monotonic_ns(), std::memory_order_release);
      }
      bool worked = false;
      Record r;
      while (mode != Mode::kDead && mode != Mode::kStuck && segment_->commands().pop(r.data())) {
        worked = true;
        const auto result = assembler.feed(r);
        if (result == TransactionAssembler::Result::kPending) continue;
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++commits_;
        }
        AckMsg ack{};
        ack.h = {MsgType::kAck, 0, assembler.txn_id()};
        if (result == TransactionAssembler::Result::kCommitted && mode == Mode::kAck) {
          std::lock_guard<std::mutex> lock(mu_);
          const TableConfig before = current_;
          const std::string error = apply_delta(current_, assembler.take());
          if (!error.empty()) throw std::logic_error("fake dataplane: " + error);
          applied_.push_back(current_);
          // The applied-configuration mirror, rewritten whole (a real
          // dataplane rewrites only the changed VIPs).
          std::vector<std::pair<const VipConfig*, const VipConfig*>> changed;
          for (const VipConfig& v : before.vips) changed.emplace_back(&v, nullptr);
          for (const VipConfig& v : current_.vips) changed.emplace_back(nullptr, &v);
          segment_->write_applied(changed);
          segment_->header().applied_digest.store(config_digest(current_),
                                                  std::memory_order_release);
          ack.ok = 1;
          ack.generation = ++generation;
          segment_->header().applied_generation.store(generation, std::memory_order_release);
        } else {
          const std::string msg = "refused by the fake dataplane";
          ack.generation = generation;
          ack.error_len = static_cast<uint32_t>(msg.size());
          std::memcpy(ack.error, msg.data(), msg.size());
        }
        if (mode == Mode::kSilent) continue;
        Record out{};
        std::memcpy(out.data(), &ack, sizeof ack);
        while (!segment_->events().push(out.data(), out.size()) && !stop_.load()) {
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
      }
      if (!worked) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  std::unique_ptr<ControlSegment> segment_;
  std::atomic<Mode> mode_{Mode::kAck};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<TableConfig> applied_;  // the configuration after each commit
  TableConfig current_;
  size_t commits_ = 0;
  std::thread thread_;
};

}  // namespace sluice::test
