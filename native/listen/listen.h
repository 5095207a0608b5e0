/*
 * What the files of the listen addon share: error throwing and argument reading (listen.c),
 * the per-thread filesystem identity switch (fs_identity.c) and the readable watch (watch.c).
 */
#ifndef UPKEEP_LISTEN_H
#define UPKEEP_LISTEN_H
#include <stdint.h>
#include <sys/types.h>
#include <node_api.h>

#define CHECK(call)                     \
  do {                                  \
    if ((call) != napi_ok) return NULL; \
  } while (0)

/* Throws Error("listen: <what> <address>: <detail>") with code, and errno = -err when err != 0. */
void throw_code(napi_env env, const char *code, int err, const char *what, const char *address, const char *detail);
/* The same with code = the errno name and detail = strerror(err). */
void throw_errno(napi_env env, int err, const char *what, const char *address);
/* An integer in [min, max]; a fraction, NaN or anything but a number is refused (0). */
int arg_int(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out);
/* (fd[, second]): 1, or 0 with a TypeError (usage) thrown. */
int arg_fd(napi_env env, napi_callback_info info, const char *usage, int *fd, napi_value *second);

typedef struct {
  int switched, groups_changed, ngroups;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
} fs_identity_t;

/* Switches the calling thread's filesystem identity to uid/gid and no other group (nothing for
   uid < 0): 0 or an errno. fs_restore() switches back; it aborts rather than return unrestored. */
int fs_become(fs_identity_t *saved, int64_t uid, int64_t gid);
void fs_restore(fs_identity_t *saved);

napi_value watch_readable(napi_env env, napi_callback_info info);
napi_value unwatch(napi_env env, napi_callback_info info);

#endif
