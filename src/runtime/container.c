// SPDX-License-Identifier: Apache-2.0
/*
 * container.c - containers run by an OCI runtime (runc by default, crun
 * selectable), each watched by a supervisor process.
 *
 * The supervisor is the parent of the container: it makes itself a child
 * subreaper (prctl PR_SET_CHILD_SUBREAPER) so that the container's init,
 * orphaned when `runc run --detach` exits, is re-parented to it and can be
 * waited for; this is how containerd's shim gets exit codes too. It hands
 * the container pipes as stdout/stderr (runc's pass-through I/O mode),
 * copies them into size-rotated log files (and to the terminal for attached
 * runs), records the exit code and whether the kernel OOM-killed it (the
 * memory cgroup's oom_kill counter), applies the restart policy, and on the
 * way out deletes the runtime state and cgroup and unmounts the rootfs.
 * Everything it knows is in containers/<id>/state.json, so a later CLI
 * process finds running containers again; a "stop" marker file tells the
 * supervisor not to restart.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "runtime_internal.h"

extern char **environ;

#define DEFAULT_LOG_MAX (10u << 20)

/* Start-path timing, at debug level: milliseconds since the process began
 * this container operation. */
static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
#define TRACE_STEP(step)  VEIL_LOG_DBG("runtime", "start step", "step=%s t_ms=%.2f", step, mono_ms())
#define DEFAULT_LOG_FILES 2

const char *veil_container_status_name(enum veil_container_status s)
{
    switch (s) {
    case VEIL_CT_CREATED:
        return "created";
    case VEIL_CT_RUNNING:
        return "running";
    case VEIL_CT_RESTARTING:
        return "restarting";
    case VEIL_CT_EXITED:
        return "exited";
    case VEIL_CT_STOPPED:
        return "stopped";
    }
    return "unknown";
}

static enum veil_container_status status_parse(const char *s)
{
    static const enum veil_container_status all[] = {
        VEIL_CT_CREATED, VEIL_CT_RUNNING, VEIL_CT_RESTARTING, VEIL_CT_EXITED, VEIL_CT_STOPPED};
    for (size_t i = 0; s && i < VEIL_ARRAY_LEN(all); i++)
        if (strcmp(s, veil_container_status_name(all[i])) == 0)
            return all[i];
    return VEIL_CT_EXITED;
}

int veil_restart_policy_parse(const char *text, enum veil_restart_policy *p, int *max_retries,
                              veil_err *err)
{
    *max_retries = 0;
    if (strcmp(text, "no") == 0 || strcmp(text, "never") == 0) {
        *p = VEIL_RESTART_NEVER;
        return 0;
    }
    if (strcmp(text, "always") == 0 || strcmp(text, "unless-stopped") == 0) {
        *p = VEIL_RESTART_ALWAYS;
        return 0;
    }
    if (strncmp(text, "on-failure", 10) == 0) {
        *p = VEIL_RESTART_ON_FAILURE;
        if (text[10] == '\0')
            return 0;
        if (text[10] == ':') {
            char *end;
            long v = strtol(text + 11, &end, 10);
            if (*end == '\0' && end != text + 11 && v >= 0 && v <= 1000000) {
                *max_retries = (int)v;
                return 0;
            }
        }
    }
    return veil_err_set(err, VEIL_E_INVALID,
                        "restart policy '%s': want never, on-failure[:N] or always", text);
}

const char *veil_restart_policy_name(enum veil_restart_policy p)
{
    switch (p) {
    case VEIL_RESTART_NEVER:
        return "never";
    case VEIL_RESTART_ON_FAILURE:
        return "on-failure";
    case VEIL_RESTART_ALWAYS:
        return "always";
    }
    return "never";
}

/* ------------------------------------------------------------------------ */
/* Paths and state                                                          */
/* ------------------------------------------------------------------------ */

static void ct_path(const struct veil_runtime_opts *o, const char *id, const char *rel, char *out,
                    size_t cap)
{
    snprintf(out, cap, "%s/containers/%s%s%s", o->data_dir, id, rel ? "/" : "", rel ? rel : "");
}

static const char *engine_of(const struct veil_runtime_opts *o)
{
    return o->engine && *o->engine ? o->engine : "runc";
}

/* The in-memory state of one container (what state.json holds). */
struct ct_state {
    struct veil_container_info info;
    char config_digest[VEIL_DIGEST_BUFLEN];
    char **layers;
    size_t n_layers;
    char rootfs_mode[16]; /* overlay | copy */
    enum veil_restart_policy restart;
    int max_retries;
    uint64_t memory;
    uint64_t log_max;
    int log_files;
};

static void ct_state_free(struct ct_state *s)
{
    veil_strv_free(s->layers, s->n_layers);
    s->layers = NULL;
    s->n_layers = 0;
}

/* Atomic replace without fsync: readers never see a torn file, but the
 * write is not forced to disk. Container state and bundles describe live
 * processes that a machine crash ends anyway, and fsync'ing them several
 * times per start would cost tens of milliseconds on the start path. */
