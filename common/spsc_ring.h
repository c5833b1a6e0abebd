// Single-producer single-consumer ring of fixed-size records in memory that
// two processes share (DESIGN.md section 4). No locks, no allocation; the
// only synchronisation is the two 64-bit indices below, each written by one
// side only. Indices run freely (never wrap in practice: 2^64 records) and
// are reduced modulo the slot count, which must be a power of two.
//
// Threads: exactly one producer thread (push) and one consumer thread (pop)
// at a time, possibly in different processes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sluice {

static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "ring indices must be lock-free to be shared between processes");

struct alignas(64) SpscRingHeader {
  // Written by the producer only.
  alignas(64) std::atomic<uint64_t> head;
  // Written by the consumer only; on its own cache line so the two sides do
  // not invalidate each other's line on every record.
  alignas(64) std::atomic<uint64_t> tail;
  alignas(64) uint32_t slots;        // power of two
  uint32_t record_size;              // bytes per record
};

// A view of a ring laid out as SpscRingHeader followed by slots*record_size
// bytes. Cheap to copy; does not own the memory.
class SpscRing {
 public:
  SpscRing() = default;
  SpscRing(SpscRingHeader* header, uint8_t* records) : h_(header), records_(records) {}

  static size_t memory_size(uint32_t slots, uint32_t record_size) {
    return sizeof(SpscRingHeader) + size_t{slots} * record_size;
  }

  // Sets up an empty ring in `mem` (which must be 64-byte aligned and
  // memory_size() bytes). Only the creator calls this, before sharing.
  static SpscRing create(void* mem, uint32_t slots, uint32_t record_size) {
    auto* h = new (mem) SpscRingHeader{};
    h->head.store(0, std::memory_order_relaxed);
    h->tail.store(0, std::memory_order_relaxed);
    h->slots = slots;
    h->record_size = record_size;
    return SpscRing(h, static_cast<uint8_t*>(mem) + sizeof(SpscRingHeader));
  }

  // Attaches to a ring another process created.
  static SpscRing attach(void* mem) {
    auto* h = static_cast<SpscRingHeader*>(mem);
    return SpscRing(h, static_cast<uint8_t*>(mem) + sizeof(SpscRingHeader));
  }

  bool valid() const { return h_ != nullptr; }
  uint32_t slots() const { return h_->slots; }
  uint32_t record_size() const { return h_->record_size; }

  // Copies `len` (<= record_size) bytes in as one record. False if full.
  bool push(const void* record, size_t len) {
    const uint64_t head = h_->head.load(std::memory_order_relaxed);
    // Acquire: the consumer's reads of the slot we are about to reuse
    // happened before it advanced tail past it.
    const uint64_t tail = h_->tail.load(std::memory_order_acquire);
    if (head - tail >= h_->slots) return false;
    uint8_t* slot = records_ + (head & (h_->slots - 1)) * size_t{h_->record_size};
    std::memcpy(slot, record, len);
    if (len < h_->record_size) std::memset(slot + len, 0, h_->record_size - len);
    // Release: the record's bytes are visible before the consumer sees head.
    h_->head.store(head + 1, std::memory_order_release);
    return true;
  }

  // Copies the oldest record out (record_size bytes). False if empty.
  bool pop(void* record) {
    const uint64_t tail = h_->tail.load(std::memory_order_relaxed);
    // Acquire: pairs with push's release, so the record's bytes are here.
    const uint64_t head = h_->head.load(std::memory_order_acquire);
    if (tail == head) return false;
    const uint8_t* slot = records_ + (tail & (h_->slots - 1)) * size_t{h_->record_size};
    std::memcpy(record, slot, h_->record_size);
    // Release: our copy of the slot is done before the producer may reuse it.
    h_->tail.store(tail + 1, std::memory_order_release);
    return true;
  }

  uint64_t used() const {
    return h_->head.load(std::memory_order_acquire) - h_->tail.load(std::memory_order_acquire);
  }

 private:
  SpscRingHeader* h_ = nullptr;
  uint8_t* records_ = nullptr;
};

}  // namespace sluice
