// SPDX-License-Identifier: Apache-2.0
/* fuzz_manifest.c - manifest/index and image config parsers on registry
 * bytes; every accepted descriptor has a well-formed digest. */
#include <stdlib.h>

#include <veil/runtime.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_manifest m;
    if (veil_manifest_parse(data, size, "application/vnd.oci.image.index.v1+json", &m, NULL) == 0) {
        for (size_t i = 0; i < m.n_items; i++)
            if (veil_digest_check(m.items[i].digest, NULL) != 0 || m.items[i].size < 0)
                abort();
        size_t pos;
        if (m.kind == VEIL_MANIFEST_INDEX &&
            veil_manifest_select(&m, "linux", "amd64", NULL, &pos, NULL) == 0 && pos >= m.n_items)
            abort();
        veil_manifest_free(&m);
    }
    struct veil_image_config cfg;
    if (veil_image_config_parse(data, size, &cfg, NULL) == 0)
        veil_image_config_free(&cfg);
    return 0;
}