static int write_replace(const char *path, const char *text, veil_err *err)
{
    char tmp[VEIL_PATH_MAX + 32];
    uint8_t rb[6];
    char rnd[13];
    veil_random_bytes(rb, sizeof rb);
    veil_hex_encode(rnd, sizeof rnd, rb, sizeof rb);
    snprintf(tmp, sizeof tmp, "%s.tmp.%s", path, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return veil_err_set(err, VEIL_E_IO, "%s: %s", tmp, strerror(errno));
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return veil_err_set(err, VEIL_E_IO, "%s: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return veil_err_set(err, VEIL_E_IO, "%s: %s", path, strerror(e));
    }
    return 0;
}

static int state_save(const struct veil_runtime_opts *o, const struct ct_state *s, veil_err *err)
{
    const struct veil_container_info *i = &s->info;
    json_t *layers = json_array();
    for (size_t k = 0; k < s->n_layers; k++)
        json_array_append_new(layers, json_string(s->layers[k]));
    json_t *root = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:i, s:b, s:i, s:I, s:I, s:I, s:i, s:i, s:s, s:s, s:s, "
        "s:i, s:I, s:I, s:i}",
        "id", i->id, "name", i->name, "image", i->image, "config_digest", s->config_digest,
        "layers", layers, "status", veil_container_status_name(i->status), "exit_code",
        i->exit_code, "oom_killed", i->oom_killed, "restarts", i->restarts, "created",
        (json_int_t)i->created, "started", (json_int_t)i->started, "finished",
        (json_int_t)i->finished, "supervisor_pid", i->supervisor_pid, "pid", i->pid, "command",
        i->command, "rootfs_mode", s->rootfs_mode, "restart_policy",
        veil_restart_policy_name(s->restart), "max_retries", s->max_retries, "memory",
        (json_int_t)s->memory, "log_max", (json_int_t)s->log_max, "log_files", s->log_files);
    if (!root)
        return veil_err_set(err, VEIL_E_INTERNAL, "state: json_pack failed");
    char *text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    char p[VEIL_PATH_MAX];
    ct_path(o, i->id, "state.json", p, sizeof p);
    int rc = write_replace(p, text, err);
    free(text);
    return rc;
}

static void copy_json_str(char *dst, size_t cap, json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(dst, cap, "%s", s ? s : "");
}

