// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_replay.c - the transport's sliding replay window (the bitmap
 * scheme of RFC 6479, as WireGuard uses it): 8192 bits in 64-bit words, of
 * which the 8128 counters below the greatest one seen are acceptable; words
 * the window slides past are cleared on the way.
 */
#include "anchor_int.h"

#define WORDS (ANCHOR_REPLAY_BITS / 64)

bool anchor_replay_check(const struct anchor_replay *w, uint64_t counter)
{
    if (counter > w->top)
        return true;
    if (w->top - counter >= VEIL_ANCHOR_REPLAY_WINDOW)
        return false;
    uint64_t word = w->words[(counter / 64) % WORDS];
    return ((word >> (counter % 64)) & 1u) == 0;
}

void anchor_replay_update(struct anchor_replay *w, uint64_t counter)
{
    if (counter > w->top) {
        uint64_t cur = w->top / 64, next = counter / 64;
        uint64_t diff = next - cur > WORDS ? WORDS : next - cur;
        for (uint64_t i = 1; i <= diff; i++)
            w->words[(cur + i) % WORDS] = 0;
        w->top = counter;
    }
    w->words[(counter / 64) % WORDS] |= 1ull << (counter % 64);
}

_Static_assert(VEIL_ANCHOR_REPLAY_WINDOW == ANCHOR_REPLAY_BITS - 64, "replay window size");
