// SPDX-License-Identifier: Apache-2.0
/*
 * test_layer_budget.c - image layers checked against their diff_id and
 * unpacked within a budget: layers crafted here (a tar built with libarchive,
 * then compressed as a raw gzip or zstd stream) with the right diff_id
 * unpack; a wrong diff_id is refused with VEIL_E_MISMATCH; a decompression
 * bomb (32 MiB of zeros in a few KiB) is refused at a 1 MiB budget with
 * VEIL_E_LIMIT and leaves at most the budget on disk.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <veil/runtime.h>

#include "vtest.h"

static char tmp_root[64];

static void write_file(struct archive *a, const char *name, size_t i, size_t size, int fill);

/* A plain tar with `count` regular files of `size` bytes each, filled with
 * one byte value. */
static void write_tar(const char *path, const char *name, size_t count, size_t size, int fill)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    CHECK_EQ_INT(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < count; i++)
        write_file(a, name, i, size, fill);
    archive_write_close(a);
    archive_write_free(a);
}

static void write_file(struct archive *a, const char *name, size_t i, size_t size, int fill)
{
    struct archive_entry *e = archive_entry_new();
    char path[128];
    snprintf(path, sizeof path, "%s-%zu", name, i);
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_size(e, (la_int64_t)size);
    CHECK_EQ_INT(archive_write_header(a, e), ARCHIVE_OK);
    static char chunk[1 << 16];
    memset(chunk, fill, sizeof chunk);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof chunk ? size - done : sizeof chunk;
        CHECK_EQ_INT(archive_write_data(a, chunk, n), (la_ssize_t)n);
        done += n;
    }
    archive_entry_free(e);
}

/* Compresses a whole file as one raw gzip or zstd stream (a layer blob). */
static void compress_file(const char *in, const char *out, const char *filter)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_raw(a);
    if (strcmp(filter, "gzip") == 0)
        archive_write_add_filter_gzip(a);
    else
        archive_write_add_filter_zstd(a);
    CHECK_EQ_INT(archive_write_open_filename(a, out), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "layer");
    archive_entry_set_filetype(e, AE_IFREG);
    CHECK_EQ_INT(archive_write_header(a, e), ARCHIVE_OK);
    int fd = open(in, O_RDONLY);
    CHECK(fd >= 0);
    static char buf[1 << 16];
    ssize_t n;
    while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
        CHECK_EQ_INT(archive_write_data(a, buf, (size_t)n), n);
    if (fd >= 0)
        close(fd);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

static void file_digest(const char *path, char out[VEIL_DIGEST_BUFLEN])
{
    uint8_t *data = NULL;
    size_t len = 0;
    veil_err err = {0};
    CHECK_EQ_INT(veil_file_read(path, 64u << 20, &data, &len, &err), 0);
    veil_digest_of(data, len, out);
    free(data);
}

/* Bytes allocated on disk below a directory (one level is enough here). */
static unsigned long long disk_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned long long total = 0;
    struct dirent *de;
    int dfd = dirfd(d);
    while ((de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] != '.' && fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            total += (unsigned long long)st.st_blocks * 512;
    }
    closedir(d);
    return total;
}

static void make_dest(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmp_root, name);
    CHECK_EQ_INT(mkdir(out, 0755), 0);
}

static void check_diff_id(const char *filter)
{
    char tar[128], blob[128], dest[128], diff_id[VEIL_DIGEST_BUFLEN];
    snprintf(tar, sizeof tar, "%s/small-%s.tar", tmp_root, filter);
    snprintf(blob, sizeof blob, "%s/small-%s.blob", tmp_root, filter);
    write_tar(tar, "etc/data", 3, 100000, 'x');
    compress_file(tar, blob, filter);
    file_digest(tar, diff_id);

    veil_err err = {0};
    struct veil_unpack_opts good = {.diff_id = diff_id};
    char name[64];
    snprintf(name, sizeof name, "good-%s", filter);
    make_dest(dest, sizeof dest, name);
    int rc = veil_layer_unpack(blob, dest, &good, NULL, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  %s: %s\n", filter, err.msg);

    /* The same layer under another image's diff_id (one digit changed). */
    char wrong[VEIL_DIGEST_BUFLEN];
    snprintf(wrong, sizeof wrong, "%s", diff_id);
    wrong[7] = wrong[7] == '0' ? '1' : '0';
    struct veil_unpack_opts bad = {.diff_id = wrong};
    snprintf(name, sizeof name, "wrong-%s", filter);
    make_dest(dest, sizeof dest, name);
    err = (veil_err){0};
    CHECK_EQ_INT(veil_layer_unpack(blob, dest, &bad, NULL, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_MISMATCH);
    CHECK(strstr(err.msg, "diff_id") != NULL);
    CHECK(strstr(err.msg, diff_id) != NULL); /* names what the content really is */
}

static void test_diff_id_gzip(void)
{
    check_diff_id("gzip");
}

static void test_diff_id_zstd(void)
{
    check_diff_id("zstd");
}

/* 32 MiB of zeros as `count` files: one huge file (refused by its declared
 * size) or many files each under the budget (refused by the stream count). */
static void check_bomb(const char *filter, size_t count)
{
    char tar[128], blob[128], dest[128];
    snprintf(tar, sizeof tar, "%s/bomb-%s-%zu.tar", tmp_root, filter, count);
    snprintf(blob, sizeof blob, "%s/bomb-%s-%zu.blob", tmp_root, filter, count);
    write_tar(tar, "zeros", count, (32u << 20) / count, 0);
    compress_file(tar, blob, filter);
    unlink(tar);
    struct stat st;
    CHECK_EQ_INT(stat(blob, &st), 0);
    CHECK(st.st_size < (1 << 20)); /* a bomb: the blob is far below the budget */

    char name[64];
    snprintf(name, sizeof name, "bomb-%s-%zu", filter, count);
    make_dest(dest, sizeof dest, name);
    struct veil_unpack_opts budget = {.max_bytes = 1u << 20};
    veil_err err = {0};
    CHECK_EQ_INT(veil_layer_unpack(blob, dest, &budget, NULL, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK(strstr(err.msg, "budget") != NULL);
    fprintf(stderr, "  %s bomb: %s\n", filter, err.msg);
    CHECK(disk_bytes(dest) <= (1u << 20));

    /* Within a budget large enough the same layer unpacks. */
    snprintf(name, sizeof name, "bomb-ok-%s-%zu", filter, count);
    make_dest(dest, sizeof dest, name);
    struct veil_unpack_opts roomy = {.max_bytes = 40u << 20};
    CHECK_EQ_INT(veil_layer_unpack(blob, dest, &roomy, NULL, &err), 0);
}

static void test_bomb_gzip(void)
{
    check_bomb("gzip", 1);
    check_bomb("gzip", 64);
}

static void test_bomb_zstd(void)
{
    check_bomb("zstd", 1);
    check_bomb("zstd", 64);
}

static void setup(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/veil-layer-budget-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", tmp_root);
}

VTEST_MAIN(VTEST(setup), VTEST(test_diff_id_gzip), VTEST(test_diff_id_zstd),
           VTEST(test_bomb_gzip), VTEST(test_bomb_zstd), VTEST(teardown))
