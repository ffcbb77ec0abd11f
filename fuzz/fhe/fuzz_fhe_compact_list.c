// SPDX-License-Identifier: Apache-2.0
/* fuzz_fhe_compact_list.c - libFuzzer target for veil_fhe_compact_list_load and expansion
 * (serialize.c, keys.c). */
#include "fuzz_fhe_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_one(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    struct veil_fhe_compact_list *list = NULL;
    if (veil_fhe_compact_list_load(data, size, NULL, &list, &err) == 0) {
        struct veil_shortint_ct ct;
        if (veil_shortint_ct_init(&ct, list->params, &err) == 0) {
            (void)veil_fhe_compact_list_expand(list, list->count - 1, &ct, &err);
            veil_shortint_ct_free(&ct);
        }
        veil_fhe_compact_list_free(list);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fhe_run(data, size, load_one);
    return 0;
}
