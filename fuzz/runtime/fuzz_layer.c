// SPDX-License-Identifier: Apache-2.0
/* fuzz_layer.c - layer unpacking on arbitrary blob bytes (plain, gzip or
 * zstd tar): whatever the input, the unpack stays inside its destination
 * and within its 256 KiB budget, and a diff_id check never passes for
 * content that does not hash to it. Each input unpacks into a fresh
 * directory that is removed afterwards. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <veil/runtime.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void setup_once(void)
{
    if (root[0])
        return;
    snprintf(root, sizeof root, "/tmp/veil-fuzz-layer-XXXXXX");
    if (!mkdtemp(root))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    char blob[96], dest[96];
    snprintf(blob, sizeof blob, "%s/blob", root);
    snprintf(dest, sizeof dest, "%s/dest", root);
    FILE *f = fopen(blob, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size))
        abort();
    fclose(f);
    if (mkdir(dest, 0755) != 0)
        abort();
    /* a digest no input hashes to (all zeros): a success means the check was skipped */
    static const char zero_id[] =
        "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    struct veil_unpack_opts o = {.diff_id = zero_id, .max_bytes = 256 * 1024};
    struct veil_unpack_stats st;
    if (veil_layer_unpack(blob, dest, &o, &st, NULL) == 0)
        abort();
    if (st.bytes > o.max_bytes)
        abort();
    if (nftw(dest, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        abort();
    return 0;
}
