// SPDX-License-Identifier: Apache-2.0
/*
 * unpack.c - applying image layers to disk without ever writing outside
 * the destination.
 *
 * libarchive reads the layer (tar, gzip or zstd). We do not use its
 * archive_write_disk: its symlink protection refuses to write through any
 * symlink, while image layers legitimately write below symlinked parents,
 * and it cannot resolve paths with the layer directory as "/". Instead every
 * parent directory is opened with openat2(RESOLVE_IN_ROOT) relative to the
 * layer directory, so "..", absolute symlinks and relative symlinks that
 * climb are all clamped to the layer root by the kernel, and the final
 * component is created with *at() calls that never follow a symlink.
 *
 * Layers are stored in overlayfs format (Documentation/filesystems/
 * overlayfs.rst "whiteouts and opaque directories"): the OCI whiteout
 * ".wh.NAME" (image-spec layer.md "Whiteouts") becomes a 0:0 character
 * device NAME and ".wh..wh..opq" becomes the xattr trusted.overlay.opaque=y
 * on its directory. veil_layers_flatten() applies such directories by copy
 * where overlayfs is not available.
 *
 * Two libarchive readers are chained: a "raw" one only decompresses, and
 * its output is hashed (the image config's diff_id) and counted against the
 * layer's budget before the tar reader sees a byte, so a decompression bomb
 * stops at the budget and a layer whose content differs from its diff_id is
 * refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "runtime_internal.h"

#define OPAQUE_XATTR    "trusted.overlay.opaque"
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER   ".wh..wh..opq"

int veil_tar_path_clean(const char *path, char *out, size_t cap, veil_err *err)
{
    if (!path)
        return veil_err_set(err, VEIL_E_PARSE, "tar entry without a name");
    size_t o = 0;
    const char *p = path;
    if (cap == 0)
        return veil_err_set(err, VEIL_E_RANGE, "no room for path");
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 1 && p[0] == '.') {
            p += n;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return veil_err_set(err, VEIL_E_PERMISSION, "tar entry '%.200s' contains '..'", path);
        if (o + n + 2 > cap)
            return veil_err_set(err, VEIL_E_RANGE, "tar entry path too long");
        if (o)
            out[o++] = '/';
        memcpy(out + o, p, n);
        o += n;
        p += n;
    }
    out[o] = '\0';
    return 0;
}

static int open_in_root(int rootfd, const char *rel, veil_err *err)
{
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    int fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof how);
    if (fd < 0)
        return veil_err_set(err, errno == ENOENT ? VEIL_E_NOTFOUND : VEIL_E_IO,
                            "opening '%.200s' in the rootfs: %s", rel, strerror(errno));
    return fd;
}

static int remove_at(int dirfd, const char *name);

/* Removes every entry of the directory open as fd (taken over and closed),
 * recursively; never follows symlinks. */
