// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the /proc/stat and /proc/meminfo parsers, the test-only
 * capacity override and the quantity parser never crash on any text. */
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
        struct veil_telemetry_q q;
        veil_telemetry_quantize_free(&raw, &q);
    }
    (void)veil_quantity_parse(text, -3, &a, NULL);
    (void)veil_quantity_parse(text, 0, &a, NULL);
    free(text);
    return 0;
}
