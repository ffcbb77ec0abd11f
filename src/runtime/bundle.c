// SPDX-License-Identifier: Apache-2.0
/*
 * bundle.c - OCI runtime bundles: config.json built from the image config
 * and the run request (opencontainers/runtime-spec config.md and
 * config-linux.md, version 1.0.2), and user/group resolution against the
 * image's own /etc/passwd and /etc/group.
 *
 * Defaults follow what Docker gives a container: the capability set of
 * moby's oci/caps/defaults.go, the standard /proc, /dev, /dev/pts,
 * /dev/shm, /dev/mqueue, /sys and cgroup mounts, masked and read-only
 * /proc paths, no new privileges, and new pid, net, ipc, uts and mount
 * namespaces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "runtime_internal.h"

static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

static const char *const masked_paths[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *mount_entry(const char *dest, const char *type, const char *source,
                           const char *const *options, size_t n_options)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source,
                     "options", str_array(options, n_options));
}

/* Adds K=V to env, replacing an entry with the same key. */
static void env_set(json_t *env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t kn = eq ? (size_t)(eq - kv) : strlen(kv);
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *s = json_string_value(e);
        if (s && strncmp(s, kv, kn) == 0 && (s[kn] == '=' || s[kn] == '\0')) {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

int veil_oci_spec_build(const struct veil_oci_spec_input *in, char **json_text, veil_err *err)
{
    const struct veil_run_request *req = in->req;
    const struct veil_image_config *img = in->image;
    *json_text = NULL;

    json_t *args = json_array();
    if (img)
        for (size_t i = 0; i < img->n_entrypoint; i++)
            json_array_append_new(args, json_string(img->entrypoint[i]));
    if (req->n_args) {
        for (size_t i = 0; i < req->n_args; i++)
            json_array_append_new(args, json_string(req->args[i]));
    } else if (img) {
        for (size_t i = 0; i < img->n_cmd; i++)
            json_array_append_new(args, json_string(img->cmd[i]));
    }
    if (json_array_size(args) == 0) {
        json_decref(args);
        return veil_err_set(err, VEIL_E_INVALID,
                            "no command: the image has no Entrypoint/Cmd and none was given");
    }
    json_t *env = json_array();
    env_set(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (img)
        for (size_t i = 0; i < img->n_env; i++)
            env_set(env, img->env[i]);
    const char *hostname = in->hostname ? in->hostname : "veil";
    {
        char h[300];
        snprintf(h, sizeof h, "HOSTNAME=%s", hostname);
        env_set(env, h);
    }
    for (size_t i = 0; i < req->n_env; i++)
        env_set(env, req->env[i]);
    const char *cwd = req->cwd && *req->cwd                          ? req->cwd
                      : img && img->working_dir && *img->working_dir ? img->working_dir
                                                                     : "/";
    if (cwd[0] != '/') {
        json_decref(args);
        json_decref(env);
        return veil_err_set(err, VEIL_E_INVALID, "working directory '%s' is not absolute", cwd);
    }
    /* Open files: as many as this process may have (Docker passes its
     * daemon's limit on); asking for more than the hard limit fails. */
    struct rlimit nofile = {1024, 1024};
    getrlimit(RLIMIT_NOFILE, &nofile);
    json_int_t nofile_max = nofile.rlim_max == RLIM_INFINITY || nofile.rlim_max > 1048576
                                ? 1048576
                                : (json_int_t)nofile.rlim_max;
    json_t *caps = str_array(default_caps, VEIL_ARRAY_LEN(default_caps));
    json_t *process =
        json_pack("{s:b, s:{s:I, s:I}, s:o, s:o, s:s, s:{s:O, s:O, s:O}, s:[{s:s, s:I, s:I}], s:b}",
                  "terminal", 0, "user", "uid", (json_int_t)in->uid, "gid", (json_int_t)in->gid,
                  "args", args, "env", env, "cwd", cwd, "capabilities", "bounding", caps,
                  "effective", caps, "permitted", caps, "rlimits", "type", "RLIMIT_NOFILE", "hard",
                  nofile_max, "soft", nofile_max, "noNewPrivileges", 1);
    json_decref(caps);

    static const char *const proc_opts[] = {"nosuid", "noexec", "nodev"};
    static const char *const dev_opts[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
    static const char *const pts_opts[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                           "mode=0620"};
    static const char *const shm_opts[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"};
    static const char *const mq_opts[] = {"nosuid", "noexec", "nodev"};
    static const char *const sys_opts[] = {"nosuid", "noexec", "nodev", "ro"};
    static const char *const cg_opts[] = {"nosuid", "noexec", "nodev", "relatime", "ro"};
    json_t *mounts = json_array();
    json_array_append_new(mounts, mount_entry("/proc", "proc", "proc", proc_opts, 3));
    json_array_append_new(mounts, mount_entry("/dev", "tmpfs", "tmpfs", dev_opts, 4));
    json_array_append_new(mounts, mount_entry("/dev/pts", "devpts", "devpts", pts_opts, 5));
    json_array_append_new(mounts, mount_entry("/dev/shm", "tmpfs", "shm", shm_opts, 5));
    json_array_append_new(mounts, mount_entry("/dev/mqueue", "mqueue", "mqueue", mq_opts, 3));
    if (req->host_network) {
        /* sysfs cannot be mounted fresh without a new net namespace */
        static const char *const rbind_ro[] = {"rbind", "nosuid", "noexec", "nodev", "ro"};
        json_array_append_new(mounts, mount_entry("/sys", "bind", "/sys", rbind_ro, 5));
    } else {
        json_array_append_new(mounts, mount_entry("/sys", "sysfs", "sysfs", sys_opts, 4));
    }
    json_array_append_new(mounts, mount_entry("/sys/fs/cgroup", "cgroup", "cgroup", cg_opts, 5));
    for (size_t i = 0; i < req->n_mounts; i++) {
        const struct veil_mount_spec *m = &req->mounts[i];
        if (!m->destination || m->destination[0] != '/' || !m->source || m->source[0] != '/') {
            json_decref(process);
            json_decref(mounts);
            return veil_err_set(err, VEIL_E_INVALID, "mount %s:%s: paths must be absolute",
                                m->source ? m->source : "", m->destination ? m->destination : "");
        }
        static const char *const rw[] = {"rbind", "rprivate"};
        static const char *const ro[] = {"rbind", "rprivate", "ro"};
        json_array_append_new(mounts, mount_entry(m->destination, "bind", m->source,
                                                  m->readonly ? ro : rw, m->readonly ? 3 : 2));
    }

    json_t *resources = json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm");
    if (req->memory_bytes) {
        /* limit == memsw limit: no swap beyond the memory limit */
        json_object_set_new(resources, "memory",
                            json_pack("{s:I, s:I}", "limit", (json_int_t)req->memory_bytes, "swap",
                                      (json_int_t)req->memory_bytes));
    }
    if (req->cpus > 0 || req->cpu_shares) {
        json_t *cpu = json_object();
        if (req->cpus > 0) {
            const json_int_t period = 100000;
            json_int_t quota = (json_int_t)(req->cpus * (double)period);
            if (quota < 1000)
                quota = 1000; /* the kernel's minimum is 1 ms */
            json_object_set_new(cpu, "quota", json_integer(quota));
            json_object_set_new(cpu, "period", json_integer(period));
        }
        if (req->cpu_shares)
            json_object_set_new(cpu, "shares", json_integer((json_int_t)req->cpu_shares));
        json_object_set_new(resources, "cpu", cpu);
    }
    if (req->pids_limit > 0)
        json_object_set_new(resources, "pids",
                            json_pack("{s:I}", "limit", (json_int_t)req->pids_limit));

    json_t *ns = json_array();
    static const char *const ns_types[] = {"pid", "ipc", "uts", "mount", "network"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(ns_types); i++) {
        bool net = strcmp(ns_types[i], "network") == 0;
        if (req->host_network && net)
            continue;
        if (net && req->netns_path)
            json_array_append_new(ns, json_pack("{s:s, s:s}", "type", ns_types[i], "path",
                                                req->netns_path));
        else
            json_array_append_new(ns, json_pack("{s:s}", "type", ns_types[i]));
    }
    json_t *linux_obj =
        json_pack("{s:o, s:s, s:o, s:o, s:o}", "resources", resources, "cgroupsPath",
                  in->cgroups_path ? in->cgroups_path : "", "namespaces", ns, "maskedPaths",
                  str_array(masked_paths, VEIL_ARRAY_LEN(masked_paths)), "readonlyPaths",
                  str_array(readonly_paths, VEIL_ARRAY_LEN(readonly_paths)));
    if (!in->cgroups_path)
        json_object_del(linux_obj, "cgroupsPath");

    json_t *root =
        json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2", "process",
                  process, "root", "path", "rootfs", "readonly", req->readonly_rootfs, "hostname",
                  hostname, "mounts", mounts, "linux", linux_obj);
    if (!root)
        return veil_err_set(err, VEIL_E_INTERNAL, "building config.json failed");
    *json_text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    return *json_text ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
}

static bool parse_u32(const char *s, size_t n, uint32_t *out)
{
    if (n == 0 || n > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Looks `name` up in a passwd/group style file: field 0 = name, field 2 =
 * id, field 3 = primary gid (passwd only). */
static int lookup_db(const char *rootfs, const char *file, const char *name, size_t name_len,
                     uint32_t *id, uint32_t *gid)
{
    char p[VEIL_PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", rootfs, file);
    uint8_t *data;
    size_t len;
    /* Reading through the host path is fine here: the rootfs is ours and
     * the file is only parsed, never written. */
    if (veil_file_read(p, 4u << 20, &data, &len, NULL) != 0)
        return -1;
    int rc = -1;
    char *save = NULL;
    for (char *line = strtok_r((char *)data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[4] = {0};
        char *cur = line;
        for (int k = 0; k < 4 && cur; k++) {
            f[k] = cur;
            char *c = strchr(cur, ':');
            if (c)
                *c++ = '\0';
            cur = c;
        }
        if (!f[0] || !f[2] || strlen(f[0]) != name_len || strncmp(f[0], name, name_len) != 0)
            continue;
        if (!parse_u32(f[2], strlen(f[2]), id))
            continue;
        if (gid && (!f[3] || !parse_u32(f[3], strcspn(f[3], ":"), gid)))
            *gid = *id;
        rc = 0;
        break;
    }
    free(data);
    return rc;
}

int veil_resolve_user(const char *rootfs, const char *user, uint32_t *uid, uint32_t *gid,
                      veil_err *err)
{
    *uid = 0;
    *gid = 0;
    if (!user || !*user)
        return 0;
    const char *colon = strchr(user, ':');
    size_t un = colon ? (size_t)(colon - user) : strlen(user);
    if (!parse_u32(user, un, uid) && lookup_db(rootfs, "etc/passwd", user, un, uid, gid) != 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "user '%.*s' not found in the image", (int)un,
                            user);
    /* A numeric uid keeps gid 0 unless a group is given, as Docker does. */
    if (colon) {
        const char *g = colon + 1;
        if (!parse_u32(g, strlen(g), gid) &&
            lookup_db(rootfs, "etc/group", g, strlen(g), gid, NULL) != 0)
            return veil_err_set(err, VEIL_E_NOTFOUND, "group '%s' not found in the image", g);
    }
    return 0;
}