static int remove_children(int fd)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (remove_at(fd, de->d_name) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

/* Removes name under dirfd, recursively for directories; never follows
 * symlinks. */
static int remove_at(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || remove_children(fd) != 0)
        return -1;
    return unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* Empties a directory (for opaque directories when flattening). */
static int empty_dir(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -1 : remove_children(fd);
}

/* Opens (creating as needed) the directory `rel` inside the root. */
static int mkdir_in_root(int rootfd, const char *rel, veil_err *err)
{
    int fd = open_in_root(rootfd, rel, NULL);
    if (fd >= 0 || errno != ENOENT)
        return fd >= 0 ? fd
                       : veil_err_set(err, VEIL_E_IO, "opening '%.200s': %s", rel, strerror(errno));
    /* Walk down, creating each missing component in its resolved parent. */
    char buf[4096];
    size_t n = strlen(rel);
    if (n >= sizeof buf)
        return veil_err_set(err, VEIL_E_RANGE, "path too long");
    memcpy(buf, rel, n + 1);
    int parent = open_in_root(rootfd, "", err);
    if (parent < 0)
        return -1;
    char *comp = buf;
    for (;;) {
        char *slash = strchr(comp, '/');
        if (slash)
            *slash = '\0';
        int next = open_in_root(rootfd, buf, NULL);
        if (next < 0 && errno == ENOENT) {
            int pfd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (pfd < 0 || (mkdirat(pfd, comp, 0755) != 0 && errno != EEXIST)) {
                int e = errno;
                if (pfd >= 0)
                    close(pfd);
                close(parent);
                return veil_err_set(err, VEIL_E_IO, "mkdir '%.200s': %s", buf, strerror(e));
            }
            close(pfd);
            next = open_in_root(rootfd, buf, NULL);
        }
        if (next < 0) {
            int e = errno;
            close(parent);
            return veil_err_set(err, VEIL_E_IO, "opening '%.200s': %s", buf, strerror(e));
        }
        close(parent);
        parent = next;
        if (!slash)
            break;
        *slash = '/';
        comp = slash + 1;
    }
    return parent;
}

/* O_PATH fds cannot be used for *at() creation everywhere; reopen as a real
 * directory fd (still the same resolved inode). */
static int reopen_dir(int pathfd)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pathfd);
    return open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static bool xattr_allowed(const char *name)
{
    /* trusted.* would let a layer forge overlayfs metadata (redirects,
     * metacopy); only user data and file capabilities are carried over. */
    return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

/* The decompressed stream: what the tar reader reads through read_plain. */
struct plain_stream {
    struct archive *raw;
    EVP_MD_CTX *sha;
    uint64_t bytes, max_bytes;
    bool over_budget, failed;
    char buf[1 << 16];
};

struct unpack_ctx {
    struct archive *ar;
    struct plain_stream *in;
    int rootfd;
    char cached_parent[4096];
    int cached_fd; /* real dir fd for cached_parent, or -1 */
    struct veil_unpack_stats *stats;
    bool tail_truncated; /* see write_regular */
};

static int parent_fd(struct unpack_ctx *c, const char *parent, veil_err *err)
{
    if (c->cached_fd >= 0 && strcmp(c->cached_parent, parent) == 0)
        return c->cached_fd;
    int pathfd = mkdir_in_root(c->rootfd, parent, err);
    if (pathfd < 0)
        return -1;
    int fd = reopen_dir(pathfd);
    close(pathfd);
    if (fd < 0)
        return veil_err_set(err, VEIL_E_IO, "opening '%.200s': %s", parent, strerror(errno));
    if (c->cached_fd >= 0)
        close(c->cached_fd);
    c->cached_fd = fd;
    snprintf(c->cached_parent, sizeof c->cached_parent, "%s", parent);
    return fd;
}

static void invalidate_cache(struct unpack_ctx *c)
{
    if (c->cached_fd >= 0)
        close(c->cached_fd);
    c->cached_fd = -1;
    c->cached_parent[0] = '\0';
}

static void apply_xattrs(struct archive_entry *e, int fd)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
        if (name && xattr_allowed(name))
            (void)fsetxattr(fd, name, value, size, 0); /* where the fs allows */
}

