// SPDX-License-Identifier: Apache-2.0
/*
 * test_ref.c - image reference parsing (Docker's normalisation rules) and
 * sha256 digest checks.
 */
#include <string.h>

#include <veil/runtime.h>

#include "vtest.h"

static void expect_ref(const char *text, const char *reg, const char *repo, const char *tag,
                       const char *digest)
{
    struct veil_image_ref r;
    veil_err err = {0};
    int rc = veil_image_ref_parse(text, &r, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "  %s: %s\n", text, err.msg);
        return;
    }
    CHECK_EQ_STR(r.registry, reg);
    CHECK_EQ_STR(r.repository, repo);
    CHECK_EQ_STR(r.tag, tag);
    CHECK_EQ_STR(r.digest, digest);
}

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_ref_defaults(void)
{
    expect_ref("busybox", "docker.io", "library/busybox", "latest", "");
    expect_ref("busybox:1.36", "docker.io", "library/busybox", "1.36", "");
    expect_ref("user/app", "docker.io", "user/app", "latest", "");
    expect_ref("docker.io/busybox", "docker.io", "library/busybox", "latest", "");
    expect_ref("index.docker.io/library/busybox:1", "docker.io", "library/busybox", "1", "");
    expect_ref("127.0.0.1:5000/busybox:1", "127.0.0.1:5000", "busybox", "1", "");
    expect_ref("localhost/a/b/c", "localhost", "a/b/c", "latest", "");
    expect_ref("ghcr.io/o/r@sha256:" D64, "ghcr.io", "o/r", "", "sha256:" D64);
    expect_ref("ghcr.io/o/r:v1@sha256:" D64, "ghcr.io", "o/r", "v1", "sha256:" D64);
    expect_ref("my-reg.example.com:443/a_b/c__d/e-f--g.h:T_1.0-x", "my-reg.example.com:443",
               "a_b/c__d/e-f--g.h", "T_1.0-x", "");
    expect_ref("[::1]:5000/x", "[::1]:5000", "x", "latest", "");
}

static void test_ref_invalid(void)
{
    static const char *const bad[] = {
        "",
        "UPPER/case",
        "busybox:",
        "busybox:-tag",
        "a//b",
        "/abs",
        "name/",
        "a..b",
        "a_-b",
        "host:99999/x",
        "host:0/x",
        "busybox@sha256:abc",
        "busybox@md5:" D64,
        "busybox@sha256:" D64 "@sha256:" D64,
        "busy box",
        "busybox:"
        "0123456789012345678901234567890123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789012345678901234567890123456789",
        "-host.com/x",
        "bad\x01char",
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        struct veil_image_ref r;
        veil_err err = {0};
        int rc = veil_image_ref_parse(bad[i], &r, &err);
        CHECK_EQ_INT(rc, -1);
        if (rc == 0)
            fprintf(stderr, "  accepted bad reference '%s'\n", bad[i]);
        CHECK(err.msg[0] != '\0');
    }
}

static void test_ref_format(void)
{
    struct veil_image_ref r;
    char out[700];
    CHECK_EQ_INT(veil_image_ref_parse("busybox", &r, NULL), 0);
    veil_image_ref_format(&r, out, sizeof out);
    CHECK_EQ_STR(out, "docker.io/library/busybox:latest");
    CHECK_EQ_STR(veil_image_ref_api_host(&r), "registry-1.docker.io");
    CHECK_EQ_INT(veil_image_ref_parse("127.0.0.1:5000/x@sha256:" D64, &r, NULL), 0);
    veil_image_ref_format(&r, out, sizeof out);
    CHECK_EQ_STR(out, "127.0.0.1:5000/x@sha256:" D64);
    CHECK_EQ_STR(veil_image_ref_api_host(&r), "127.0.0.1:5000");
}

static void test_digest(void)
{
    char d[VEIL_DIGEST_BUFLEN];
    veil_digest_of("abc", 3, d);
    /* FIPS 180-2 appendix B.1 */
    CHECK_EQ_STR(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    veil_err err = {0};
    CHECK_EQ_INT(veil_digest_verify(d, "abc", 3, &err), 0);
    CHECK_EQ_INT(veil_digest_verify(d, "abd", 3, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_MISMATCH);
    CHECK_EQ_INT(veil_digest_check("sha256:" D64, NULL), 0);
    CHECK_EQ_INT(veil_digest_check("sha256:" D64 "0", NULL), -1);
    CHECK_EQ_INT(
        veil_digest_check("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                          NULL),
        -1);
    CHECK_EQ_INT(veil_digest_check("sha512:" D64, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_UNSUPPORTED);
    CHECK_EQ_INT(veil_digest_check(NULL, NULL), -1);
}

VTEST_MAIN(VTEST(test_ref_defaults), VTEST(test_ref_invalid), VTEST(test_ref_format),
           VTEST(test_digest))
