// SPDX-License-Identifier: Apache-2.0
/*
 * file.c - whole-file reads with a size cap, crash-safe atomic writes
 * (temp file + fsync + rename + directory fsync) and key files that are
 * 0600 from the moment they exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <veil/base.h>

static int read_fd(int fd, const char *path, size_t max_len, uint8_t **data, size_t *len,
                   veil_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return veil_err_set(err, VEIL_E_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return veil_err_set(err, VEIL_E_INVALID, "%s: not a regular file", path);
    if ((uint64_t)st.st_size > max_len)
        return veil_err_set(err, VEIL_E_LIMIT, "%s: %lld bytes is more than the %zu allowed",
                            path, (long long)st.st_size, max_len);
    size_t cap = (size_t)st.st_size;
    uint8_t *buf = malloc(cap + 1);
    if (!buf)
        return veil_err_set(err, VEIL_E_NOMEM, "%s: out of memory", path);
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return veil_err_set(err, VEIL_E_IO, "%s: %s", path, strerror(errno));
        }
        if (n == 0)
            break; /* file shrank while reading */
        got += (size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}

int veil_file_read(const char *path, size_t max_len, uint8_t **data, size_t *len, veil_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return veil_err_set(err, errno == ENOENT ? VEIL_E_NOTFOUND : VEIL_E_IO, "%s: %s", path,
                            strerror(errno));
    int rc = read_fd(fd, path, max_len, data, len, err);
    close(fd);
    return rc;
}

int veil_key_file_read(const char *path, size_t max_len, uint8_t **data, size_t *len,
                       veil_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return veil_err_set(err, errno == ENOENT ? VEIL_E_NOTFOUND : VEIL_E_IO, "%s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
        close(fd);
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "%s: key file is accessible by group or others (mode %03o); "
                            "run chmod 600",
                            path, (unsigned)(st.st_mode & 0777));
    }
    int rc = read_fd(fd, path, max_len, data, len, err);
    close(fd);
    return rc;
}

int veil_secret_file_read_line(const char *path, char *out, size_t cap, veil_err *err)
{
    uint8_t *data;
    size_t len;
    if (cap == 0)
        return veil_err_set(err, VEIL_E_INVALID, "%s: no room for the secret", path);
    if (veil_file_read(path, cap - 1, &data, &len, err) != 0)
        return -1;
    size_t n = len;
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    memcpy(out, data, n);
    out[n] = '\0';
    veil_memzero(data, len);
    free(data);
    return 0;
}

static int fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int veil_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                           veil_err *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    /* mkstemp creates the file 0600, so secrets are never exposed; widen
     * afterwards only if the caller asked for it. */
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        veil_err_set(err, VEIL_E_IO, "%s: cannot create temporary file: %s", path,
                     strerror(errno));
        free(tmp);
        return -1;
    }
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto io_fail;
        done += (size_t)n;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0)
        goto io_fail;
    if (close(fd) != 0) {
        fd = -1;
        goto io_fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto io_fail;
    free(tmp);
    fsync_parent_dir(path);
    return 0;

io_fail:
    veil_err_set(err, VEIL_E_IO, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

int veil_key_file_write(const char *path, const void *data, size_t len, veil_err *err)
{
    return veil_file_write_atomic(path, data, len, 0600, err);
}

int veil_mkdir_p(const char *path, unsigned mode, veil_err *err)
{
    size_t n = strlen(path);
    if (n == 0 || n >= 4096)
        return veil_err_set(err, VEIL_E_INVALID, "bad directory path");
    char buf[4096];
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
            return veil_err_set(err, VEIL_E_IO, "mkdir %s: %s", buf, strerror(errno));
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return veil_err_set(err, VEIL_E_IO, "%s: not a directory", path);
    return 0;
}