static int write_regular(struct unpack_ctx *c, int dirfd, const char *base, struct archive_entry *e,
                         veil_err *err)
{
    /* A sparse entry's size is not bounded by the stream: cap it too. */
    if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > c->in->max_bytes)
        return veil_err_set(err, VEIL_E_LIMIT,
                            "'%s' of %lld bytes exceeds the layer budget of %llu bytes", base,
                            (long long)archive_entry_size(e),
                            (unsigned long long)c->in->max_bytes);
    int fd = openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return veil_err_set(err, VEIL_E_IO, "create '%s': %s", base, strerror(errno));
    const void *block;
    size_t size;
    la_int64_t offset;
    int r;
    off_t end = 0;
    while ((r = archive_read_data_block(c->ar, &block, &size, &offset)) == ARCHIVE_OK) {
        const uint8_t *p = block;
        size_t left = size;
        off_t at = (off_t)offset;
        while (left) {
            ssize_t w = pwrite(fd, p, left, at);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                int e2 = errno;
                close(fd);
                return veil_err_set(err, VEIL_E_IO, "write '%s': %s", base, strerror(e2));
            }
            p += w;
            left -= (size_t)w;
            at += w;
        }
        if (at > end)
            end = at;
        c->stats->bytes += size;
    }
    if (r != ARCHIVE_EOF) {
        /* umoci 0.4.7 (Debian 12) ends its layers right after the last
         * file's data, without the padding and end-of-archive blocks. GNU
         * tar refuses such archives; we accept them when every byte of the
         * entry arrived (the blob's digest was verified already), and treat
         * the archive as ended. */
        if (archive_entry_size_is_set(e) && end == archive_entry_size(e) && end > 0) {
            c->tail_truncated = true;
        } else {
            close(fd);
            return veil_err_set(err, VEIL_E_PARSE, "layer data: %s", archive_error_string(c->ar));
        }
    }
    /* Sparse files: make sure the size covers trailing holes. */
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > end)
        (void)ftruncate(fd, archive_entry_size(e));
    if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) != 0 &&
        errno != EPERM) {
        /* owners only where allowed */
    }
    fchmod(fd, archive_entry_perm(e) & 07777);
    apply_xattrs(e, fd);
    struct timespec ts[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
    futimens(fd, ts);
    close(fd);
    return 0;
}

static int unpack_entry(struct unpack_ctx *c, struct archive_entry *e, veil_err *err)
{
    char rel[4096];
    if (veil_tar_path_clean(archive_entry_pathname(e), rel, sizeof rel, err) != 0)
        return -1;
    c->stats->entries++;
    if (!rel[0])
        return 0; /* "./": the root itself */
    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    char parent[4096];
    size_t pn = slash ? (size_t)(slash - rel) : 0;
    memcpy(parent, rel, pn);
    parent[pn] = '\0';

    int dirfd = parent_fd(c, parent, err);
    if (dirfd < 0)
        return -1;

    if (strncmp(base, WHITEOUT_PREFIX, 4) == 0) {
        c->stats->whiteouts++;
        if (strcmp(base, OPAQUE_MARKER) == 0) {
            if (fsetxattr(dirfd, OPAQUE_XATTR, "y", 1, 0) != 0)
                return veil_err_set(err, VEIL_E_IO, "marking '%s' opaque: %s", parent,
                                    strerror(errno));
            return 0;
        }
        const char *victim = base + 4;
        if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
            return veil_err_set(err, VEIL_E_PERMISSION, "bad whiteout '%s'", rel);
        if (remove_at(dirfd, victim) != 0 ||
            mknodat(dirfd, victim, S_IFCHR | 0000, makedev(0, 0)) != 0)
            return veil_err_set(err, VEIL_E_IO, "whiteout '%s': %s", rel, strerror(errno));
        return 0;
    }

    mode_t type = archive_entry_filetype(e);
    const char *hardlink = archive_entry_hardlink(e);
    struct stat st;
    bool exists = fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;

    if (type == AE_IFDIR && !hardlink) {
        if (exists && !S_ISDIR(st.st_mode)) {
            if (remove_at(dirfd, base) != 0)
                return veil_err_set(err, VEIL_E_IO, "replacing '%s': %s", rel, strerror(errno));
            exists = false;
        }
        if (!exists && mkdirat(dirfd, base, 0700) != 0)
            return veil_err_set(err, VEIL_E_IO, "mkdir '%s': %s", rel, strerror(errno));
        int fd = openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return veil_err_set(err, VEIL_E_IO, "open '%s': %s", rel, strerror(errno));
        (void)fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e));
        fchmod(fd, archive_entry_perm(e) & 07777);
        apply_xattrs(e, fd);
        close(fd);
        return 0;
    }
    if (exists && remove_at(dirfd, base) != 0)
        return veil_err_set(err, VEIL_E_IO, "replacing '%s': %s", rel, strerror(errno));
    /* Something below may have been a cached parent. */
    if (exists && S_ISDIR(st.st_mode))
        invalidate_cache(c), dirfd = parent_fd(c, parent, err);
    if (dirfd < 0)
        return -1;

    if (hardlink) {
        char trel[4096];
        if (veil_tar_path_clean(hardlink, trel, sizeof trel, err) != 0)
            return -1;
        char *ts = strrchr(trel, '/');
        const char *tbase = ts ? ts + 1 : trel;
        if (ts)
            *ts = '\0';
        int tpath = open_in_root(c->rootfd, ts ? trel : "", err);
        if (tpath < 0)
            return veil_err_wrap(err, "hard link '%s'", rel);
        int tdir = reopen_dir(tpath);
        close(tpath);
        if (tdir < 0 || linkat(tdir, tbase, dirfd, base, 0) != 0) {
            int e2 = errno;
            if (tdir >= 0)
                close(tdir);
            return veil_err_set(err, VEIL_E_IO, "hard link '%s': %s", rel, strerror(e2));
        }
        close(tdir);
        return 0;
    }
    switch (type) {
    case AE_IFREG:
        return write_regular(c, dirfd, base, e, err);
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target || symlinkat(target, dirfd, base) != 0)
            return veil_err_set(err, VEIL_E_IO, "symlink '%s': %s", rel, strerror(errno));
        (void)fchownat(dirfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                       AT_SYMLINK_NOFOLLOW);
        struct timespec ts[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
        utimensat(dirfd, base, ts, AT_SYMLINK_NOFOLLOW);
        return 0;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
        if (mknodat(dirfd, base, type | (archive_entry_perm(e) & 07777), dev) != 0)
            return veil_err_set(err, VEIL_E_IO, "mknod '%s': %s", rel, strerror(errno));
        (void)fchownat(dirfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                       AT_SYMLINK_NOFOLLOW);
        return 0;
    }
    default:
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "tar entry '%s' has unsupported type 0%o", rel,
                            (unsigned)type);
    }
}

