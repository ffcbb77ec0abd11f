// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_version.c - `veil version`: the program version and the versions of the
 * libraries it was built against (useful in bug reports).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <yaml.h>

#include "cli.h"

static int run_version(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 || (strcmp(argv[i], "-o") == 0 && i + 1 < argc &&
                                               strcmp(argv[++i], "json") == 0))
            json = true;
        else
            return veil_cli_usage_error("veil version", "unexpected argument '%s'", argv[i]);
    }
    if (json)
        printf("{\"veil\":\"%s\",\"libsodium\":\"%s\",\"libyaml\":\"%s\"}\n", VEIL_VERSION,
               sodium_version_string(), yaml_get_version_string());
    else
        printf("veil %s (libsodium %s, libyaml %s)\n", VEIL_VERSION, sodium_version_string(),
               yaml_get_version_string());
    return VEIL_EXIT_OK;
}

const struct veil_cli_command veil_cmd_version = {
    .name = "version",
    .summary = "print the version",
    .usage = "Usage: veil version [--json | -o json]\n\nPrints Veil's version and the versions "
             "of the libraries it was built with.\n",
    .run = run_version,
};
