// SPDX-License-Identifier: Apache-2.0
/*
 * test_manifest.c - OCI/Docker manifest, index and image config parsing,
 * platform selection, and rejection of malformed documents.
 */
#include <string.h>

#include <veil/runtime.h>

#include "vtest.h"

#define D(c)                                                                                       \
    "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
        c c c c c c c c c c c c c c c c c c c c c c

static const char oci_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D(
        "a") "\",\"size\":123},\"layers\":[{\"mediaType\":\"application/"
             "vnd.oci.image.layer.v1.tar+gzip\","
             "\"digest\":\"" D(
                 "b") "\",\"size\":1000},{\"mediaType\":"
                      "\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D(
                          "c") "\",\"size\":5}]}";

static const char docker_list[] =
    "{\"schemaVersion\":2,\"mediaType\":"
    "\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":["
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" D(
        "1") "\",\"size\":10,\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":"
             "\"v7\"}},"
             "{\"mediaType\":\"application/"
             "vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" D(
                 "2") "\",\"size\":11,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
                      "{\"mediaType\":\"application/"
                      "vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" D(
                          "3") "\",\"size\":12,\"platform\":{\"architecture\":\"amd64\",\"os\":"
                               "\"linux\"}},"
                               "{\"mediaType\":\"application/"
                               "vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" D(
                                   "4") "\",\"size\":13,\"platform\":{\"architecture\":\"amd64\","
                                        "\"os\":\"windows\"}}]}";

static void test_image_manifest(void)
{
    struct veil_manifest m;
    veil_err err = {0};
    CHECK_EQ_INT(veil_manifest_parse(oci_manifest, strlen(oci_manifest), NULL, &m, &err), 0);
    CHECK_EQ_INT(m.kind, VEIL_MANIFEST_IMAGE);
    CHECK_EQ_STR(m.config.digest, D("a"));
    CHECK_EQ_INT(m.config.size, 123);
    CHECK_EQ_INT(m.n_items, 2);
    CHECK_EQ_STR(m.items[1].media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
    CHECK_EQ_INT(m.items[0].size, 1000);
    veil_manifest_free(&m);
}

static void test_index_select(void)
{
    struct veil_manifest m;
    veil_err err = {0};
    CHECK_EQ_INT(veil_manifest_parse(docker_list, strlen(docker_list), NULL, &m, &err), 0);
    CHECK_EQ_INT(m.kind, VEIL_MANIFEST_INDEX);
    CHECK_EQ_INT(m.n_items, 4);
    size_t pos = 99;
    CHECK_EQ_INT(veil_manifest_select(&m, "linux", "amd64", NULL, &pos, &err), 0);
    CHECK_EQ_INT(pos, 2);
    CHECK_EQ_INT(veil_manifest_select(&m, "linux", "arm", "v7", &pos, &err), 0);
    CHECK_EQ_INT(pos, 0);
    CHECK_EQ_INT(veil_manifest_select(&m, "linux", "arm", "v6", &pos, &err), -1);
    CHECK_EQ_INT(veil_manifest_select(&m, "linux", "s390x", NULL, &pos, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    veil_manifest_free(&m);
}

static void test_media_type_from_header(void)
{
    /* No mediaType field: the Content-Type header decides. */
    const char doc[] = "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D(
        "5") "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
    struct veil_manifest m;
    CHECK_EQ_INT(veil_manifest_parse(doc, strlen(doc),
                                     "application/vnd.oci.image.index.v1+json; charset=utf-8", &m,
                                     NULL),
                 0);
    CHECK_EQ_STR(m.media_type, VEIL_MT_OCI_INDEX);
    veil_manifest_free(&m);
}

static void test_manifest_invalid(void)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"schemaVersion\":1,\"layers\":[]}",
        "{\"schemaVersion\":2}",
        "{\"schemaVersion\":2,\"layers\":[],\"manifests\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D("a") "\",\"size\":1},\"layers\":{}}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:xyz\",\"size\":1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D("a") "\",\"size\":-1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D("a") "\"},\"layers\":[]}",
        "{\"schemaVersion\":2,\"manifests\":[]}",
        "{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"config\":{\"digest\":\"" D(
            "a") "\",\"size\":1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D(
            "a") "\",\"size\":1,\"platform\":\"linux\"}]}",
        "{\"schemaVersion\":2,\"schemaVersion\":2,\"layers\":[]}",
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        struct veil_manifest m;
        veil_err err = {0};
        int rc = veil_manifest_parse(bad[i], strlen(bad[i]), NULL, &m, &err);
        CHECK_EQ_INT(rc, -1);
        if (rc == 0) {
            fprintf(stderr, "  accepted bad manifest #%zu\n", i);
            veil_manifest_free(&m);
        }
        CHECK(err.msg[0] != '\0');
    }
}

static void test_image_config(void)
{
    const char cfg[] =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\",\"A=1\"],"
        "\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],\"WorkingDir\":\"/srv\","
        "\"User\":\"nobody\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D("d") "\"]}}";
    struct veil_image_config c;
    veil_err err = {0};
    CHECK_EQ_INT(veil_image_config_parse(cfg, strlen(cfg), &c, &err), 0);
    CHECK_EQ_INT(c.n_env, 2);
    CHECK_EQ_STR(c.env[1], "A=1");
    CHECK_EQ_INT(c.n_entrypoint, 2);
    CHECK_EQ_STR(c.cmd[0], "echo hi");
    CHECK_EQ_STR(c.working_dir, "/srv");
    CHECK_EQ_STR(c.user, "nobody");
    CHECK_EQ_STR(c.arch, "amd64");
    CHECK_EQ_INT(c.n_diff_ids, 1);
    veil_image_config_free(&c);

    const char nulls[] = "{\"config\":{\"Env\":null,\"Cmd\":null}}";
    CHECK_EQ_INT(veil_image_config_parse(nulls, strlen(nulls), &c, &err), 0);
    CHECK_EQ_INT(c.n_cmd, 0);
    veil_image_config_free(&c);
    const char bad[] = "{\"config\":{\"Env\":[1]}}";
    CHECK_EQ_INT(veil_image_config_parse(bad, strlen(bad), &c, &err), -1);
    CHECK_EQ_INT(veil_image_config_parse("x", 1, &c, &err), -1);
}

VTEST_MAIN(VTEST(test_image_manifest), VTEST(test_index_select), VTEST(test_media_type_from_header),
           VTEST(test_manifest_invalid), VTEST(test_image_config))
