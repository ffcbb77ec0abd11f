// SPDX-License-Identifier: Apache-2.0
/* fuzz_docker_stream.c - the Docker Engine API multiplexed log stream
 * demultiplexer and the inspect and container-list response parsers. */
#include <stdlib.h>

#include <veil/runtime.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (veil_docker_demux(data, size, -1, -1) > size)
        abort();
    struct veil_container_info info;
    veil_docker_parse_inspect(data, size, &info, NULL);
    struct veil_container_info *list = NULL;
    size_t n = 0;
    if (veil_docker_parse_list(data, size, &list, &n, NULL) == 0)
        free(list);
    return 0;
}
