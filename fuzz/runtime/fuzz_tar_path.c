// SPDX-License-Identifier: Apache-2.0
/* fuzz_tar_path.c - the tar entry path sanitizer: whatever it accepts is
 * relative, has no "." or ".." component and no empty component. */
#include <stdlib.h>
#include <string.h>

#include <veil/runtime.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char out[4096];
    if (veil_tar_path_clean(in, out, sizeof out, NULL) == 0) {
        size_t n = strlen(out);
        if (n && (out[0] == '/' || out[n - 1] == '/'))
            abort();
        for (const char *p = out; *p;) {
            const char *slash = strchr(p, '/');
            size_t c = slash ? (size_t)(slash - p) : strlen(p);
            if (c == 0 || (c == 1 && p[0] == '.') || (c == 2 && p[0] == '.' && p[1] == '.'))
                abort();
            p += c + (slash ? 1 : 0);
        }
    }
    free(in);
    return 0;
}
