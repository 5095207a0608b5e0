/* Growable byte buffer (see buf.h). */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t more) {
  if (more <= b->cap - b->len) return 0;
  size_t want = b->len + more;
  if (want < b->len) return -1; /* overflow */
  size_t cap = b->cap == 0 ? 256 : b->cap;
  while (cap < want) {
    if (cap > ((size_t)-1) / 2) return -1;
    cap *= 2;
  }
  char *data = realloc(b->data, cap);
  if (data == NULL) return -1;
  b->data = data;
  b->cap = cap;
  return 0;
}

int buf_append(struct buf *b, const char *bytes, size_t n) {
  if (buf_reserve(b, n) != 0) return -1;
  if (n > 0) memcpy(b->data + b->len, bytes, n);
  b->len += n;
  return 0;
}

int buf_append_str(struct buf *b, const char *s) {
  return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c) {
  return buf_append(b, &c, 1);
}

void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
