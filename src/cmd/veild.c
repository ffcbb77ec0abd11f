// SPDX-License-Identifier: Apache-2.0
/*
 * veild.c - the node daemon's entry point: parses flags, layers the
 * configuration (defaults < file < env < flags), logs it, and runs the event
 * loop until SIGINT or SIGTERM, then shuts down cleanly.
 *
 * With a cluster configured (cluster_id, as 'veil node join' writes it) the
 * node's services (src/node/daemon.c: store, API, libp2p, gossipsub, SWIM,
 * encrypted telemetry) run on this loop; without one veild only waits for a
 * signal, so that a fresh install starts and stops cleanly.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "../node/daemon.h"
#include "cli.h"

static const char veild_usage[] =
    "Usage: veild [options]\n"
    "\n"
    "The Veil node daemon. Runs until SIGINT or SIGTERM.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE      YAML configuration file (env VEIL_CONFIG)\n"
    "  -d, --data-dir DIR     node state directory (env VEIL_DATA_DIR)\n"
    "  -l, --log-level LEVEL  error, warn, info, debug, trace (env VEIL_LOG; default info)\n"
    "  -s, --set KEY=VALUE    set any configuration key (see 'veil config keys')\n"
    "      --check            validate the configuration, print it and exit\n"
    "  -V, --version          print the version and exit\n"
    "  -h, --help             show this help\n";

struct daemon_state {
    uv_loop_t loop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    int signal_received;
    veil_daemon *node;
};

static void on_signal(uv_signal_t *handle, int signum)
{
    struct daemon_state *d = handle->data;
    d->signal_received = signum;
    veil_log(VEIL_LOG_INFO, "veild", "shutting down", "signal=%s",
             signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_signal_stop(&d->sigint);
    uv_signal_stop(&d->sigterm);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    if (d->node) {
        veil_daemon_stop(d->node, NULL, NULL);
        d->node = NULL;
    }
}

static int set_flag(veil_config *cfg, const char *key, const char *value, const char *flag)
{
    veil_err err = {0};
    char origin[64];
    snprintf(origin, sizeof origin, "flag %s", flag);
    if (veil_config_set(cfg, key, value, VEIL_CONFIG_FROM_FLAG, origin, &err) != 0) {
        fprintf(stderr, "veild: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"data-dir", required_argument, NULL, 'd'},
                                         {"log-level", required_argument, NULL, 'l'},
                                         {"set", required_argument, NULL, 's'},
                                         {"check", no_argument, NULL, 'C'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    veil_err err = {0};
    const char *config_path = getenv("VEIL_CONFIG");
    const char *log_level = NULL;
    bool check_only = false;
    /* Flags are applied after file and env, so remember them first. */
    const char *sets[64];
    size_t n_sets = 0;
    const char *data_dir = NULL;

    int c;
    while ((c = getopt_long(argc, argv, "c:d:l:s:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'd':
            data_dir = optarg;
            break;
        case 'l':
            log_level = optarg;
            break;
        case 's':
            if (n_sets == VEIL_ARRAY_LEN(sets)) {
                fprintf(stderr, "veild: too many --set flags\n");
                return VEIL_EXIT_USAGE;
            }
            sets[n_sets++] = optarg;
            break;
        case 'C':
            check_only = true;
            break;
        case 'V':
            printf("veild %s\n", VEIL_VERSION);
            return VEIL_EXIT_OK;
        case 'h':
            fputs(veild_usage, stdout);
            return VEIL_EXIT_OK;
        default:
            fputs(veild_usage, stderr);
            return VEIL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "veild: unexpected argument '%s'\n", argv[optind]);
        fputs(veild_usage, stderr);
        return VEIL_EXIT_USAGE;
    }

    veil_log_set_level(VEIL_LOG_INFO);
    if (veil_log_init_from_env(&err) != 0)
        return veil_cli_fail(&err);
    if (log_level) {
        enum veil_log_level level;
        if (veil_log_level_parse(log_level, &level, &err) != 0) {
            fprintf(stderr, "veild: %s\n", err.msg);
            return VEIL_EXIT_USAGE;
        }
        veil_log_set_level(level);
    }
    if (veil_crypto_init(&err) != 0)
        return veil_cli_fail(&err);

    veil_config cfg;
    if (veil_config_init(&cfg, veil_config_default_keys, veil_config_default_keys_len, &err) != 0)
        return veil_cli_fail(&err);
    int rc = VEIL_EXIT_FAILURE;
    if (config_path && veil_config_load_file(&cfg, config_path, &err) != 0)
        goto fail;
    if (veil_config_load_env(&cfg, NULL, &err) != 0)
        goto fail;
    if (data_dir && set_flag(&cfg, "data_dir", data_dir, "--data-dir") != 0)
        goto usage;
    for (size_t i = 0; i < n_sets; i++) {
        char key[128];
        const char *eq = strchr(sets[i], '=');
        if (!eq || (size_t)(eq - sets[i]) >= sizeof key) {
            fprintf(stderr, "veild: --set wants KEY=VALUE, got '%s'\n", sets[i]);
            goto usage;
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i]));
        key[eq - sets[i]] = '\0';
        if (set_flag(&cfg, key, eq + 1, "--set") != 0)
            goto usage;
    }

    veil_log(VEIL_LOG_INFO, "veild", "starting", "version=%s pid=%ld", VEIL_VERSION,
             (long)uv_os_getpid());
    veil_config_log(&cfg, "veild");
    if (check_only) {
        rc = VEIL_EXIT_OK;
        goto out;
    }

    /* A write to a peer that has gone (a TCP reset while this process was
     * stopped, a closed HTTP client) must be an error on that connection,
     * not the end of the node: libuv writes with write(2), which raises
     * SIGPIPE (found by the chaos suite: a node resumed after a long
     * SIGSTOP died with status 141). */
    signal(SIGPIPE, SIG_IGN);
    struct daemon_state d = {0};
    if (uv_loop_init(&d.loop) != 0) {
        veil_err_set(&err, VEIL_E_INTERNAL, "cannot initialise the event loop");
        goto fail;
    }
    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    if (veil_config_str(&cfg, "cluster_id", NULL)) {
        if (veil_daemon_start(&d.node, &d.loop, &cfg, &err) != 0) {
            uv_close((uv_handle_t *)&d.sigint, NULL);
            uv_close((uv_handle_t *)&d.sigterm, NULL);
            uv_run(&d.loop, UV_RUN_NOWAIT);
            goto fail;
        }
    } else {
        veil_log(VEIL_LOG_WARN, "veild", "no cluster configured: only waiting for a signal",
                 "hint=\"veil node join BUNDLE -d DIR, then veild -c DIR/veild.yaml\"");
    }
    veil_log(VEIL_LOG_INFO, "veild", "ready", "data_dir=%s",
             veil_config_str(&cfg, "data_dir", "-"));
    uv_run(&d.loop, UV_RUN_DEFAULT);
    uv_loop_close(&d.loop);
    veil_log(VEIL_LOG_INFO, "veild", "stopped", "signal=%d", d.signal_received);
    rc = VEIL_EXIT_OK;
    goto out;

usage:
    rc = VEIL_EXIT_USAGE;
    goto out;
fail:
    fprintf(stderr, "veild: %s\n", err.msg);
    rc = VEIL_EXIT_FAILURE;
out:
    veil_config_free(&cfg);
    return rc;
}