static int state_load(const struct veil_runtime_opts *o, const char *id, struct ct_state *s,
                      veil_err *err)
{
    memset(s, 0, sizeof *s);
    char p[VEIL_PATH_MAX];
    ct_path(o, id, "state.json", p, sizeof p);
    json_error_t jerr;
    json_t *root = json_load_file(p, 0, &jerr);
    if (!root)
        return veil_err_set(err, VEIL_E_NOTFOUND, "container %s: no readable state (%s)", id,
                            jerr.text);
    struct veil_container_info *i = &s->info;
    copy_json_str(i->id, sizeof i->id, json_object_get(root, "id"));
    copy_json_str(i->name, sizeof i->name, json_object_get(root, "name"));
    copy_json_str(i->image, sizeof i->image, json_object_get(root, "image"));
    copy_json_str(i->command, sizeof i->command, json_object_get(root, "command"));
    copy_json_str(s->config_digest, sizeof s->config_digest,
                  json_object_get(root, "config_digest"));
    copy_json_str(s->rootfs_mode, sizeof s->rootfs_mode, json_object_get(root, "rootfs_mode"));
    i->status = status_parse(json_string_value(json_object_get(root, "status")));
    i->exit_code = (int)json_integer_value(json_object_get(root, "exit_code"));
    i->oom_killed = json_is_true(json_object_get(root, "oom_killed"));
    i->restarts = (int)json_integer_value(json_object_get(root, "restarts"));
    i->created = json_integer_value(json_object_get(root, "created"));
    i->started = json_integer_value(json_object_get(root, "started"));
    i->finished = json_integer_value(json_object_get(root, "finished"));
    i->supervisor_pid = (int)json_integer_value(json_object_get(root, "supervisor_pid"));
    i->pid = (int)json_integer_value(json_object_get(root, "pid"));
    int max = 0;
    const char *pol = json_string_value(json_object_get(root, "restart_policy"));
    if (!pol || veil_restart_policy_parse(pol, &s->restart, &max, NULL) != 0)
        s->restart = VEIL_RESTART_NEVER;
    s->max_retries = (int)json_integer_value(json_object_get(root, "max_retries"));
    s->memory = (uint64_t)json_integer_value(json_object_get(root, "memory"));
    s->log_max = (uint64_t)json_integer_value(json_object_get(root, "log_max"));
    s->log_files = (int)json_integer_value(json_object_get(root, "log_files"));
    json_t *layers = json_object_get(root, "layers");
    size_t n = json_array_size(layers);
    s->layers = calloc(n + 1, sizeof *s->layers);
    for (size_t k = 0; s->layers && k < n; k++) {
        const char *d = json_string_value(json_array_get(layers, k));
        if (!d || veil_digest_check(d, NULL) != 0)
            break;
        s->layers[k] = strdup(d);
        s->n_layers = k + 1;
    }
    json_decref(root);
    if (strcmp(i->id, id) != 0) {
        ct_state_free(s);
        return veil_err_set(err, VEIL_E_PARSE, "container %s: state names another id", id);
    }
    return 0;
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Finds a container by exact name, exact id or unique id prefix. */
static int find_container(const struct veil_runtime_opts *o, const char *key, char id[65],
                          veil_err *err)
{
    char dir[VEIL_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/containers", o->data_dir);
    DIR *d = opendir(dir);
    if (!d)
        return veil_err_set(err, VEIL_E_NOTFOUND, "no container '%s'", key);
    struct dirent *de;
    int found = 0;
    size_t kn = strlen(key);
    while ((de = readdir(d))) {
        if (!valid_id(de->d_name))
            continue;
        struct ct_state s;
        if (state_load(o, de->d_name, &s, NULL) != 0)
            continue;
        bool exact = strcmp(s.info.name, key) == 0 || strcmp(s.info.id, key) == 0;
        bool prefix = kn >= 4 && strncmp(s.info.id, key, kn) == 0;
        ct_state_free(&s);
        if (exact) {
            snprintf(id, 65, "%s", de->d_name);
            found = 1;
            break;
        }
        if (prefix) {
            snprintf(id, 65, "%s", de->d_name);
            found++;
        }
    }
    closedir(d);
    if (found == 1)
        return 0;
    return veil_err_set(err, found ? VEIL_E_INVALID : VEIL_E_NOTFOUND,
                        found ? "'%s' matches several containers" : "no container '%s'", key);
}

/* ------------------------------------------------------------------------ */
/* Running the OCI runtime                                                  */
/* ------------------------------------------------------------------------ */

/* Spawns argv with the given stdio fds (-1: /dev/null). Returns the pid. */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, int err_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int fds[3] = {in_fd, out_fd, err_fd};
    for (int k = 0; k < 3; k++) {
        if (fds[k] >= 0)
            posix_spawn_file_actions_adddup2(&fa, fds[k], k);
        else
            posix_spawn_file_actions_addopen(&fa, k, "/dev/null", k ? O_WRONLY : O_RDONLY, 0);
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGCHLD);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    if (posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Runs the runtime with args, capturing its stderr for error messages. */
static int run_engine(const struct veil_runtime_opts *o, const char *const *args, char *errout,
                      size_t errcap)
{
    char root[VEIL_PATH_MAX];
    snprintf(root, sizeof root, "%s/runc", o->data_dir);
    const char *argv[16];
    size_t n = 0;
    argv[n++] = engine_of(o);
    argv[n++] = "--root";
    argv[n++] = root;
    for (size_t i = 0; args[i] && n < VEIL_ARRAY_LEN(argv) - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = spawn((char *const *)argv, -1, -1, p[1]);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        if (errout)
            snprintf(errout, errcap, "cannot run %s", engine_of(o));
        return -1;
    }
    size_t got = 0;
    char buf[512];
    ssize_t r;
    while ((r = read(p[0], buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)) {
        if (r > 0 && errout && got + 1 < errcap) {
            size_t c = (size_t)r < errcap - 1 - got ? (size_t)r : errcap - 1 - got;
            memcpy(errout + got, buf, c);
            got += c;
        }
    }
    if (errout && errcap)
        errout[got] = '\0';
    close(p[0]);
    return wait_exit(pid);
}

/* Asks the runtime whether the container is running. */
static bool engine_says_running(const struct veil_runtime_opts *o, const char *id)
{
    char root[VEIL_PATH_MAX];
    snprintf(root, sizeof root, "%s/runc", o->data_dir);
    const char *argv[] = {engine_of(o), "--root", root, "state", id, NULL};
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return false;
    pid_t pid = spawn((char *const *)argv, -1, p[1], -1);
    close(p[1]);
    veil_buf out;
    veil_buf_init(&out);
    out.limit = 1 << 20;
    char buf[4096];
    ssize_t r;
    while ((r = read(p[0], buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0)
            veil_buf_put(&out, buf, (size_t)r);
    close(p[0]);
    bool running = false;
    if (pid > 0 && wait_exit(pid) == 0 && veil_buf_ok(&out)) {
        json_t *doc = json_loadb((char *)out.data, out.len, 0, NULL);
        const char *st = json_string_value(json_object_get(doc, "status"));
        running = st && (strcmp(st, "running") == 0 || strcmp(st, "created") == 0 ||
                         strcmp(st, "paused") == 0);
        json_decref(doc);
    }
    veil_buf_free(&out);
    return running;
}

static bool pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* ------------------------------------------------------------------------ */
/* Rootfs                                                                   */
/* ------------------------------------------------------------------------ */

static int mount_rootfs(const struct veil_runtime_opts *o, struct ct_state *s, veil_err *err)
{
    char rootfs[VEIL_PATH_MAX], upper[VEIL_PATH_MAX], work[VEIL_PATH_MAX];
    ct_path(o, s->info.id, "bundle/rootfs", rootfs, sizeof rootfs);
    ct_path(o, s->info.id, "upper", upper, sizeof upper);
    ct_path(o, s->info.id, "work", work, sizeof work);
    if (strcmp(s->rootfs_mode, "copy") == 0)
        return 0; /* already materialised */
    veil_buf opt;
    veil_buf_init(&opt);
    veil_buf_put_str(&opt, "lowerdir=");
    for (size_t k = s->n_layers; k-- > 0;) { /* topmost layer first */
        char lp[VEIL_PATH_MAX];
        veil_store_layer_path(o->data_dir, s->layers[k], lp, sizeof lp);
        veil_buf_printf(&opt, "%s%s", lp, k ? ":" : "");
    }
    veil_buf_printf(&opt, ",upperdir=%s,workdir=%s", upper, work);
    veil_buf_put_u8(&opt, 0);
    int rc = -1;
    /* VEIL_RUNTIME_FORCE_COPY=1 takes the copy path even where overlayfs
     * works, so that tests cover it. */
    const char *force_copy = getenv("VEIL_RUNTIME_FORCE_COPY");
    bool overlay_ok = !(force_copy && strcmp(force_copy, "1") == 0);
    if (overlay_ok && veil_buf_ok(&opt) && opt.len <= 4096 &&
        mount("overlay", rootfs, "overlay", 0, (char *)opt.data) == 0) {
        snprintf(s->rootfs_mode, sizeof s->rootfs_mode, "overlay");
        rc = 0;
    } else {
        /* No overlayfs (or too many layers for one mount): copy. */
        veil_log(VEIL_LOG_INFO, "runtime", "overlay mount failed, copying layers",
                 "id=%s reason=\"%s\"", s->info.id, strerror(errno));
        const char **dirs = calloc(s->n_layers + 1, sizeof *dirs);
        char **paths = calloc(s->n_layers + 1, sizeof *paths);
        if (dirs && paths) {
            for (size_t k = 0; k < s->n_layers; k++) {
                paths[k] = malloc(VEIL_PATH_MAX);
                if (paths[k])
                    veil_store_layer_path(o->data_dir, s->layers[k], paths[k], VEIL_PATH_MAX);
                dirs[k] = paths[k];
            }
            rc = veil_layers_flatten(dirs, s->n_layers, rootfs, err);
            for (size_t k = 0; k < s->n_layers; k++)
                free(paths[k]);
        } else {
            veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        }
        free(dirs);
        free(paths);
        if (rc == 0)
            snprintf(s->rootfs_mode, sizeof s->rootfs_mode, "copy");
    }
    veil_buf_free(&opt);
    return rc;
}

static void unmount_rootfs(const struct veil_runtime_opts *o, const struct ct_state *s)
{
    if (strcmp(s->rootfs_mode, "overlay") != 0)
        return;
    char rootfs[VEIL_PATH_MAX];
    ct_path(o, s->info.id, "bundle/rootfs", rootfs, sizeof rootfs);
    for (int i = 0; i < 50; i++) {
        if (umount2(rootfs, 0) == 0 || errno == EINVAL || errno == ENOENT)
            return;
        if (errno != EBUSY)
            break;
        usleep(20000);
    }
    umount2(rootfs, MNT_DETACH);
}

/* ------------------------------------------------------------------------ */
/* Logs                                                                     */
/* ------------------------------------------------------------------------ */

struct log_file {
    char path[VEIL_PATH_MAX];
    int fd;
    uint64_t size;
    uint64_t max;
    int keep;
    int echo_fd; /* -1: none */
};

static int log_open(struct log_file *l)
{
    l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat st;
    l->size = l->fd >= 0 && fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return l->fd >= 0 ? 0 : -1;
}

static void log_rotate(struct log_file *l)
{
    char from[VEIL_PATH_MAX + 8], to[VEIL_PATH_MAX + 8];
    for (int k = l->keep; k >= 1; k--) {
        snprintf(to, sizeof to, "%s.%d", l->path, k);
        if (k == 1)
            snprintf(from, sizeof from, "%s", l->path);
        else
            snprintf(from, sizeof from, "%s.%d", l->path, k - 1);
        rename(from, to);
    }
    if (l->fd >= 0)
        close(l->fd);
    log_open(l);
}

static void log_write(struct log_file *l, const char *data, size_t n)
{
    if (l->echo_fd >= 0) {
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(l->echo_fd, data + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    /* Never let a file pass the limit: a chunk that does not fit is split,
     * at the last line end that fits when there is one. */
    while (n > 0) {
        if (l->size >= l->max)
            log_rotate(l);
        if (l->fd < 0)
            return;
        size_t room = (size_t)(l->max - l->size);
        size_t take = n;
        if (take > room) {
            take = room;
            const char *nl = memrchr(data, '\n', room);
            if (nl)
                take = (size_t)(nl - data) + 1;
            else if (l->size > 0) {
                log_rotate(l); /* start the long line in a fresh file */
                continue;
            }
        }
        size_t off = 0;
        while (off < take) {
            ssize_t w = write(l->fd, data + off, take - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return;
            off += (size_t)w;
        }
        l->size += take;
        data += take;
        n -= take;
    }
}

/* ------------------------------------------------------------------------ */
/* Supervisor                                                               */
/* ------------------------------------------------------------------------ */

static volatile sig_atomic_t stop_signals;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_signals++;
}

static bool stop_requested(const struct veil_runtime_opts *o, const char *id)
{
    char p[VEIL_PATH_MAX];
    ct_path(o, id, "stop", p, sizeof p);
    return access(p, F_OK) == 0;
}

static void request_stop(const struct veil_runtime_opts *o, const char *id)
{
    char p[VEIL_PATH_MAX];
    ct_path(o, id, "stop", p, sizeof p);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

/* Reads the OOM-kill counter of the container's memory cgroup (v1
 * memory.oom_control, v2 memory.events). */
static long oom_kills(const char *id)
{
    char p[VEIL_PATH_MAX];
    const char *files[] = {"/sys/fs/cgroup/memory/veil/%s/memory.oom_control",
                           "/sys/fs/cgroup/veil/%s/memory.events"};
    for (size_t k = 0; k < VEIL_ARRAY_LEN(files); k++) {
        snprintf(p, sizeof p, files[k], id);
        FILE *f = fopen(p, "re");
        if (!f)
            continue;
        char line[128];
        long v = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "oom_kill %ld", &v) == 1)
                break;
        fclose(f);
        return v;
    }
    return 0;
}

/* One run of the container: create, start, pump logs, wait. Returns the
 * exit status (or -1 if it could not be started). ready_fd gets one byte
 * once the process runs (detached runs wait for it). */
static int run_once(const struct veil_runtime_opts *o, struct ct_state *s, struct log_file *out,
                    struct log_file *errl, int *ready_fd, bool attached, veil_err *err)
{
    const char *id = s->info.id;
    char bundle[VEIL_PATH_MAX], pidfile[VEIL_PATH_MAX], root[VEIL_PATH_MAX];
    ct_path(o, id, "bundle", bundle, sizeof bundle);
    ct_path(o, id, "container.pid", pidfile, sizeof pidfile);
    snprintf(root, sizeof root, "%s/runc", o->data_dir);
    unlink(pidfile);
    TRACE_STEP("mount");
    if (mount_rootfs(o, s, err) != 0)
        return -1;
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0)
        return veil_err_set(err, VEIL_E_IO, "pipe: %s", strerror(errno));
    /* `run --detach` is create + start in one runtime process (one Go
     * start-up less than separate create and start calls); the container's
     * init inherits the pipes (pass-through I/O) and, once the runtime has
     * exited, is re-parented to us as the subreaper. */
    const char *argv[] = {engine_of(o), "--root",     root,    "run", "--detach", "--bundle",
                          bundle,       "--pid-file", pidfile, id,    NULL};
    TRACE_STEP("run");
    pid_t creator = spawn((char *const *)argv, -1, po[1], pe[1]);
    close(po[1]);
    close(pe[1]);
    if (creator < 0) {
        close(po[0]);
        close(pe[0]);
        unmount_rootfs(o, s);
        return veil_err_set(
            err, VEIL_E_NOTFOUND,
            "cannot execute the OCI runtime '%s' (runtime.engine): is it installed?", engine_of(o));
    }
    int crc = wait_exit(creator);
    uint8_t *pidtext = NULL;
    size_t pidlen = 0;
    int pid = 0;
    if (crc == 0 && veil_file_read(pidfile, 64, &pidtext, &pidlen, NULL) == 0) {
        pid = atoi((char *)pidtext);
        free(pidtext);
    }
    if (crc != 0 || pid <= 0) {
        /* runc's own error text went to the stderr pipe: keep it for the message */
        char msg[512] = "";
        fcntl(pe[0], F_SETFL, O_NONBLOCK); /* a half-made init may hold the pipe */
        ssize_t n = read(pe[0], msg, sizeof msg - 1);
        msg[n > 0 ? n : 0] = '\0';
        close(po[0]);
        close(pe[0]);
        const char *del[] = {"delete", "-f", id, NULL};
        run_engine(o, del, NULL, 0);
        unmount_rootfs(o, s);
        return veil_err_set(err, VEIL_E_STATE, "%s run failed (exit %d): %s", engine_of(o), crc,
                            pid > 0 || crc != 0 ? msg : "no pid file");
    }
    TRACE_STEP("started");
    s->info.pid = pid;
    s->info.status = VEIL_CT_RUNNING;
    s->info.started = (int64_t)time(NULL);
    s->info.oom_killed = false;
    state_save(o, s, NULL);
    if (*ready_fd >= 0) {
        (void)!write(*ready_fd, "R", 1);
        close(*ready_fd);
        *ready_fd = -1;
    }

    fcntl(po[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    struct log_file *logs[2] = {out, errl};
    bool exited = false;
    int status = 0;
    int64_t exit_seen_ms = 0;
    int kills_sent = 0;
    char buf[65536];
    for (;;) {
        int open_fds = (pf[0].fd >= 0) + (pf[1].fd >= 0);
        if (exited && open_fds == 0)
            break;
        int pr = poll(pf, 2, 100);
        if (pr > 0) {
            for (int k = 0; k < 2; k++) {
                if (pf[k].fd < 0 || !(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                ssize_t r = read(pf[k].fd, buf, sizeof buf);
                if (r > 0)
                    log_write(logs[k], buf, (size_t)r);
                else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    close(pf[k].fd);
                    pf[k].fd = -1;
                }
            }
        }
        if (attached && stop_signals > kills_sent) {
            /* Ctrl-C on an attached run: stop it (second time: kill). */
            request_stop(o, id);
            const char *k1[] = {"kill", id, kills_sent ? "KILL" : "TERM", NULL};
            run_engine(o, k1, NULL, 0);
            kills_sent = stop_signals;
        }
        /* Reap: the container init (ours as subreaper) and any orphans. */
        int wst;
        pid_t w;
        while ((w = waitpid(-1, &wst, WNOHANG)) > 0) {
            if (w == pid) {
                exited = true;
                status = WIFEXITED(wst) ? WEXITSTATUS(wst)
                                        : 128 + (WIFSIGNALED(wst) ? WTERMSIG(wst) : 0);
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                exit_seen_ms = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
            }
        }
        if (w < 0 && errno == ECHILD && !exited) {
            /* Not our child (the supervisor was not the subreaper): poll. */
            if (!pid_alive(pid)) {
                exited = true;
                status = 255;
            }
        }
        if (exited && exit_seen_ms) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            if (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - exit_seen_ms > 2000)
                break; /* something outside the pid namespace holds the pipes */
        }
    }
    for (int k = 0; k < 2; k++)
        if (pf[k].fd >= 0)
            close(pf[k].fd);
    s->info.oom_killed = oom_kills(id) > 0;
    const char *del[] = {"delete", "-f", id, NULL};
    run_engine(o, del, NULL, 0);
    unmount_rootfs(o, s);
    return status;
}

static void supervise(const struct veil_runtime_opts *o, struct ct_state *s, bool attached,
                      int ready_fd, int *final_status, veil_err *err)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct log_file out = {.fd = -1, .echo_fd = attached ? STDOUT_FILENO : -1};
    struct log_file errl = {.fd = -1, .echo_fd = attached ? STDERR_FILENO : -1};
    ct_path(o, s->info.id, "stdout.log", out.path, sizeof out.path);
    ct_path(o, s->info.id, "stderr.log", errl.path, sizeof errl.path);
    out.max = errl.max = s->log_max ? s->log_max : DEFAULT_LOG_MAX;
    out.keep = errl.keep = s->log_files > 0 ? s->log_files : DEFAULT_LOG_FILES;
    log_open(&out);
    log_open(&errl);
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int status = -1;
    int failures = 0;
    for (;;) {
        veil_err rerr = {0};
        status = run_once(o, s, &out, &errl, &ready_fd, attached, &rerr);
        s->info.finished = (int64_t)time(NULL);
        if (status < 0) {
            s->info.exit_code = 127;
            s->info.status = VEIL_CT_EXITED;
            state_save(o, s, NULL);
            errl.echo_fd = -1; /* the caller reports it */
            log_write(&errl, rerr.msg, strlen(rerr.msg));
            log_write(&errl, "\n", 1);
            if (err)
                *err = rerr;
            break;
        }
        s->info.exit_code = status;
        bool stopping = stop_requested(o, s->info.id) || (attached && stop_signals);
        bool again = !stopping && (s->restart == VEIL_RESTART_ALWAYS ||
                                   (s->restart == VEIL_RESTART_ON_FAILURE && status != 0 &&
                                    (s->max_retries == 0 || s->info.restarts < s->max_retries)));
        if (!again) {
            s->info.status = stopping ? VEIL_CT_STOPPED : VEIL_CT_EXITED;
            state_save(o, s, NULL);
            break;
        }
        /* Backoff: 100 ms doubling up to 10 s for failures (Docker's rule),
         * reset after a run that lasted 10 s or more. */
        if (status != 0 && s->info.finished - s->info.started < 10)
            failures++;
        else
            failures = 0;
        s->info.status = VEIL_CT_RESTARTING;
        s->info.restarts++;
        state_save(o, s, NULL);
        int64_t delay_ms = failures ? 100LL << (failures - 1 < 7 ? failures - 1 : 7) : 0;
        if (delay_ms > 10000)
            delay_ms = 10000;
        for (int64_t waited = 0;
             waited < delay_ms && !stop_requested(o, s->info.id) && !(attached && stop_signals);
             waited += 20)
            usleep(20000);
        if (stop_requested(o, s->info.id) || (attached && stop_signals)) {
            s->info.status = VEIL_CT_STOPPED;
            state_save(o, s, NULL);
            break;
        }
    }
    if (ready_fd >= 0) {
        (void)!write(ready_fd, "F", 1);
        close(ready_fd);
    }
    if (out.fd >= 0)
        close(out.fd);
    if (errl.fd >= 0)
        close(errl.fd);
    *final_status = status;
}

/* ------------------------------------------------------------------------ */
/* Create and run                                                           */
/* ------------------------------------------------------------------------ */

/* Why a supervisor that wrote nothing may have failed: its log could not
 * be written (chaos s10: a start on a full disk said "did not start: "). */
static const char *no_reason(const struct veil_runtime_opts *o)
{
    struct statvfs v;
    if (statvfs(o->data_dir, &v) == 0 && v.f_bavail == 0)
        return "no space left on the data directory's disk (its supervisor could write nothing)";
    return "its supervisor wrote no reason";
}

static int name_in_use(const struct veil_runtime_opts *o, const char *name)
{
    char id[65];
    return find_container(o, name, id, NULL) == 0;
}

static bool valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 100 || n[0] == '.' || n[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static int load_image_config(const char *data_dir, const char *digest,
                             struct veil_image_config *cfg, veil_err *err)
{
    char p[VEIL_PATH_MAX];
    veil_store_blob_path(data_dir, digest, p, sizeof p);
    uint8_t *data;
    size_t len;
    if (veil_file_read(p, 16u << 20, &data, &len, err) != 0)
        return -1;
    int rc = veil_digest_verify(digest, data, len, err);
    if (rc == 0)
        rc = veil_image_config_parse(data, len, cfg, err);
    free(data);
    return rc;
}

static int create_container(const struct veil_runtime_opts *o, const struct veil_run_request *req,
                            struct ct_state *s, veil_err *err)
{
    memset(s, 0, sizeof *s);
    if (req->name && !valid_name(req->name))
        return veil_err_set(err, VEIL_E_INVALID,
                            "container name '%s': letters, digits, '_', '.', '-' (max 100)",
                            req->name);
    struct veil_image_info img;
    if (veil_image_lookup(o->data_dir, req->image, &img, err) != 0)
        return -1;
    int lock = veil_store_lock(o->data_dir, false, err); /* GC must wait */
    if (lock < 0) {
        veil_image_info_free(&img);
        return -1;
    }
    struct veil_image_config icfg = {0};
    char *spec = NULL;
    int rc = -1;
    if (load_image_config(o->data_dir, img.config_digest, &icfg, err) != 0)
        goto out;
    uint8_t rb[16];
    veil_random_bytes(rb, sizeof rb);
    veil_hex_encode(s->info.id, sizeof s->info.id, rb, sizeof rb);
    if (req->name) {
        if (name_in_use(o, req->name)) {
            veil_err_set(err, VEIL_E_EXISTS, "a container named '%s' exists (veil rm it first)",
                         req->name);
            goto out;
        }
        snprintf(s->info.name, sizeof s->info.name, "%s", req->name);
    } else {
        snprintf(s->info.name, sizeof s->info.name, "veil-%.12s", s->info.id);
    }
    snprintf(s->info.image, sizeof s->info.image, "%s", img.name);
    snprintf(s->config_digest, sizeof s->config_digest, "%s", img.config_digest);
    s->layers = img.layers;
    s->n_layers = img.n_layers;
    img.layers = NULL;
    img.n_layers = 0;
    s->restart = req->restart;
    s->max_retries = req->max_retries;
    s->memory = req->memory_bytes;
    s->log_max = req->log_max_bytes;
    s->log_files = req->log_max_files;
    s->info.created = (int64_t)time(NULL);
    s->info.status = VEIL_CT_CREATED;
    snprintf(s->rootfs_mode, sizeof s->rootfs_mode, "overlay");

    char dir[VEIL_PATH_MAX], p[VEIL_PATH_MAX];
    ct_path(o, s->info.id, NULL, dir, sizeof dir);
    if (veil_mkdir_p(dir, 0700, err) != 0)
        goto out;
    static const char *const subdirs[] = {"bundle", "bundle/rootfs", "upper", "work"};
    for (size_t k = 0; k < VEIL_ARRAY_LEN(subdirs); k++) {
        ct_path(o, s->info.id, subdirs[k], p, sizeof p);
        if (mkdir(p, k == 1 ? 0755 : 0700) != 0) {
            veil_err_set(err, VEIL_E_IO, "%s: %s", p, strerror(errno));
            goto out;
        }
    }
    /* The store lock is held until state.json (which pins the layers
     * against GC) is written at the end. */

    /* The user is resolved against the image's files: the lowest layer
     * directories are enough for /etc/passwd in practice; search top-down. */
    uint32_t uid = 0, gid = 0;
    const char *user = req->user ? req->user : icfg.user;
    if (user && *user) {
        int ur = -1;
        veil_err uerr = {0};
        for (size_t k = s->n_layers; k-- > 0 && ur != 0;) {
            char lp[VEIL_PATH_MAX];
            veil_store_layer_path(o->data_dir, s->layers[k], lp, sizeof lp);
            char pw[VEIL_PATH_MAX + 16];
            snprintf(pw, sizeof pw, "%s/etc/passwd", lp);
            if (access(pw, F_OK) == 0 || k == 0)
                ur = veil_resolve_user(lp, user, &uid, &gid, &uerr);
        }
        if (ur != 0) {
            if (err)
                *err = uerr;
            goto out;
        }
    }
    char cgpath[128];
    snprintf(cgpath, sizeof cgpath, "/veil/%s", s->info.id);
    struct veil_oci_spec_input in = {.req = req,
                                     .image = &icfg,
                                     .uid = uid,
                                     .gid = gid,
                                     .cgroups_path = cgpath,
                                     .hostname = req->hostname ? req->hostname : s->info.name};
    if (veil_oci_spec_build(&in, &spec, err) != 0)
        goto out;
    ct_path(o, s->info.id, "bundle/config.json", p, sizeof p);
    if (write_replace(p, spec, err) != 0)
        goto out;
    /* command line for ps */
    json_t *sj = json_loads(spec, 0, NULL);
    json_t *args = json_object_get(json_object_get(sj, "process"), "args");
    size_t k;
    json_t *a;
    size_t off = 0;
    json_array_foreach(args, k, a)
    {
        int w = snprintf(s->info.command + off, sizeof s->info.command - off, "%s%s", k ? " " : "",
                         json_string_value(a));
        if (w < 0 || (size_t)w >= sizeof s->info.command - off)
            break;
        off += (size_t)w;
    }
    json_decref(sj);
    rc = state_save(o, s, err);
out:
    if (lock >= 0)
        close(lock);
    free(spec);
    veil_image_config_free(&icfg);
    veil_image_info_free(&img);
    if (rc != 0 && s->info.id[0]) {
        char d2[VEIL_PATH_MAX];
        ct_path(o, s->info.id, NULL, d2, sizeof d2);
        veil_remove_tree(d2);
        ct_state_free(s);
    }
    return rc;
}

int veil_container_run(const struct veil_runtime_opts *o, const struct veil_run_request *req,
                       bool attached, struct veil_container_info *info, int *exit_code,
                       veil_err *err)
{
    struct ct_state s;
    TRACE_STEP("begin");
    if (create_container(o, req, &s, err) != 0)
        return -1;
    TRACE_STEP("created");
    if (attached) {
        s.info.supervisor_pid = (int)getpid();
        state_save(o, &s, NULL);
        int status = -1;
        veil_err serr = {0};
        supervise(o, &s, true, -1, &status, &serr);
        *info = s.info;
        ct_state_free(&s);
        if (status < 0) {
            if (err)
                *err = serr;
            return -1;
        }
        *exit_code = status;
        return 0;
    }
    /* Detached: the forked child becomes the supervisor daemon in its own
     * session (one fork: this process exits soon and init adopts it). It
     * reports on a pipe once the container runs (or failed). */
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
        ct_state_free(&s);
        return veil_err_set(err, VEIL_E_IO, "pipe: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child < 0) {
        ct_state_free(&s);
        return veil_err_set(err, VEIL_E_IO, "fork: %s", strerror(errno));
    }
    if (child == 0) {
        close(ready[0]);
        setsid();
        char logp[VEIL_PATH_MAX];
        ct_path(o, s.info.id, "supervisor.log", logp, sizeof logp);
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        int lf = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        dup2(nul, 0);
        dup2(lf >= 0 ? lf : nul, 1);
        dup2(lf >= 0 ? lf : nul, 2);
        /* Keep only the ready pipe (as fd 3): drop every other inherited
         * descriptor (locks, the caller's pipes). */
        int ready_fd = ready[1] == 3 ? 3 : dup2(ready[1], 3);
        close_range(4, ~0U, 0);
        s.info.supervisor_pid = (int)getpid();
        int status;
        veil_err serr = {0};
        supervise(o, &s, false, ready_fd, &status, &serr);
        if (status < 0)
            fprintf(stderr, "supervisor: %s\n", serr.msg);
        _exit(0);
    }
    close(ready[1]);
    char c = 0;
    ssize_t n;
    while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    TRACE_STEP("running");
    struct ct_state now;
    int rc = 0;
    if (state_load(o, s.info.id, &now, err) == 0) {
        *info = now.info;
        ct_state_free(&now);
    } else {
        *info = s.info;
    }
    if (n != 1 || c != 'R') {
        char logp[VEIL_PATH_MAX];
        ct_path(o, s.info.id, "stderr.log", logp, sizeof logp);
        uint8_t *txt = NULL;
        size_t len = 0;
        veil_file_read(logp, 4096, &txt, &len, NULL);
        rc = veil_err_set(err, VEIL_E_STATE, "container %s did not start: %s", s.info.name,
                          txt && len ? (char *)txt : no_reason(o));
        free(txt);
    }
    ct_state_free(&s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Queries and control                                                      */
/* ------------------------------------------------------------------------ */

/* Brings a loaded state up to date: a supervisor that died leaves "running"
 * behind; the runtime then says whether the process still runs. */
static void reconcile(const struct veil_runtime_opts *o, struct ct_state *s)
{
    enum veil_container_status st = s->info.status;
    if (st != VEIL_CT_RUNNING && st != VEIL_CT_RESTARTING && st != VEIL_CT_CREATED)
        return;
    if (pid_alive(s->info.supervisor_pid))
        return;
    if (st == VEIL_CT_RUNNING && engine_says_running(o, s->info.id))
        return; /* unsupervised but alive */
    if (st == VEIL_CT_CREATED && s->info.supervisor_pid == 0)
        return;
    s->info.status = VEIL_CT_EXITED;
    if (!s->info.finished)
        s->info.finished = (int64_t)time(NULL);
    if (s->info.exit_code == 0)
        s->info.exit_code = 255; /* unknown: the supervisor died */
}

int veil_container_inspect(const struct veil_runtime_opts *o, const char *key,
                           struct veil_container_info *info, veil_err *err)
{
    char id[65];
    if (find_container(o, key, id, err) != 0)
        return -1;
    struct ct_state s;
    if (state_load(o, id, &s, err) != 0)
        return -1;
    reconcile(o, &s);
    *info = s.info;
    ct_state_free(&s);
    return 0;
}

int veil_container_list(const struct veil_runtime_opts *o, bool all,
                        struct veil_container_info **out, size_t *n, veil_err *err)
{
    *out = NULL;
    *n = 0;
    char dir[VEIL_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/containers", o->data_dir);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : veil_err_set(err, VEIL_E_IO, "%s: %s", dir, strerror(errno));
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!valid_id(de->d_name))
            continue;
        struct ct_state s;
        if (state_load(o, de->d_name, &s, NULL) != 0)
            continue;
        reconcile(o, &s);
        bool live = s.info.status == VEIL_CT_RUNNING || s.info.status == VEIL_CT_RESTARTING ||
                    s.info.status == VEIL_CT_CREATED;
        if (all || live) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                struct veil_container_info *p = realloc(*out, cap * sizeof *p);
                if (!p) {
                    ct_state_free(&s);
                    break;
                }
                *out = p;
            }
            (*out)[(*n)++] = s.info;
        }
        ct_state_free(&s);
    }
    closedir(d);
    return 0;
}

static int wait_finished(const struct veil_runtime_opts *o, const char *id, int64_t timeout_ms)
{
    for (int64_t waited = 0; waited <= timeout_ms; waited += 20) {
        struct ct_state s;
        if (state_load(o, id, &s, NULL) != 0)
            return 0;
        bool done = (s.info.status == VEIL_CT_EXITED || s.info.status == VEIL_CT_STOPPED) &&
                    !pid_alive(s.info.supervisor_pid);
        if (!pid_alive(s.info.supervisor_pid))
            done = true;
        ct_state_free(&s);
        if (done)
            return 0;
        usleep(20000);
    }
    return -1;
}

int veil_container_stop(const struct veil_runtime_opts *o, const char *key, int64_t timeout_ms,
                        veil_err *err)
{
    char id[65];
    if (find_container(o, key, id, err) != 0)
        return -1;
    request_stop(o, id);
    const char *term[] = {"kill", id, "TERM", NULL};
    run_engine(o, term, NULL, 0);
    if (wait_finished(o, id, timeout_ms) != 0) {
        const char *kill9[] = {"kill", "--all", id, "KILL", NULL};
        run_engine(o, kill9, NULL, 0);
        if (wait_finished(o, id, 10000) != 0)
            return veil_err_set(err, VEIL_E_TIMEOUT, "container %s did not stop", key);
    }
    /* The supervisor cleans up after itself; if it had died, do it here. */
    struct ct_state s;
    if (state_load(o, id, &s, err) != 0)
        return -1;
    const char *del[] = {"delete", "-f", id, NULL};
    run_engine(o, del, NULL, 0);
    unmount_rootfs(o, &s);
    if (s.info.status != VEIL_CT_EXITED && s.info.status != VEIL_CT_STOPPED) {
        s.info.status = VEIL_CT_STOPPED;
        s.info.finished = (int64_t)time(NULL);
        state_save(o, &s, NULL);
    }
    ct_state_free(&s);
    return 0;
}

int veil_container_remove(const struct veil_runtime_opts *o, const char *key, bool force,
                          veil_err *err)
{
    char id[65];
    if (find_container(o, key, id, err) != 0)
        return -1;
    struct ct_state s;
    if (state_load(o, id, &s, err) != 0)
        return -1;
    reconcile(o, &s);
    bool live = s.info.status == VEIL_CT_RUNNING || s.info.status == VEIL_CT_RESTARTING;
    if (live && !force) {
        ct_state_free(&s);
        return veil_err_set(err, VEIL_E_STATE, "container %s is %s (stop it or use --force)", key,
                            veil_container_status_name(s.info.status));
    }
    if (live && veil_container_stop(o, id, 2000, err) != 0) {
        ct_state_free(&s);
        return -1;
    }
    const char *del[] = {"delete", "-f", id, NULL};
    run_engine(o, del, NULL, 0);
    unmount_rootfs(o, &s);
    ct_state_free(&s);
    char dir[VEIL_PATH_MAX];
    ct_path(o, id, NULL, dir, sizeof dir);
    if (veil_remove_tree(dir) != 0)
        return veil_err_set(err, VEIL_E_IO, "removing %s: %s", dir, strerror(errno));
    return 0;
}

/* Copies from fd to out_fd; returns bytes copied. */
static size_t drain(int fd, int out_fd)
{
    char buf[65536];
    size_t total = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        (void)!write(out_fd, buf, (size_t)r);
        total += (size_t)r;
    }
    return total;
}

int veil_container_logs(const struct veil_runtime_opts *o, const char *key, bool follow,
                        veil_err *err)
{
    char id[65];
    if (find_container(o, key, id, err) != 0)
        return -1;
    struct ct_state s;
    if (state_load(o, id, &s, err) != 0)
        return -1;
    int keep = s.log_files > 0 ? s.log_files : DEFAULT_LOG_FILES;
    ct_state_free(&s);
    static const char *const names[2] = {"stdout.log", "stderr.log"};
    int fds[2] = {-1, -1};
    ino_t inos[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        /* rotated files, oldest first */
        for (int r = keep; r >= 1; r--) {
            char p[VEIL_PATH_MAX + 8], base[VEIL_PATH_MAX];
            ct_path(o, id, names[k], base, sizeof base);
            snprintf(p, sizeof p, "%s.%d", base, r);
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                drain(fd, k + 1);
                close(fd);
            }
        }
        char p[VEIL_PATH_MAX];
        ct_path(o, id, names[k], p, sizeof p);
        fds[k] = open(p, O_RDONLY | O_CLOEXEC);
        if (fds[k] >= 0) {
            struct stat st;
            fstat(fds[k], &st);
            inos[k] = st.st_ino;
            drain(fds[k], k + 1);
        }
    }
    while (follow) {
        struct veil_container_info info;
        bool live = veil_container_inspect(o, id, &info, NULL) == 0 &&
                    (info.status == VEIL_CT_RUNNING || info.status == VEIL_CT_RESTARTING ||
                     info.status == VEIL_CT_CREATED);
        for (int k = 0; k < 2; k++) {
            char p[VEIL_PATH_MAX];
            ct_path(o, id, names[k], p, sizeof p);
            if (fds[k] >= 0)
                drain(fds[k], k + 1);
            struct stat st;
            if (stat(p, &st) == 0 && st.st_ino != inos[k]) { /* rotated */
                if (fds[k] >= 0)
                    close(fds[k]);
                fds[k] = open(p, O_RDONLY | O_CLOEXEC);
                inos[k] = st.st_ino;
                if (fds[k] >= 0)
                    drain(fds[k], k + 1);
            }
        }
        if (!live)
            break;
        usleep(100000);
    }
    for (int k = 0; k < 2; k++)
        if (fds[k] >= 0)
            close(fds[k]);
    return 0;
}
