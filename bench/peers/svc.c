/*
 * The service every supervisor in the peer bench runs: it records its own start and then sleeps
 * until a signal ends it. Nothing else, so that every figure is the supervisor's.
 *
 *   peer-svc [ID [LOG]]
 *
 * On start it appends one line "ID PID MONOTONIC_NS REALTIME_NS\n" to LOG with a single write(2)
 * on an O_APPEND descriptor, so a thousand services can share one file without tearing lines.
 * ID defaults to the basename of the working directory and LOG to $PEER_SVC_LOG: runit and s6
 * start ./run in the service directory, which lets ./run be a symlink to this program (no shell
 * in between). The monotonic clock is the one Node's process.hrtime reads, so the bench can
 * subtract its own readings from these; the realtime stamp is kept for people reading the log.
 *
 * If $PEER_SVC_NOTIFY_FD names a descriptor, a newline is written to it after the record: s6's
 * readiness protocol (notification-fd). Without readiness s6-supervise waits 1 s after every death;
 * with it, a service that has been ready for 1 s is restarted at once.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long ns(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  long long mono = ns(CLOCK_MONOTONIC), real = ns(CLOCK_REALTIME);
  char cwd[PATH_MAX];
  const char *id = argc > 1 ? argv[1] : NULL;
  const char *log = argc > 2 ? argv[2] : getenv("PEER_SVC_LOG");
  if (!id) {
    if (!getcwd(cwd, sizeof cwd)) return 111;
    const char *slash = strrchr(cwd, '/');
    id = slash ? slash + 1 : cwd;
  }
  if (!log) {
    fprintf(stderr, "peer-svc: no log file (argument 2 or PEER_SVC_LOG)\n");
    return 111;
  }
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return 111;
  char line[PATH_MAX + 96];
  int len = snprintf(line, sizeof line, "%s %d %lld %lld\n", id, (int)getpid(), mono, real);
  if (write(fd, line, (size_t)len) != len) return 111;
  close(fd);
  const char *notify = getenv("PEER_SVC_NOTIFY_FD");
  if (notify && *notify) {
    int nfd = atoi(notify);
    if (write(nfd, "\n", 1) == 1) close(nfd);
  }
  for (;;) pause();
}
