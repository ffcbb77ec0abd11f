// SPDX-License-Identifier: Apache-2.0
/*
 * ctnet.c - a container's own network namespace wired to the node by a veth
 * pair (include/veil/runtime.h, veil_ctnet_*), and the one helper that runs
 * a system tool (ip, nft) without a shell. The namespace is named so that
 * the OCI runtime joins it (linux.namespaces[].path) and the node can find
 * and delete it after a restart; addresses come from the slot alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <veil/runtime.h>

#define CTNET_SLOTS 16384
#define TOOL_OUT    512

extern char **environ;

/* Reads what the child wrote (kept to TOOL_OUT bytes) until it closes. */
static void drain(int fd, char *out, size_t cap)
{
    size_t used = 0;
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < n && used + 1 < cap; i++)
            out[used++] = buf[i] == '\n' ? ' ' : buf[i];
    }
    out[used] = '\0';
}

static int spawn_tool(char *const argv[], int in_fd, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    int rc = posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    rc |= posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    rc |= posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    if (rc == 0)
        rc = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? 0 : -1;
}

int veil_run_tool(char *const argv[], const char *input, veil_err *err)
{
    int in[2], out[2];
    char msg[TOOL_OUT];
    pid_t pid;
    if (pipe2(in, O_CLOEXEC) != 0)
        return veil_err_set(err, VEIL_E_IO, "%s: pipe: %s", argv[0], strerror(errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return veil_err_set(err, VEIL_E_IO, "%s: pipe: %s", argv[0], strerror(errno));
    }
    int rc = spawn_tool(argv, in[0], out[1], &pid);
    close(in[0]);
    close(out[1]);
    if (rc == 0 && input) {
        /* a tool that exits early closes its end: no SIGPIPE for us */
        void (*old)(int) = signal(SIGPIPE, SIG_IGN);
        size_t len = strlen(input), off = 0;
        while (off < len) {
            ssize_t w = write(in[1], input + off, len - off);
            if (w <= 0 && errno != EINTR)
                break;
            off += w > 0 ? (size_t)w : 0;
        }
        signal(SIGPIPE, old);
    }
    close(in[1]);
    drain(out[0], msg, sizeof msg);
    close(out[0]);
    if (rc != 0)
        return veil_err_set(err, VEIL_E_IO, "%s: cannot run it", argv[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return veil_err_set(err, VEIL_E_IO, "%s %s failed: %s", argv[0], argv[1] ? argv[1] : "",
                            msg);
    return 0;
}

int veil_ctnet_plan(const char *tag, unsigned slot, struct veil_ctnet *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    size_t tl = tag ? strlen(tag) : 0;
    if (tl == 0 || tl > 16 ||
        strspn(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789") != tl)
        return veil_err_set(err, VEIL_E_INVALID, "container network: bad node tag");
    if (slot >= CTNET_SLOTS)
        return veil_err_set(err, VEIL_E_RANGE, "container network: slot %u (at most %u)", slot,
                            CTNET_SLOTS - 1);
    unsigned base = slot * 4; /* a /30 per container in 10.201.0.0/16 */
    snprintf(out->netns, sizeof out->netns, "veil-%s-%u", tag, slot);
    snprintf(out->host_if, sizeof out->host_if, "vh%u", slot);
    snprintf(out->host_ip, sizeof out->host_ip, "10.201.%u.%u", base >> 8, (base & 255) + 1);
    snprintf(out->ct_ip, sizeof out->ct_ip, "10.201.%u.%u", base >> 8, (base & 255) + 2);
    return 0;
}

void veil_ctnet_destroy(const struct veil_ctnet *n)
{
    char *del[] = {"ip", "netns", "del", (char *)n->netns, NULL};
    char *link[] = {"ip", "link", "del", (char *)n->host_if, NULL};
    veil_err ignored = {0};
    (void)veil_run_tool(del, NULL, &ignored);
    (void)veil_run_tool(link, NULL, &ignored); /* a pair left without its namespace */
}

int veil_ctnet_create(const struct veil_ctnet *n, veil_err *err)
{
    char ct_cidr[24], host_cidr[24];
    char *ns = (char *)n->netns, *hif = (char *)n->host_if;
    snprintf(ct_cidr, sizeof ct_cidr, "%s/30", n->ct_ip);
    snprintf(host_cidr, sizeof host_cidr, "%s/30", n->host_ip);
    char *steps[][12] = {
        {"ip", "netns", "add", ns, NULL},
        {"ip", "link", "add", hif, "type", "veth", "peer", "name", "eth0", "netns", ns, NULL},
        {"ip", "addr", "add", host_cidr, "dev", hif, NULL},
        {"ip", "link", "set", hif, "up", NULL},
        {"ip", "-n", ns, "link", "set", "lo", "up", NULL},
        {"ip", "-n", ns, "addr", "add", ct_cidr, "dev", "eth0", NULL},
        {"ip", "-n", ns, "link", "set", "eth0", "up", NULL},
        {"ip", "-n", ns, "route", "add", "default", "via", (char *)n->host_ip, NULL},
    };
    veil_ctnet_destroy(n);
    for (size_t i = 0; i < VEIL_ARRAY_LEN(steps); i++)
        if (veil_run_tool(steps[i], NULL, err) != 0) {
            veil_ctnet_destroy(n);
            return veil_err_wrap(err, "container network %s", n->netns);
        }
    return 0;
}
