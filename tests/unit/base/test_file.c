// SPDX-License-Identifier: Apache-2.0
/* Files and secrets: atomic writes, key files created 0600, refusing
 * group-readable key files and oversized files, constant-time compare,
 * wiping, CSPRNG sanity. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <veil/base.h>

#include "vtest.h"

static char dir[] = "/tmp/veil-test-file-XXXXXX";

static void test_atomic_write_and_read(void)
{
    veil_err err = {0};
    char path[256];
    snprintf(path, sizeof path, "%s/sub/dir/data.bin", dir);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/sub/dir", dir);
    CHECK_EQ_INT(veil_mkdir_p(sub, 0700, &err), 0);
    CHECK_EQ_INT(veil_file_write_atomic(path, "hello", 5, 0644, &err), 0);
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0644);
    uint8_t *data;
    size_t len;
    CHECK_EQ_INT(veil_file_read(path, 100, &data, &len, &err), 0);
    CHECK_EQ_INT(len, 5);
    CHECK_EQ_STR((char *)data, "hello");
    free(data);
    /* Replacing keeps the old content until the new one is complete. */
    CHECK_EQ_INT(veil_file_write_atomic(path, "bye", 3, 0644, &err), 0);
    CHECK_EQ_INT(veil_file_read(path, 100, &data, &len, &err), 0);
    CHECK_EQ_INT(len, 3);
    free(data);
    CHECK_EQ_INT(veil_file_read(path, 2, &data, &len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK_EQ_INT(veil_file_read("/nonexistent/x", 2, &data, &len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    CHECK_EQ_INT(veil_file_read(dir, 100, &data, &len, &err), -1);
    CHECK_CONTAINS(err.msg, "not a regular file");
}

static void test_key_files(void)
{
    veil_err err = {0};
    char path[256];
    snprintf(path, sizeof path, "%s/node.key", dir);
    uint8_t key[32];
    veil_random_bytes(key, sizeof key);
    CHECK_EQ_INT(veil_key_file_write(path, key, sizeof key, &err), 0);
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    uint8_t *data;
    size_t len;
    CHECK_EQ_INT(veil_key_file_read(path, 64, &data, &len, &err), 0);
    CHECK_EQ_INT(len, 32);
    CHECK(veil_memeq_ct(data, key, 32));
    veil_memzero(data, len);
    free(data);
    chmod(path, 0640);
    CHECK_EQ_INT(veil_key_file_read(path, 64, &data, &len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    CHECK_CONTAINS(err.msg, "chmod 600");
}

static void test_secrets(void)
{
    uint8_t a[32], b[32];
    veil_random_bytes(a, sizeof a);
    memcpy(b, a, sizeof b);
    CHECK(veil_memeq_ct(a, b, sizeof a));
    b[31] ^= 1;
    CHECK(!veil_memeq_ct(a, b, sizeof a));
    veil_memzero(a, sizeof a);
    for (size_t i = 0; i < sizeof a; i++)
        CHECK_EQ_INT(a[i], 0);
    /* Two draws of 64 bits colliding would mean a broken generator. */
    CHECK(veil_random_u64() != veil_random_u64());
    for (int i = 0; i < 1000; i++)
        CHECK(veil_random_uniform(7) < 7);
}

static void setup(void)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_crypto_init(&err), 0);
    CHECK(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* A password file: one line, its newline dropped; too long is refused. */
static void test_secret_line(void)
{
    veil_err err = {0};
    char path[256], out[16];
    snprintf(path, sizeof path, "%s/password", dir);
    CHECK_EQ_INT(veil_file_write_atomic(path, "s3cret\r\n", 8, 0600, &err), 0);
    CHECK_EQ_INT(veil_secret_file_read_line(path, out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "s3cret");
    CHECK_EQ_INT(veil_secret_file_read_line(path, out, 8, &err), -1); /* 8 bytes + NUL */
    CHECK_EQ_INT(veil_file_write_atomic(path, "", 0, 0600, &err), 0);
    CHECK_EQ_INT(veil_secret_file_read_line(path, out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "");
}

VTEST_MAIN(VTEST(setup), VTEST(test_atomic_write_and_read), VTEST(test_key_files),
           VTEST(test_secrets), VTEST(test_secret_line), VTEST(teardown))
