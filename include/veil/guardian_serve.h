/*
 * veil/guardian_serve.h - the Guardian daemon and its admin client, as
 * entry points for `veil guardian serve` and `veil guardian cmd`.
 *
 * `veil guardian serve -d DIR --nats URL...` connects to Master with
 * Guardian's own service credential, answers enrollment and renewal on the
 * enrollment subject, and logs every command and answer to the audit log.
 * `veil guardian cmd -d DIR NODE VERB [ARG]` signs one admin command and
 * waits for the node's answer on its reply subject.
 *
 * Both take the arguments after the subcommand word (argv[0] is the
 * subcommand) and return a CLI exit status (0 ok, 1 failure, 2 usage).
 */
#ifndef VEIL_GUARDIAN_SERVE_H
#define VEIL_GUARDIAN_SERVE_H

#ifdef __cplusplus
extern "C" {
#endif

int veil_guardian_serve_main(int argc, char **argv);
int veil_guardian_admin_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
