/*
 * The physical limit of the peer bench: posix_spawn N copies of the service as fast as the
 * kernel allows, from a process that does nothing else.
 *
 *   peer-spawn-loop SVC LOG N
 *
 * Service i gets the arguments "sNNNN LOG" like under every supervisor. After the last spawn the
 * program prints "spawned" and waits for a line on stdin; any line (or EOF) makes it send SIGTERM
 * to every child, reap them all and exit 0. The bench times both phases from the services' side
 * (start records) and by watching the pids disappear, as it does for every supervisor.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: peer-spawn-loop SVC LOG N\n");
    return 100;
  }
  int n = atoi(argv[3]);
  pid_t *pids = calloc((size_t)(n > 0 ? n : 1), sizeof *pids);
  if (!pids) return 111;
  for (int i = 0; i < n; i++) {
    char id[16];
    snprintf(id, sizeof id, "s%04d", i);
    char *args[] = {argv[1], id, argv[2], NULL};
    int err = posix_spawn(&pids[i], argv[1], NULL, NULL, args, environ);
    if (err) {
      fprintf(stderr, "peer-spawn-loop: posix_spawn %s: error %d\n", argv[1], err);
      return 111;
    }
  }
  printf("spawned\n");
  fflush(stdout);
  char line[64];
  (void)fgets(line, sizeof line, stdin);
  for (int i = 0; i < n; i++) kill(pids[i], SIGTERM);
  for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
  return 0;
}
