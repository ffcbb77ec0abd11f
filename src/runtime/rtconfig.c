// SPDX-License-Identifier: Apache-2.0
/*
 * rtconfig.c - the runtime's configuration keys (data_dir, registry.*,
 * runtime.engine, docker.socket) gathered for the CLI commands.
 */
#include <string.h>

#include <veil/runtime.h>

int veil_runtime_config_load(const veil_config *cfg, const char *data_dir_flag,
                             struct veil_runtime_config *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    out->data_dir = data_dir_flag ? data_dir_flag : veil_config_str(cfg, "data_dir", NULL);
    if (!out->data_dir || !*out->data_dir)
        return veil_err_set(err, VEIL_E_INVALID, "no data directory (--data-dir or VEIL_DATA_DIR)");
    out->engine = veil_config_str(cfg, "runtime.engine", "runc");
    if (strcmp(out->engine, "runc") != 0 && strcmp(out->engine, "crun") != 0)
        return veil_err_set(err, VEIL_E_INVALID, "runtime.engine '%s': want runc or crun",
                            out->engine);
    out->docker_socket = veil_config_str(cfg, "docker.socket", NULL);
    if (out->docker_socket && !*out->docker_socket)
        out->docker_socket = NULL;
    const struct veil_config_value *ins = veil_config_get(cfg, "registry.insecure");
    if (ins && ins->source != VEIL_CONFIG_UNSET) {
        out->registry.insecure = ins->items;
        out->registry.n_insecure = ins->n_items;
    }
    out->registry.auth_file = veil_config_str(cfg, "registry.auth_file", NULL);
    if (out->registry.auth_file && !*out->registry.auth_file)
        out->registry.auth_file = NULL;
    out->runtime.data_dir = out->data_dir;
    out->runtime.engine = out->engine;
    return 0;
}
