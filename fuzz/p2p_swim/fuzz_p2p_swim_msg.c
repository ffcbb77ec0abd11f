// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_swim_msg.c - libFuzzer target for the /veil/swim/1.0.0 message
 * decoder (owned by the SWIM part of p2p). Decodes the input, walks every
 * member and update it lists, then feeds it to a SWIM state machine that
 * already knows a few members and runs its timers, so the membership rules
 * see arbitrary updates too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <veil/swim.h>

#include "swim_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fuzz_rng_state;
static uint64_t fuzz_rng(void *ctx)
{
    (void)ctx;
    fuzz_rng_state = fuzz_rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return fuzz_rng_state >> 11;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct swim_msg m;
    if (swim_msg_decode(&m, data, size, NULL) == 0) {
        struct swim_member_rec rec;
        struct swim_update u;
        size_t n = 0;
        while (swim_msg_next_member(&m, &rec))
            n += rec.id.len + rec.addr.len + rec.meta.len;
        while (swim_msg_next_update(&m, &u))
            n += u.id.len + u.from.len;
        (void)n;
    }

    fuzz_rng_state = 1;
    veil_swim *sw = veil_swim_new(NULL, (const uint8_t *)"self", 4, (const uint8_t *)"addr", 4,
                                  NULL, 0, fuzz_rng, NULL, 0, NULL);
    if (!sw)
        return 0;
    /* A known member "a" so alive/suspect/dead updates about it apply. */
    static const uint8_t known[] = {1, 5, 2, 1, 1, 'a', 0, 0, 0, 0, 0};
    veil_swim_handle(sw, (const uint8_t *)"a", 1, known, sizeof known, 0, NULL);
    veil_swim_handle(sw, (const uint8_t *)"a", 1, data, size, 10, NULL);
    veil_swim_handle(sw, (const uint8_t *)"b", 1, data, size, 20, NULL);
    for (uint64_t t = 0;
         t<60000; t = veil_swim_next_deadline(sw)> t ? veil_swim_next_deadline(sw) : t + 1)
        veil_swim_tick(sw, t);
    struct veil_swim_packet p;
    while (veil_swim_pop_packet(sw, &p))
        veil_swim_packet_clear(&p);
    struct veil_swim_event ev;
    while (veil_swim_pop_event(sw, &ev)) {
    }
    veil_swim_free(sw);
    return 0;
}
