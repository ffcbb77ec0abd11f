// SPDX-License-Identifier: Apache-2.0
/*
 * api_overlay.c - the node's VeilNet view for the local API (`veil get
 * overlay`, the dashboard): the status veild's overlay role writes to
 * <data_dir>/overlay/status.json (daemon_overlay.c) - this node's overlay
 * address, its peers (revoked ones marked), the Anchor handshake counters,
 * and the name <replica>.<job>.c<cluster> and overlay address of each
 * replica this node runs (the only placements a member may see: H4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/node.h>

#define STATUS_MAX (4u << 20)

/* Drops the rows of `rows` whose "node" is not `self`. */
static void keep_own_replicas(json_t *rows, const char *self)
{
    for (size_t i = 0; i < json_array_size(rows);) {
        const char *node = json_string_value(json_object_get(json_array_get(rows, i), "node"));
        if (node && self && strcmp(node, self) == 0)
            i++;
        else if (json_array_remove(rows, i) != 0)
            return;
    }
}

void *veil_api_overlay_status(const veil_config *cfg, const char *self, veil_err *err)
{
    char path[4200];
    uint8_t *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/overlay/status.json", veil_config_str(cfg, "data_dir", "."));
    if (veil_file_read(path, STATUS_MAX, &data, &len, err) != 0) {
        veil_err_set(err, VEIL_E_NOTFOUND, "this node runs no overlay (overlay.enabled)");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)data, len, 0, &je);
    free(data);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        veil_err_set(err, VEIL_E_PARSE, "overlay status: %s", je.text);
        return NULL;
    }
    keep_own_replicas(json_object_get(root, "replicas"), self);
    return root;
}
