/*
 * The little JSON the native client needs: writing a string literal into the request, and
 * reading a status reply line, `{"ok":true,"result":{...,"text":"...","warning":"..."}}`, of which
 * only `text` and `warning` are kept. The whole line is checked (UTF-8, JSON grammar) so that a
 * reply the Node CLI would read differently is never printed: anything unexpected is an error,
 * and the caller falls back to the Node CLI.
 */
#ifndef UPKEEP_CLIENT_JSON_H
#define UPKEEP_CLIENT_JSON_H

#include <stddef.h>

#include "buf.h"

/* Is s[0..n) well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF)? */
int utf8_valid(const char *s, size_t n);

/* Appends s as a JSON string literal, quotes included. Returns 0, or -1 on allocation failure. */
int json_append_string(struct buf *out, const char *s);

struct status_reply {
  struct buf text;    /* stdout of `upkeep status`, without the final newline */
  struct buf warning; /* stderr (safe mode), when has_warning */
  int has_warning;
  /* >= 0: the reply had `textBytes` instead of `text` (a raw request): that many bytes of text
     follow the line, and `text` is empty here. -1: `text` was in the line. */
  long long text_bytes;
};

/*
 * Reads one reply line (without its newline). Returns 0 when it is an ok reply whose result has a
 * string `text` or a whole number `textBytes` (not both), and, if present, a string `warning`; -1
 * otherwise: not JSON, not UTF-8, ok:false, an old daemon that sent no text, or out of memory.
 */
int parse_status_reply(const char *line, size_t len, struct status_reply *reply);
void status_reply_free(struct status_reply *reply);

#endif
