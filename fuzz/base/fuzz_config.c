// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the YAML configuration loader never crashes or leaks on any input. */
#include <stdlib.h>
#include <string.h>

#include <veil/base.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_config cfg;
    if (veil_config_init(&cfg, veil_config_default_keys, veil_config_default_keys_len, NULL) != 0)
        return 0;
    (void)veil_config_load_yaml(&cfg, (const char *)data, size, "fuzz.yaml", NULL);
    veil_config_free(&cfg);
    return 0;
}
