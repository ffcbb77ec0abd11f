/*
 * admin.c - `veil guardian cmd`: signed admin commands to one node through
 * Master, and the node's answer.
 */
#include <stdio.h>

#include <veil/guardian_serve.h>

int veil_guardian_admin_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "veil: guardian cmd: not implemented yet\n");
    return 2;
}
