// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the /proc/stat and /proc/meminfo parsers, the test-only
 * capacity override (with the format-2 latency keys) and the quantity parser
 * never crash on any text; an accepted override quantizes to words whose
 * latency fits the circuit's 12-bit field and that round-trip. */
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    uint64_t a, b;
    (void)veil_proc_stat_parse(text, &a, &b, NULL);
    (void)veil_meminfo_parse(text, &a, NULL);
    struct veil_telemetry_raw raw;
    if (veil_telemetry_test_override_parse(text, &raw, NULL) == 0) {
        struct veil_telemetry_q q, back;
        uint16_t words[VEIL_TELEMETRY_WORDS];
        veil_telemetry_quantize_free(&raw, &q);
        veil_telemetry_to_words(&q, words);
        veil_telemetry_from_words(words, &back);
        if (memcmp(&q, &back, sizeof q) != 0)
            abort();
        for (int s = 0; s < VEIL_LATENCY_SLOTS; s++)
            if (q.latency[s] >> VEIL_SCHED_LATENCY_BITS ||
                (raw.rtt_us[s] == 0) != (q.latency[s] == VEIL_LATENCY_UNKNOWN))
                abort();
    }
    (void)veil_quantity_parse(text, -3, &a, NULL);
    (void)veil_quantity_parse(text, 0, &a, NULL);
    free(text);
    return 0;
}
