/*
 * upkeep-exec: the last step between the supervisor and a service. The daemon (root) spawns it
 * in front of the program; it sets the process up and then execs the program, which keeps the
 * pid, the process group and the session the daemon made.
 *
 *   upkeep-exec [options] -- PROGRAM [ARGS...]
 *
 *   --cgroup DIR        join DIR (writes "0" to DIR/cgroup.procs); repeatable, one per cgroup
 *                       hierarchy (cgroup v1 mounts each controller separately)
 *   --rlimit NAME=VAL   nofile | nproc | core; VAL an integer or "infinity"; soft = hard; repeatable
 *   --nice N            -20..19
 *   --umask OCTAL
 *   --groups G1,G2,...  supplementary groups ("" for none)
 *   --gid N
 *   --uid N             needs --gid: without it the process would keep group root
 *   --chdir DIR         done as the target user, after the privileges are dropped
 *   --pid-env NAME      set NAME to this process's pid (which the program keeps); repeatable
 *
 * Order, and why:
 *   1. cgroups, rlimits, nice: while still root, so joining a root-owned cgroup, raising a hard
 *      limit and a negative nice all work;
 *   2. umask;
 *   3. setgroups, setgid, setuid: groups first, since only root may change them; then a check
 *      that root cannot be regained;
 *   4. chdir: as the user, so a tenant cannot start in a directory it could not enter itself;
 *   5. pid variables, execv.
 * If --uid or --gid is given without --groups, the supplementary groups are cleared: otherwise
 * root's own groups would leak into the service.
 *
 * Exit status: 126 when the set-up fails (the program never ran), 127 when execv fails. Each
 * failure prints one line to stderr: "upkeep-exec: <what> <arg>: <reason>".
 * It never touches fds >= 3 (socket activation passes listening sockets as fds 3, 4, ...) and
 * never closes stdio; the one file it opens (cgroup.procs) is close-on-exec and closed at once.
 */
#define _GNU_SOURCE /* setgroups */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define EXIT_SETUP 126
#define EXIT_EXEC 127

/* A reason that is not an errno: printed in place of strerror(). */
static void fail_msg(int status, const char *what, const char *arg, const char *reason) {
  fprintf(stderr, "upkeep-exec: %s %s: %s\n", what, arg, reason);
  exit(status);
}

static void fail_errno(int status, const char *what, const char *arg, int err) {
  fail_msg(status, what, arg, strerror(err));
}

/* Whole-string decimal (or octal) number within [min, max]; anything else is a usage error. */
static long long parse_number(const char *option, const char *text, int base, long long min, long long max) {
  char *end = NULL;
  errno = 0;
  long long value = strtoll(text, &end, base);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    fail_msg(EXIT_SETUP, option, text, "not a valid number");
  }
  return value;
}

struct rlimit_setting {
  const char *name;
  int resource;
  int given;
  rlim_t value;
};

struct settings {
  const char **cgroups;
  int cgroup_count;
  struct rlimit_setting rlimits[3];
  int has_nice;
  int nice;
  int has_umask;
  mode_t umask;
  const char *groups; /* the raw list; parsed when applied */
  int has_gid;
  gid_t gid;
  int has_uid;
  uid_t uid;
  const char *chdir;
  const char **pid_env;
  int pid_env_count;
};

static void parse_rlimit(struct settings *s, const char *spec) {
  const char *eq = strchr(spec, '=');
  if (eq == NULL) fail_msg(EXIT_SETUP, "--rlimit", spec, "expected NAME=VALUE");
  size_t name_len = (size_t)(eq - spec);
  for (int i = 0; i < 3; i++) {
    struct rlimit_setting *r = &s->rlimits[i];
    if (strlen(r->name) != name_len || strncmp(r->name, spec, name_len) != 0) continue;
    r->given = 1;
    const char *value = eq + 1;
    r->value = strcmp(value, "infinity") == 0 ? RLIM_INFINITY
                                              : (rlim_t)parse_number("--rlimit", value, 10, 0, LLONG_MAX);
    return;
  }
  fail_msg(EXIT_SETUP, "--rlimit", spec, "unknown limit (expected nofile, nproc or core)");
}

/* Returns the index of PROGRAM in argv. */
static int parse_args(int argc, char **argv, struct settings *s) {
  int i = 1;
  for (; i < argc; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--") == 0) break;
    if (i + 1 >= argc) fail_msg(EXIT_SETUP, "option", opt, "missing value (or unknown option)");
    const char *val = argv[++i];
    if (strcmp(opt, "--cgroup") == 0) {
      s->cgroups[s->cgroup_count++] = val;
    } else if (strcmp(opt, "--rlimit") == 0) {
      parse_rlimit(s, val);
    } else if (strcmp(opt, "--nice") == 0) {
      s->has_nice = 1;
      s->nice = (int)parse_number(opt, val, 10, -20, 19);
    } else if (strcmp(opt, "--umask") == 0) {
      s->has_umask = 1;
      s->umask = (mode_t)parse_number(opt, val, 8, 0, 0777);
    } else if (strcmp(opt, "--groups") == 0) {
      s->groups = val;
    } else if (strcmp(opt, "--gid") == 0) {
      s->has_gid = 1;
      /* (gid_t)-1 means "unchanged" to setgid-like calls, so it is never a valid target. */
      s->gid = (gid_t)parse_number(opt, val, 10, 0, (long long)(gid_t)-2);
    } else if (strcmp(opt, "--uid") == 0) {
      s->has_uid = 1;
      s->uid = (uid_t)parse_number(opt, val, 10, 0, (long long)(uid_t)-2);
    } else if (strcmp(opt, "--chdir") == 0) {
      s->chdir = val;
    } else if (strcmp(opt, "--pid-env") == 0) {
      if (val[0] == '\0' || strchr(val, '=') != NULL) fail_msg(EXIT_SETUP, opt, val, "not a variable name");
      s->pid_env[s->pid_env_count++] = val;
    } else {
      fail_msg(EXIT_SETUP, "option", opt, "unknown option");
    }
  }
  if (i + 1 >= argc) fail_msg(EXIT_SETUP, "usage:", "upkeep-exec [options] -- PROGRAM [ARGS...]", "no program");
  if (s->has_uid && !s->has_gid) {
    fail_msg(EXIT_SETUP, "--uid", "without --gid", "the process would keep group root");
  }
  return i + 1;
}

