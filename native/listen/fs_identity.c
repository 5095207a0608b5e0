/*
 * The filesystem identity switch of the listen addon (see listen.c for why): this thread's
 * fsuid, fsgid and supplementary groups, switched around path operations done for a tenant.
 */
#define _GNU_SOURCE /* setfsuid */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "listen.h"

/* Linux keeps credentials per thread: setfsuid/setfsgid and the raw setgroups syscall change
   the calling thread only (glibc's setgroups() would change every thread, hence syscall()), so
   libuv's pool threads keep the daemon's identity during the switch, and nothing else runs on
   this thread meanwhile. */
#ifdef SYS_setgroups32
#define SYS_SETGROUPS_THREAD SYS_setgroups32
#else
#define SYS_SETGROUPS_THREAD SYS_setgroups
#endif

void fs_restore(fs_identity_t *saved) {
  if (!saved->switched) return;
  saved->switched = 0;
  setfsuid(saved->uid);
  setfsgid(saved->gid);
  int groups_ok = !saved->groups_changed || syscall(SYS_SETGROUPS_THREAD, saved->ngroups, saved->groups) == 0;
  free(saved->groups);
  saved->groups = NULL;
  /* Cannot fail for a process that could switch; if it did, the daemon's later file work would
     run with a tenant's rights, or the tenant's later with root's: stop here instead. */
  if (!groups_ok || setfsuid((uid_t)-1) != (int)saved->uid || setfsgid((gid_t)-1) != (int)saved->gid) abort();
}

/* Switches this thread's filesystem identity to uid/gid (nothing for uid < 0); 0 or an errno. */
int fs_become(fs_identity_t *saved, int64_t uid, int64_t gid) {
  memset(saved, 0, sizeof *saved);
  if (uid < 0) return 0;
  int n = getgroups(0, NULL);
  if (n < 0) return errno;
  saved->groups = malloc(sizeof(gid_t) * (size_t)(n > 0 ? n : 1));
  if (saved->groups == NULL) return ENOMEM;
  if ((n = getgroups(n, saved->groups)) < 0) {
    free(saved->groups);
    return errno;
  }
  saved->ngroups = n;
  saved->uid = (uid_t)setfsuid((uid_t)-1); /* an invalid id: only reports the current one */
  saved->gid = (gid_t)setfsgid((gid_t)-1);
  saved->switched = 1;
  /* No supplementary groups but the tenant's primary one: root's own (often gid 0) would open
     group-writable root directories to the tenant's path. Without CAP_SETGID this fails, and
     the fsuid check below then refuses any uid but the daemon's own. */
  gid_t only = (gid_t)gid;
  if (syscall(SYS_SETGROUPS_THREAD, 1, &only) == 0) saved->groups_changed = 1;
  setfsgid((gid_t)gid);
  setfsuid((uid_t)uid);
  /* setfsuid reports no error: read the ids back. */
  if (setfsgid((gid_t)-1) != (int)gid || setfsuid((uid_t)-1) != (int)uid) {
    fs_restore(saved);
    return EPERM;
  }
  return 0;
}
