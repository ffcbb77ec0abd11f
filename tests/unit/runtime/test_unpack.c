// SPDX-License-Identifier: Apache-2.0
/*
 * test_unpack.c - layer unpacking with archives built here with libarchive:
 * gzip and zstd layers, modes, symlinks, hard links, whiteouts and opaque
 * directories (overlayfs format), flattening, and crafted layers that try to
 * write outside the destination with "../", absolute names and symlinks.
 * Needs root (whiteouts are 0:0 device nodes, opaque dirs trusted.* xattrs).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <veil/runtime.h>

#include "vtest.h"

static char tmp_root[64];

static void rm_rf(const char *p)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", p);
}

struct entry {
    const char *path;
    char type;        /* f file, d dir, l symlink, h hardlink */
    const char *data; /* content or link target */
    int mode;
};

static void write_layer(const char *path, const char *filter, const struct entry *e, size_t n)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (strcmp(filter, "gzip") == 0)
        archive_write_add_filter_gzip(a);
    else if (strcmp(filter, "zstd") == 0)
        archive_write_add_filter_zstd(a);
    CHECK_EQ_INT(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].path);
        archive_entry_set_mtime(ae, 1700000000, 0);
        switch (e[i].type) {
        case 'f':
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, e[i].mode ? (mode_t)e[i].mode : 0644);
            archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
            break;
        case 'd':
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, e[i].mode ? (mode_t)e[i].mode : 0755);
            break;
        case 'l':
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e[i].data);
            break;
        case 'h':
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_hardlink(ae, e[i].data);
            break;
        }
        CHECK_EQ_INT(archive_write_header(a, ae), ARCHIVE_OK);
        if (e[i].type == 'f')
            archive_write_data(a, e[i].data, strlen(e[i].data));
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static char *read_text(const char *path)
{
    static char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void path_join(char *out, size_t cap, const char *a, const char *b)
{
    snprintf(out, cap, "%s/%s", a, b);
}

static void test_path_clean(void)
{
    char out[64];
    CHECK_EQ_INT(veil_tar_path_clean("./a//b/", out, sizeof out, NULL), 0);
    CHECK_EQ_STR(out, "a/b");
    CHECK_EQ_INT(veil_tar_path_clean("/etc/passwd", out, sizeof out, NULL), 0);
    CHECK_EQ_STR(out, "etc/passwd");
    CHECK_EQ_INT(veil_tar_path_clean("./", out, sizeof out, NULL), 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(veil_tar_path_clean("a/./b", out, sizeof out, NULL), 0);
    CHECK_EQ_STR(out, "a/b");
    veil_err err = {0};
    CHECK_EQ_INT(veil_tar_path_clean("../x", out, sizeof out, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    CHECK_EQ_INT(veil_tar_path_clean("a/../../x", out, sizeof out, NULL), -1);
    CHECK_EQ_INT(veil_tar_path_clean("a/..", out, sizeof out, NULL), -1);
    CHECK_EQ_INT(veil_tar_path_clean("..", out, sizeof out, NULL), -1);
    CHECK_EQ_INT(veil_tar_path_clean("a/...", out, sizeof out, NULL), 0);
    CHECK_EQ_STR(out, "a/...");
    CHECK_EQ_INT(veil_tar_path_clean(NULL, out, sizeof out, NULL), -1);
    char small[4];
    CHECK_EQ_INT(veil_tar_path_clean("abcdef", small, sizeof small, NULL), -1);
}

static void unpack_and_check(const char *filter)
{
    char layer[128], dest[128], p[256];
    snprintf(layer, sizeof layer, "%s/layer-%s.tar", tmp_root, filter);
    snprintf(dest, sizeof dest, "%s/dest-%s", tmp_root, filter);
    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    const struct entry e[] = {
        {"./", 'd', NULL, 0755},
        {"etc/", 'd', NULL, 0755},
        {"etc/config", 'f', "value\n", 0640},
        {"bin/tool", 'f', "#!/bin/sh\n", 04755},
        {"bin/alias", 'l', "tool", 0},
        {"bin/hard", 'h', "bin/tool", 0},
        {"old/.wh.removed", 'f', "", 0},
        {"opq/.wh..wh..opq", 'f', "", 0},
        {"opq/fresh", 'f', "fresh", 0},
        {"deep/a/b/c/file", 'f', "deep", 0},
    };
    write_layer(layer, filter, e, VEIL_ARRAY_LEN(e));
    struct veil_unpack_stats st;
    veil_err err = {0};
    int rc = veil_layer_unpack(layer, dest, NULL, &st, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  %s: %s\n", filter, err.msg);
    CHECK_EQ_U64(st.entries, VEIL_ARRAY_LEN(e));
    CHECK_EQ_U64(st.whiteouts, 2);
    struct stat sb;
    path_join(p, sizeof p, dest, "etc/config");
    CHECK_EQ_STR(read_text(p), "value\n");
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 0640);
    path_join(p, sizeof p, dest, "bin/tool");
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 04755);
    ino_t tool_ino = sb.st_ino;
    path_join(p, sizeof p, dest, "bin/hard");
    CHECK(stat(p, &sb) == 0 && sb.st_ino == tool_ino);
    char target[64] = "";
    path_join(p, sizeof p, dest, "bin/alias");
    CHECK(readlink(p, target, sizeof target - 1) == 4);
    CHECK_EQ_STR(target, "tool");
    path_join(p, sizeof p, dest, "old/removed");
    CHECK(lstat(p, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0));
    path_join(p, sizeof p, dest, "opq");
    char v[4] = "";
    CHECK_EQ_INT(getxattr(p, "trusted.overlay.opaque", v, sizeof v), 1);
    CHECK(v[0] == 'y');
    path_join(p, sizeof p, dest, "opq/.wh..wh..opq");
    CHECK(lstat(p, &sb) != 0);
    path_join(p, sizeof p, dest, "deep/a/b/c/file");
    CHECK_EQ_STR(read_text(p), "deep");
}

static void test_unpack_gzip(void)
{
    unpack_and_check("gzip");
}

static void test_unpack_zstd(void)
{
    unpack_and_check("zstd");
}

static void test_unpack_plain(void)
{
    unpack_and_check("none");
}

static void test_escape_dotdot(void)
{
    char layer[128], dest[128], outside[128], p[256];
    snprintf(layer, sizeof layer, "%s/dotdot.tar.gz", tmp_root);
    snprintf(dest, sizeof dest, "%s/d1/rootfs", tmp_root);
    snprintf(outside, sizeof outside, "%s/d1", tmp_root);
    CHECK_EQ_INT(mkdir(outside, 0755), 0);
    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    const struct entry e[] = {{"../escaped", 'f', "x", 0}};
    write_layer(layer, "gzip", e, 1);
    veil_err err = {0};
    CHECK_EQ_INT(veil_layer_unpack(layer, dest, NULL, NULL, &err), -1);
    CHECK_CONTAINS(err.msg, "..");
    path_join(p, sizeof p, outside, "escaped");
    CHECK(access(p, F_OK) != 0);

    const struct entry h[] = {{"link", 'h', "../../etc/passwd", 0}};
    write_layer(layer, "gzip", h, 1);
    CHECK_EQ_INT(veil_layer_unpack(layer, dest, NULL, NULL, &err), -1);
}

static void test_escape_symlinks(void)
{
    char layer[128], dest[128], outside[128], p[512];
    snprintf(layer, sizeof layer, "%s/links.tar.gz", tmp_root);
    snprintf(outside, sizeof outside, "%s/d2", tmp_root);
    snprintf(dest, sizeof dest, "%s/d2/rootfs", tmp_root);
    CHECK_EQ_INT(mkdir(outside, 0755), 0);
    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    char abs_target[200], abs_name[200];
    snprintf(abs_target, sizeof abs_target, "%s", outside);
    snprintf(abs_name, sizeof abs_name, "%s/absolute", outside);
    const struct entry e[] = {
        {"root", 'l', "/", 0},
        {"root/via-root", 'f', "1", 0},
        {"up", 'l', "../../../../../../../..", 0},
        {"up/via-up", 'f', "2", 0},
        {"dir/", 'd', NULL, 0},
        {"dir/rel", 'l', "../..", 0},
        {"dir/rel/via-rel", 'f', "3", 0},
        {"abs", 'l', abs_target, 0},
        {"abs", 'f', "replaced, not followed", 0},
        {abs_name, 'f', "4", 0},
        {"hl", 'h', "/root/via-root", 0},
    };
    write_layer(layer, "gzip", e, VEIL_ARRAY_LEN(e));
    veil_err err = {0};
    int rc = veil_layer_unpack(layer, dest, NULL, NULL, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc)
        fprintf(stderr, "  %s\n", err.msg);
    /* Nothing next to the rootfs... */
    static const char *const names[] = {"via-root", "via-up", "via-rel", "absolute"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(names); i++) {
        path_join(p, sizeof p, outside, names[i]);
        CHECK(access(p, F_OK) != 0);
    }
    /* ...everything inside it. */
    path_join(p, sizeof p, dest, "via-root");
    CHECK_EQ_STR(read_text(p), "1");
    path_join(p, sizeof p, dest, "via-up");
    CHECK_EQ_STR(read_text(p), "2");
    path_join(p, sizeof p, dest, "via-rel");
    CHECK_EQ_STR(read_text(p), "3");
    snprintf(p, sizeof p, "%s%s", dest, abs_name);
    CHECK_EQ_STR(read_text(p), "4");
    struct stat sb;
    path_join(p, sizeof p, dest, "abs");
    CHECK(lstat(p, &sb) == 0 && S_ISREG(sb.st_mode));
    path_join(p, sizeof p, dest, "hl");
    CHECK_EQ_STR(read_text(p), "1");
}

static void test_flatten(void)
{
    char l1[128], l2[128], t1[128], t2[128], dest[128], p[256];
    snprintf(t1, sizeof t1, "%s/f1.tar", tmp_root);
    snprintf(t2, sizeof t2, "%s/f2.tar", tmp_root);
    snprintf(l1, sizeof l1, "%s/fl1", tmp_root);
    snprintf(l2, sizeof l2, "%s/fl2", tmp_root);
    snprintf(dest, sizeof dest, "%s/flat", tmp_root);
    CHECK_EQ_INT(mkdir(l1, 0755), 0);
    CHECK_EQ_INT(mkdir(l2, 0755), 0);
    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    const struct entry a[] = {
        {"keep", 'f', "k", 0},   {"gone", 'f', "g", 0},  {"opq/old", 'f', "o", 0},
        {"lnk", 'l', "keep", 0}, {"over", 'f', "v1", 0},
    };
    const struct entry b[] = {
        {".wh.gone", 'f', "", 0},
        {"opq/.wh..wh..opq", 'f', "", 0},
        {"opq/new", 'f', "n", 0},
        {"over", 'f', "v2", 0},
    };
    write_layer(t1, "gzip", a, VEIL_ARRAY_LEN(a));
    write_layer(t2, "gzip", b, VEIL_ARRAY_LEN(b));
    CHECK_EQ_INT(veil_layer_unpack(t1, l1, NULL, NULL, NULL), 0);
    CHECK_EQ_INT(veil_layer_unpack(t2, l2, NULL, NULL, NULL), 0);
    const char *dirs[] = {l1, l2};
    veil_err err = {0};
    CHECK_EQ_INT(veil_layers_flatten(dirs, 2, dest, &err), 0);
    path_join(p, sizeof p, dest, "keep");
    CHECK_EQ_STR(read_text(p), "k");
    path_join(p, sizeof p, dest, "gone");
    CHECK(access(p, F_OK) != 0);
    path_join(p, sizeof p, dest, "opq/old");
    CHECK(access(p, F_OK) != 0);
    path_join(p, sizeof p, dest, "opq/new");
    CHECK_EQ_STR(read_text(p), "n");
    path_join(p, sizeof p, dest, "over");
    CHECK_EQ_STR(read_text(p), "v2");
    char target[16] = "";
    path_join(p, sizeof p, dest, "lnk");
    CHECK(readlink(p, target, sizeof target - 1) == 4);
}

/* user.* xattrs are kept; trusted.* ones (which could forge overlayfs
 * metadata such as redirects or opaque markers) are dropped. */
static void test_xattrs(void)
{
    char layer[128], dest[128], p[256];
    snprintf(layer, sizeof layer, "%s/xattr.tar", tmp_root);
    snprintf(dest, sizeof dest, "%s/xattr-dest", tmp_root);
    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax(a);
    CHECK_EQ_INT(archive_write_open_filename(a, layer), ARCHIVE_OK);
    const char *names[] = {"file", "dir"};
    for (int i = 0; i < 2; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, names[i]);
        archive_entry_set_filetype(ae, i == 0 ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(ae, i == 0 ? 0644 : 0755);
        archive_entry_set_size(ae, i == 0 ? 2 : 0);
        archive_entry_xattr_add_entry(ae, "user.veil", "ok", 2);
        archive_entry_xattr_add_entry(ae, "trusted.overlay.redirect", "/etc", 4);
        archive_entry_xattr_add_entry(ae, "trusted.overlay.opaque", "y", 1);
        CHECK_EQ_INT(archive_write_header(a, ae), ARCHIVE_OK);
        if (i == 0)
            archive_write_data(a, "hi", 2);
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    veil_err err = {0};
    CHECK_EQ_INT(veil_layer_unpack(layer, dest, NULL, NULL, &err), 0);
    for (int i = 0; i < 2; i++) {
        path_join(p, sizeof p, dest, names[i]);
        char v[16] = "";
        ssize_t n = getxattr(p, "user.veil", v, sizeof v);
        /* user xattrs need filesystem support (tmpfs/ext4 have it) */
        if (n >= 0) {
            CHECK_EQ_INT(n, 2);
            CHECK_EQ_STR(v, "ok");
        } else {
            CHECK(errno == ENOTSUP);
        }
        CHECK(getxattr(p, "trusted.overlay.redirect", v, sizeof v) < 0);
        CHECK(getxattr(p, "trusted.overlay.opaque", v, sizeof v) < 0);
    }
}

static void test_corrupt_archive(void)
{
    char layer[128], dest[128];
    snprintf(layer, sizeof layer, "%s/junk.tar.gz", tmp_root);
    snprintf(dest, sizeof dest, "%s/junkdest", tmp_root);
    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    int fd = open(layer, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    static const unsigned char junk[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'j', 'u', 'n', 'k'};
    CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    close(fd);
    veil_err err = {0};
    CHECK_EQ_INT(veil_layer_unpack(layer, dest, NULL, NULL, &err), -1);
    CHECK(err.msg[0] != '\0');
}

static void setup(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/veil-unpack-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void teardown(void)
{
    rm_rf(tmp_root);
}

VTEST_MAIN(VTEST(setup), VTEST(test_path_clean), VTEST(test_unpack_gzip), VTEST(test_unpack_zstd),
           VTEST(test_unpack_plain), VTEST(test_escape_dotdot), VTEST(test_escape_symlinks),
           VTEST(test_flatten), VTEST(test_xattrs), VTEST(test_corrupt_archive), VTEST(teardown))
