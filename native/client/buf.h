/*
 * A growable byte buffer for the native client (native/client): the request line, the reply line
 * and the strings decoded from it. Not NUL-terminated unless asked; a failed allocation is
 * reported to the caller, which then falls back to the Node CLI.
 */
#ifndef UPKEEP_CLIENT_BUF_H
#define UPKEEP_CLIENT_BUF_H

#include <stddef.h>

struct buf {
  char *data;
  size_t len;
  size_t cap;
};

/* Each returns 0, or -1 when memory runs out (the buffer is then unchanged). */
int buf_reserve(struct buf *b, size_t more);
int buf_append(struct buf *b, const char *bytes, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
void buf_free(struct buf *b);

#endif