static void join_cgroup(const char *dir) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) {
    fail_errno(EXIT_SETUP, "join cgroup", dir, ENAMETOOLONG);
  }
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail_errno(EXIT_SETUP, "join cgroup", dir, errno);
  /* "0" means the writing process itself; the program inherits the cgroup across exec. */
  if (write(fd, "0\n", 2) != 2) {
    int err = errno;
    close(fd);
    fail_errno(EXIT_SETUP, "join cgroup", dir, err);
  }
  close(fd);
}

static void set_groups(const char *list) {
  size_t count = 0;
  gid_t *gids = NULL;
  if (list[0] != '\0') {
    count = 1;
    for (const char *p = list; *p; p++) count += *p == ',';
    gids = calloc(count, sizeof *gids);
    if (gids == NULL) fail_errno(EXIT_SETUP, "--groups", list, ENOMEM);
    char *copy = strdup(list);
    if (copy == NULL) fail_errno(EXIT_SETUP, "--groups", list, ENOMEM);
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      gids[n++] = (gid_t)parse_number("--groups", tok, 10, 0, (long long)(gid_t)-2);
    }
    if (n != count) fail_msg(EXIT_SETUP, "--groups", list, "empty entry in the list");
    free(copy);
  }
  if (setgroups(count, gids) != 0) fail_errno(EXIT_SETUP, "setgroups", list, errno);
  free(gids);
}

static void drop_privileges(const struct settings *s) {
  char arg[32];
  if (s->groups != NULL) {
    set_groups(s->groups);
  } else if (s->has_uid || s->has_gid) {
    set_groups("");
  }
  if (s->has_gid) {
    snprintf(arg, sizeof arg, "%u", (unsigned)s->gid);
    if (setgid(s->gid) != 0) fail_errno(EXIT_SETUP, "setgid", arg, errno);
  }
  if (s->has_uid) {
    snprintf(arg, sizeof arg, "%u", (unsigned)s->uid);
    if (setuid(s->uid) != 0) fail_errno(EXIT_SETUP, "setuid", arg, errno);
    /* setuid() as root sets real, effective and saved ids; if any of them were still 0 the
       program could take root back. Check the way the program would try it. */
    if (s->uid != 0 && (setuid(0) != -1 || getuid() != s->uid || geteuid() != s->uid)) {
      fail_msg(EXIT_SETUP, "setuid", arg, "root could be regained afterwards");
    }
  }
}

int main(int argc, char **argv) {
  struct settings s = {
      .rlimits = {{"nofile", RLIMIT_NOFILE, 0, 0}, {"nproc", RLIMIT_NPROC, 0, 0}, {"core", RLIMIT_CORE, 0, 0}},
  };
  /* At most one value per option pair, so argc entries always suffice. */
  s.cgroups = calloc((size_t)argc, sizeof *s.cgroups);
  s.pid_env = calloc((size_t)argc, sizeof *s.pid_env);
  if (s.cgroups == NULL || s.pid_env == NULL) fail_errno(EXIT_SETUP, "start", "", ENOMEM);
  int program = parse_args(argc, argv, &s);

  for (int i = 0; i < s.cgroup_count; i++) join_cgroup(s.cgroups[i]);
  for (int i = 0; i < 3; i++) {
    const struct rlimit_setting *r = &s.rlimits[i];
    if (!r->given) continue;
    struct rlimit limit = {r->value, r->value};
    if (setrlimit(r->resource, &limit) != 0) fail_errno(EXIT_SETUP, "setrlimit", r->name, errno);
  }
  if (s.has_nice) {
    char arg[16];
    snprintf(arg, sizeof arg, "%d", s.nice);
    if (setpriority(PRIO_PROCESS, 0, s.nice) != 0) fail_errno(EXIT_SETUP, "setpriority", arg, errno);
  }
  if (s.has_umask) umask(s.umask);
  drop_privileges(&s);
  if (s.chdir != NULL && chdir(s.chdir) != 0) fail_errno(EXIT_SETUP, "chdir", s.chdir, errno);

  char pid[24];
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  for (int i = 0; i < s.pid_env_count; i++) {
    if (setenv(s.pid_env[i], pid, 1) != 0) fail_errno(EXIT_SETUP, "setenv", s.pid_env[i], errno);
  }

  execv(argv[program], &argv[program]);
  fail_errno(EXIT_EXEC, "exec", argv[program], errno);
  return EXIT_EXEC;
}
