/*
 * The default socket, as src/cli/paths.ts defaultSocket finds it: UPKEEP_SOCKET if set and not
 * empty; root: /run/upkeep/upkeep.sock; others: ${UPKEEP_TENANT_DIR-/run/upkeep/tenants}/USER.sock
 * if it exists, else ${XDG_RUNTIME_DIR-/tmp/upkeep-UID}/upkeep/upkeep.sock. The `-` (not `:-`) is
 * Node's `??`: a variable set to "" counts. Paths are joined and normalized as Node's path.join
 * does, and USER comes from the effective uid's passwd entry, as os.userInfo() reads it (libuv's
 * uv_os_get_passwd), or is the real uid in decimal when there is none.
 */
#define _GNU_SOURCE
#include "socket_path.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* path.posix.normalize: drops "" and "." segments, ".." removes the one before it. */
static int normalize(struct buf *out, const char *joined) {
  size_t len = strlen(joined);
  int absolute = len > 0 && joined[0] == '/';
  int trailing = len > 0 && joined[len - 1] == '/';
  out->len = 0;
  /* Start offsets of the kept segments in out; each kept segment is written after a '/' except the first. */
  size_t *starts = malloc((len / 2 + 2) * sizeof *starts);
  size_t kept = 0;
  if (starts == NULL) return -1;
  const char *p = joined;
  while (*p != '\0') {
    const char *seg = p;
    while (*p != '\0' && *p != '/') p++;
    size_t n = (size_t)(p - seg);
    if (*p == '/') p++;
    if (n == 0 || (n == 1 && seg[0] == '.')) continue;
    if (n == 2 && seg[0] == '.' && seg[1] == '.') {
      int top_is_dotdot = kept > 0 && out->len - starts[kept - 1] == 2 && memcmp(out->data + starts[kept - 1], "..", 2) == 0;
      if (kept > 0 && !top_is_dotdot) {
        kept--;
        out->len = kept == 0 ? 0 : starts[kept] - 1; /* drop the segment and its '/' */
        continue;
      }
      if (absolute) continue; /* nothing above the root */
    }
    if (kept > 0 && buf_putc(out, '/') != 0) goto oom;
    starts[kept++] = out->len;
    if (buf_append(out, seg, n) != 0) goto oom;
  }
  free(starts);
  struct buf tmp = {0};
  if (absolute && buf_putc(&tmp, '/') != 0) goto oom_tmp;
  if (out->len == 0 && !absolute && buf_putc(&tmp, '.') != 0) goto oom_tmp;
  if (buf_append(&tmp, out->data, out->len) != 0) goto oom_tmp;
  if (trailing && (out->len > 0 || !absolute) && buf_putc(&tmp, '/') != 0) goto oom_tmp;
  if (buf_putc(&tmp, '\0') != 0) goto oom_tmp;
  buf_free(out);
  *out = tmp;
  return 0;
oom:
  free(starts);
  return -1;
oom_tmp:
  buf_free(&tmp);
  return -1;
}

int path_join(struct buf *out, const char *a, const char *b, const char *c) {
  const char *parts[] = {a, b, c};
  struct buf joined = {0};
  for (size_t i = 0; i < 3; i++) {
    if (parts[i] == NULL || parts[i][0] == '\0') continue;
    if (joined.len > 0 && buf_putc(&joined, '/') != 0) goto oom;
    if (buf_append_str(&joined, parts[i]) != 0) goto oom;
  }
  if (joined.len == 0 && buf_putc(&joined, '.') != 0) goto oom;
  if (buf_putc(&joined, '\0') != 0) goto oom;
  int rc = normalize(out, joined.data);
  buf_free(&joined);
  return rc;
oom:
  buf_free(&joined);
  return -1;
}

/* os.userInfo().username, or the uid as a string when there is no passwd entry. */
static int user_name(char *name, size_t size) {
  long initial = sysconf(_SC_GETPW_R_SIZE_MAX);
  size_t bufsize = initial > 0 ? (size_t)initial : 4096;
  for (;;) {
    char *scratch = malloc(bufsize);
    if (scratch == NULL) return -1;
    struct passwd pw, *found = NULL;
    int err = getpwuid_r(geteuid(), &pw, scratch, bufsize, &found);
    if (err == ERANGE && bufsize < (1u << 20)) {
      free(scratch);
      bufsize *= 2;
      continue;
    }
    int n = found != NULL ? snprintf(name, size, "%s", pw.pw_name) : snprintf(name, size, "%u", (unsigned)getuid());
    free(scratch);
    return n < 0 || (size_t)n >= size ? -1 : 0;
  }
}

int default_socket(struct buf *out) {
  out->len = 0;
  const char *env = getenv("UPKEEP_SOCKET");
  if (env != NULL && env[0] != '\0') return buf_append(out, env, strlen(env) + 1);
  if (getuid() == 0) return buf_append_str(out, "/run/upkeep/upkeep.sock") == 0 ? buf_putc(out, '\0') : -1;

  char name[512];
  char file[sizeof name + 8];
  if (user_name(name, sizeof name) != 0) return -1;
  snprintf(file, sizeof file, "%s.sock", name);
  const char *tenants = getenv("UPKEEP_TENANT_DIR");
  if (path_join(out, tenants != NULL ? tenants : "/run/upkeep/tenants", file, NULL) != 0) return -1;
  if (access(out->data, F_OK) == 0) return 0;

  char fallback[64];
  snprintf(fallback, sizeof fallback, "/tmp/upkeep-%u", (unsigned)getuid());
  const char *runtime = getenv("XDG_RUNTIME_DIR");
  return path_join(out, runtime != NULL ? runtime : fallback, "upkeep", "upkeep.sock");
}
