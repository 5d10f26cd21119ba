// Sequence-number bookkeeping for one direction of a TCP connection whose payload was
// lengthened or shortened in flight (the NAT FTP helper rewriting a 227 reply): bytes from
// `correction_pos` on are shifted by `offset_after`, earlier bytes by `offset_before`. The
// other direction's acknowledgements (and SACK blocks) are mapped back. All comparisons are
// modulo 2^32, so wrap-around of the sequence space is handled.
#pragma once

#include <cstdint>

namespace lb::dataplane {

inline bool seq_after(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) > 0;
}

struct SeqAdjust {
    std::uint32_t correction_pos = 0;
    std::int32_t offset_before = 0;
    std::int32_t offset_after = 0;
    bool active = false;

    // The sequence number to send for a segment the sender numbered `seq`.
    std::uint32_t map_seq(std::uint32_t seq) const {
        if (!active)
            return seq;
        return seq + static_cast<std::uint32_t>(seq_after(seq, correction_pos) ? offset_after
                                                                               : offset_before);
    }
    // The acknowledgement number to send to the sender for `ack` from its peer.
    std::uint32_t map_ack(std::uint32_t ack) const {
        if (!active)
            return ack;
        const bool later =
            seq_after(ack - static_cast<std::uint32_t>(offset_before), correction_pos);
        return ack - static_cast<std::uint32_t>(later ? offset_after : offset_before);
    }
    // The segment numbered `seq` had its payload length changed by `delta`. A retransmission of
    // a segment already accounted for (seq at or before the last correction) changes nothing.
    void record(std::uint32_t seq, std::int32_t delta) {
        if (delta == 0)
            return;
        if (active && !seq_after(seq, correction_pos))
            return;
        offset_before = offset_after;
        offset_after += delta;
        correction_pos = seq;
        active = true;
    }
};

} // namespace lb::dataplane
