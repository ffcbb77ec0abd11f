// SPDX-License-Identifier: Apache-2.0
/* fuzz_image_ref.c - image reference parser: no crash, and anything
 * accepted formats to a reference that parses back to the same parts. */
#include <stdlib.h>
#include <string.h>

#include <veil/runtime.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2048)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct veil_image_ref ref, again;
    if (veil_image_ref_parse(text, &ref, NULL) == 0) {
        char canon[1024];
        veil_image_ref_format(&ref, canon, sizeof canon);
        if (veil_image_ref_parse(canon, &again, NULL) != 0 ||
            strcmp(ref.registry, again.registry) != 0 ||
            strcmp(ref.repository, again.repository) != 0 || strcmp(ref.tag, again.tag) != 0 ||
            strcmp(ref.digest, again.digest) != 0)
            abort();
    }
    free(text);
    return 0;
}
