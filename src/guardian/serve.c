/*
 * serve.c - `veil guardian serve`: the Guardian daemon (enrollment,
 * renewal, audit) on Master.
 */
#include <stdio.h>

#include <veil/guardian_serve.h>

int veil_guardian_serve_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "veil: guardian serve: not implemented yet\n");
    return 2;
}
