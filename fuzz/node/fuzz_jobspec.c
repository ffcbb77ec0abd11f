// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the job spec parser never crashes or leaks, and any spec
 * it accepts has a canonical JSON form that parses back to itself. */
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_job_spec spec, again;
    if (veil_job_spec_parse(&spec, (const char *)data, size, "fuzz.yaml", NULL) != 0)
        return 0;
    char *canon = veil_job_spec_canonical_json(&spec, NULL);
    if (!canon)
        abort();
    if (veil_job_spec_parse(&again, canon, strlen(canon), "canonical", NULL) != 0)
        abort();
    char *canon2 = veil_job_spec_canonical_json(&again, NULL);
    if (!canon2 || strcmp(canon, canon2) != 0)
        abort();
    uint16_t req[VEIL_RES_COUNT];
    (void)veil_telemetry_quantize_request(&spec, req, NULL);
    free(canon);
    free(canon2);
    veil_job_spec_free(&spec);
    veil_job_spec_free(&again);
    return 0;
}