static la_ssize_t read_plain(struct archive *tar, void *ud, const void **out)
{
    struct plain_stream *p = ud;
    la_ssize_t n = archive_read_data(p->raw, p->buf, sizeof p->buf);
    if (n < 0) {
        p->failed = true;
        if (tar)
            archive_set_error(tar, EIO, "decompressing: %s", archive_error_string(p->raw));
        return -1;
    }
    if ((uint64_t)n > p->max_bytes - p->bytes) {
        p->over_budget = true;
        if (tar)
            archive_set_error(tar, EFBIG, "layer exceeds its budget");
        return -1;
    }
    p->bytes += (uint64_t)n;
    EVP_DigestUpdate(p->sha, p->buf, (size_t)n);
    *out = p->buf;
    return n;
}

/* Reads what the tar reader left (end-of-archive padding) into the digest. */
static int drain_plain(struct plain_stream *p, veil_err *err)
{
    const void *b;
    la_ssize_t n;
    while ((n = read_plain(NULL, p, &b)) > 0) {
    }
    if (p->over_budget || p->failed)
        return veil_err_set(err, p->over_budget ? VEIL_E_LIMIT : VEIL_E_PARSE, "%s",
                            p->over_budget ? "layer exceeds its budget"
                                           : archive_error_string(p->raw));
    return 0;
}

static int check_diff_id(struct plain_stream *p, const char *want, veil_err *err)
{
    uint8_t md[32];
    unsigned mdlen = 0;
    EVP_DigestFinal_ex(p->sha, md, &mdlen);
    char got[7 + 65] = "sha256:";
    veil_hex_encode(got + 7, 65, md, sizeof md);
    if (want && strcmp(want, got) != 0)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "uncompressed layer is %s, the image config's diff_id is %.80s", got,
                            want);
    return 0;
}

