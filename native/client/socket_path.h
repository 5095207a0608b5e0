/*
 * Where the daemon's socket is, decided exactly as src/cli/paths.ts defaultSocket does (the Node
 * CLI, which the native client falls back to, must be asked the same daemon).
 */
#ifndef UPKEEP_CLIENT_SOCKET_PATH_H
#define UPKEEP_CLIENT_SOCKET_PATH_H

#include "buf.h"

/* The default socket (no --socket given), NUL-terminated in out. Returns 0, or -1 (no memory). */
int default_socket(struct buf *out);

/* Node's path.join(a, b, c) (c may be NULL), NUL-terminated in out. Returns 0 or -1. */
int path_join(struct buf *out, const char *a, const char *b, const char *c);

#endif