static int open_plain(struct plain_stream *p, const char *layer_path, uint64_t max_bytes,
                      veil_err *err)
{
    p->max_bytes = max_bytes ? max_bytes : VEIL_LAYER_MAX_BYTES_DEFAULT;
    p->sha = EVP_MD_CTX_new();
    p->raw = archive_read_new();
    if (!p->sha || !p->raw || EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) != 1)
        return veil_err_set(err, VEIL_E_NOMEM, "layer reader: out of memory");
    archive_read_support_filter_gzip(p->raw);
    archive_read_support_filter_zstd(p->raw);
    archive_read_support_filter_none(p->raw);
    archive_read_support_format_raw(p->raw);
    struct archive_entry *e;
    if (archive_read_open_filename(p->raw, layer_path, 1 << 20) != ARCHIVE_OK ||
        archive_read_next_header(p->raw, &e) != ARCHIVE_OK)
        return veil_err_set(err, VEIL_E_PARSE, "%s: %s", layer_path,
                            archive_error_string(p->raw));
    return 0;
}

static void close_plain(struct plain_stream *p)
{
    if (p->raw)
        archive_read_free(p->raw);
    EVP_MD_CTX_free(p->sha);
}

/* The error of a failed tar read: the budget first, it is the likely cause. */
static int tar_failed(struct unpack_ctx *c, const char *layer_path, veil_err *err)
{
    if (c->in->over_budget)
        return veil_err_set(err, VEIL_E_LIMIT,
                            "%s: the layer decompresses to more than its budget of %llu bytes: "
                            "refused (decompression bomb?)",
                            layer_path, (unsigned long long)c->in->max_bytes);
    return veil_err_set(err, VEIL_E_PARSE, "%s: %s", layer_path, archive_error_string(c->ar));
}

int veil_layer_unpack(const char *layer_path, const char *dest,
                      const struct veil_unpack_opts *opts, struct veil_unpack_stats *stats,
                      veil_err *err)
{
    struct veil_unpack_stats local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    struct plain_stream *in = calloc(1, sizeof *in);
    if (!in)
        return veil_err_set(err, VEIL_E_NOMEM, "layer reader: out of memory");
    struct unpack_ctx c = {.rootfd = -1, .cached_fd = -1, .stats = stats, .in = in};
    int rc = -1;
    c.rootfd = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c.rootfd < 0) {
        veil_err_set(err, VEIL_E_IO, "%s: %s", dest, strerror(errno));
        goto out;
    }
    if (open_plain(in, layer_path, opts ? opts->max_bytes : 0, err) != 0)
        goto out;
    c.ar = archive_read_new();
    if (!c.ar) {
        veil_err_set(err, VEIL_E_NOMEM, "layer reader: out of memory");
        goto out;
    }
    archive_read_support_format_tar(c.ar);
    archive_read_support_format_gnutar(c.ar);
    if (archive_read_open(c.ar, in, NULL, read_plain, NULL) != ARCHIVE_OK) {
        tar_failed(&c, layer_path, err);
        goto out;
    }
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(c.ar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (unpack_entry(&c, e, err) != 0) {
            if (in->over_budget)
                tar_failed(&c, layer_path, err);
            else
                veil_err_wrap(err, "unpacking %s", layer_path);
            goto out;
        }
        if (c.tail_truncated)
            break;
    }
    if (r != ARCHIVE_EOF && !c.tail_truncated) {
        tar_failed(&c, layer_path, err);
        goto out;
    }
    if (drain_plain(in, err) != 0 || check_diff_id(in, opts ? opts->diff_id : NULL, err) != 0) {
        veil_err_wrap(err, "%s", layer_path);
        goto out;
    }
    rc = 0;
out:
    invalidate_cache(&c);
    if (c.ar)
        archive_read_free(c.ar);
    close_plain(in);
    free(in);
    if (c.rootfd >= 0)
        close(c.rootfd);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Flattening (copy fallback)                                               */
/* ------------------------------------------------------------------------ */

static int copy_file(int sdir, const char *name, int ddir, const struct stat *st)
{
    int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return -1;
    }
    off_t left = st->st_size;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n <= 0)
            break;
        left -= n;
    }
    if (left > 0) { /* fallback to read/write */
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                break;
    }
    (void)fchown(out, st->st_uid, st->st_gid);
    fchmod(out, st->st_mode & 07777);
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    futimens(out, ts);
    close(in);
    close(out);
    return 0;
}

static int apply_dir(int sdir, int ddir, veil_err *err)
{
    int dupfd = dup(sdir);
    DIR *d = dupfd >= 0 ? fdopendir(dupfd) : NULL;
    if (!d)
        return veil_err_set(err, VEIL_E_IO, "reading layer: %s", strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        struct stat st, dst;
        if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = veil_err_set(err, VEIL_E_IO, "%s: %s", name, strerror(errno));
            break;
        }
        bool dexists = fstatat(ddir, name, &dst, AT_SYMLINK_NOFOLLOW) == 0;
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) { /* whiteout */
            if (dexists && remove_at(ddir, name) != 0)
                rc = veil_err_set(err, VEIL_E_IO, "whiteout %s: %s", name, strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (dexists && !S_ISDIR(dst.st_mode)) {
                if (remove_at(ddir, name) != 0) {
                    rc = veil_err_set(err, VEIL_E_IO, "%s: %s", name, strerror(errno));
                    break;
                }
                dexists = false;
            }
            if (!dexists && mkdirat(ddir, name, 0700) != 0) {
                rc = veil_err_set(err, VEIL_E_IO, "mkdir %s: %s", name, strerror(errno));
                break;
            }
            int s2 = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int d2 = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0 || d2 < 0) {
                rc = veil_err_set(err, VEIL_E_IO, "open %s: %s", name, strerror(errno));
            } else {
                char v[2];
                if (dexists && fgetxattr(s2, OPAQUE_XATTR, v, sizeof v) == 1 && v[0] == 'y')
                    empty_dir(d2);
                (void)fchown(d2, st.st_uid, st.st_gid);
                fchmod(d2, st.st_mode & 07777);
                rc = apply_dir(s2, d2, err);
            }
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
            continue;
        }
        if (dexists && remove_at(ddir, name) != 0) {
            rc = veil_err_set(err, VEIL_E_IO, "%s: %s", name, strerror(errno));
            break;
        }
        if (S_ISREG(st.st_mode)) {
            if (copy_file(sdir, name, ddir, &st) != 0)
                rc = veil_err_set(err, VEIL_E_IO, "copy %s: %s", name, strerror(errno));
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlinkat(sdir, name, target, sizeof target - 1);
            if (n < 0)
                rc = veil_err_set(err, VEIL_E_IO, "readlink %s: %s", name, strerror(errno));
            else {
                target[n] = '\0';
                if (symlinkat(target, ddir, name) != 0)
                    rc = veil_err_set(err, VEIL_E_IO, "symlink %s: %s", name, strerror(errno));
                (void)fchownat(ddir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
            }
        } else if (mknodat(ddir, name, st.st_mode, st.st_rdev) != 0) {
            rc = veil_err_set(err, VEIL_E_IO, "mknod %s: %s", name, strerror(errno));
        }
    }
    closedir(d);
    return rc;
}

int veil_layers_flatten(const char *const *layer_dirs, size_t n, const char *dest, veil_err *err)
{
    int ddir = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ddir < 0)
        return veil_err_set(err, VEIL_E_IO, "%s: %s", dest, strerror(errno));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int sdir = open(layer_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sdir < 0) {
            rc = veil_err_set(err, VEIL_E_IO, "%s: %s", layer_dirs[i], strerror(errno));
            break;
        }
        rc = apply_dir(sdir, ddir, err);
        close(sdir);
    }
    close(ddir);
    return rc;
}

int veil_remove_tree(const char *path)
{
    return remove_at(AT_FDCWD, path);
}
