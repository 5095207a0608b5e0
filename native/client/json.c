/*
 * JSON for the native client (see json.h). The reader is a strict recursive-descent walk over one
 * line (RFC 8259 grammar, nesting depth capped); it decodes only the strings it keeps. String
 * escapes decode as JSON.parse does, and a lone surrogate (which JSON.stringify writes as \udXXX)
 * becomes U+FFFD, the bytes Node writes for it to stdout.
 */
#include "json.h"

#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64

int utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p;
    if (c < 0x80) {
      p++;
      continue;
    }
    size_t need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) need = 1, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) need = 2, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) need = 3, cp = c & 0x07, min = 0x10000;
    else return 0;
    if ((size_t)(end - p) <= need) return 0;
    for (size_t i = 1; i <= need; i++) {
      if ((p[i] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    p += need + 1;
  }
  return 1;
}

int json_append_string(struct buf *out, const char *s) {
  static const char hex[] = "0123456789abcdef";
  if (buf_putc(out, '"') != 0) return -1;
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (*p) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        if (*p >= 0x20) {
          if (buf_putc(out, (char)*p) != 0) return -1;
          continue;
        }
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[*p >> 4];
        esc[5] = hex[*p & 0xF];
        n = 6;
    }
    if (buf_append(out, esc, n) != 0) return -1;
  }
  return buf_putc(out, '"');
}

struct cursor {
  const char *p;
  const char *end;
};

static void skip_space(struct cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int expect(struct cursor *c, char ch) {
  skip_space(c);
  if (c->p >= c->end || *c->p != ch) return -1;
  c->p++;
  return 0;
}

static int put_utf8(struct buf *out, uint32_t cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) b[0] = (char)cp, n = 1;
  else if (cp < 0x800) b[0] = (char)(0xC0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
  else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return buf_append(out, b, n);
}

/* Four hex digits after "\u" at p (p itself is checked against end). */
static int read_hex4(const char *p, const char *end, uint32_t *unit) {
  if (end - p < 4) return -1;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char h = p[i];
    v <<= 4;
    if (h >= '0' && h <= '9') v |= (uint32_t)(h - '0');
    else if (h >= 'a' && h <= 'f') v |= (uint32_t)(h - 'a' + 10);
    else if (h >= 'A' && h <= 'F') v |= (uint32_t)(h - 'A' + 10);
    else return -1;
  }
  *unit = v;
  return 0;
}

/* A string at the cursor (after optional space); decoded into out unless out is NULL. */
static int read_string(struct cursor *c, struct buf *out) {
  if (expect(c, '"') != 0) return -1;
  for (;;) {
    const char *start = c->p;
    while (c->p < c->end && *c->p != '"' && *c->p != '\\' && (unsigned char)*c->p >= 0x20) c->p++;
    if (out != NULL && buf_append(out, start, (size_t)(c->p - start)) != 0) return -1;
    if (c->p >= c->end || (unsigned char)*c->p < 0x20) return -1;
    if (*c->p == '"') {
      c->p++;
      return 0;
    }
    /* A backslash. */
    if (c->end - c->p < 2) return -1;
    char e = c->p[1];
    c->p += 2;
    char simple;
    switch (e) {
      case '"': simple = '"'; break;
      case '\\': simple = '\\'; break;
      case '/': simple = '/'; break;
      case 'b': simple = '\b'; break;
      case 'f': simple = '\f'; break;
      case 'n': simple = '\n'; break;
      case 'r': simple = '\r'; break;
      case 't': simple = '\t'; break;
      case 'u': {
        uint32_t unit, low;
        if (read_hex4(c->p, c->end, &unit) != 0) return -1;
        c->p += 4;
        uint32_t cp = unit;
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          /* A high surrogate pairs with an immediately following \uDC00-\uDFFF. */
          if (c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u' && read_hex4(c->p + 2, c->end, &low) == 0 &&
              low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            c->p += 6;
          } else {
            cp = 0xFFFD;
          }
        } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
          cp = 0xFFFD;
        }
        if (out != NULL && put_utf8(out, cp) != 0) return -1;
        continue;
      }
      default:
        return -1;
    }
    if (out != NULL && buf_putc(out, simple) != 0) return -1;
  }
}

static int read_literal(struct cursor *c, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return -1;
  c->p += n;
  return 0;
}

static int is_digit(struct cursor *c) {
  return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static int read_number(struct cursor *c) {
  if (c->p < c->end && *c->p == '-') c->p++;
  if (!is_digit(c)) return -1;
  if (*c->p == '0') c->p++;
  else
    while (is_digit(c)) c->p++;
  if (c->p < c->end && *c->p == '.') {
    c->p++;
    if (!is_digit(c)) return -1;
    while (is_digit(c)) c->p++;
  }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
    c->p++;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
    if (!is_digit(c)) return -1;
    while (is_digit(c)) c->p++;
  }
  return 0;
}

static int skip_value(struct cursor *c, int depth);

/*
 * An object; for each member, on_member is called with the decoded key and must consume the value
 * (on_member NULL: every value is skipped).
 */
typedef int (*member_fn)(struct cursor *c, const struct buf *key, void *ctx, int depth);

static int read_object(struct cursor *c, int depth, member_fn on_member, void *ctx) {
  if (depth > MAX_DEPTH || expect(c, '{') != 0) return -1;
  skip_space(c);
  if (c->p < c->end && *c->p == '}') {
    c->p++;
    return 0;
  }
  struct buf key = {0};
  int rc = -1;
  for (;;) {
    key.len = 0;
    if (read_string(c, on_member == NULL ? NULL : &key) != 0 || expect(c, ':') != 0) break;
    if ((on_member == NULL ? skip_value(c, depth + 1) : on_member(c, &key, ctx, depth + 1)) != 0) break;
    skip_space(c);
    if (c->p < c->end && *c->p == ',') {
      c->p++;
      continue;
    }
    if (c->p < c->end && *c->p == '}') {
      c->p++;
      rc = 0;
    }
    break;
  }
  buf_free(&key);
  return rc;
}

static int read_array(struct cursor *c, int depth) {
  if (depth > MAX_DEPTH || expect(c, '[') != 0) return -1;
  skip_space(c);
  if (c->p < c->end && *c->p == ']') {
    c->p++;
    return 0;
  }
  for (;;) {
    if (skip_value(c, depth + 1) != 0) return -1;
    skip_space(c);
    if (c->p < c->end && *c->p == ',') {
      c->p++;
      continue;
    }
    if (c->p < c->end && *c->p == ']') {
      c->p++;
      return 0;
    }
    return -1;
  }
}

static int skip_value(struct cursor *c, int depth) {
  skip_space(c);
  if (c->p >= c->end) return -1;
  switch (*c->p) {
    case '"': return read_string(c, NULL);
    case '{': return read_object(c, depth, NULL, NULL);
    case '[': return read_array(c, depth);
    case 't': return read_literal(c, "true");
    case 'f': return read_literal(c, "false");
    case 'n': return read_literal(c, "null");
    default: return read_number(c);
  }
}

static int key_is(const struct buf *key, const char *name) {
  size_t n = strlen(name);
  return key->len == n && memcmp(key->data, name, n) == 0;
}

/* Is the value at the cursor a string? (Looks past space without consuming anything else.) */
static int at_string(struct cursor *c) {
  skip_space(c);
  return c->p < c->end && *c->p == '"';
}

struct result_state {
  struct status_reply *reply;
  int has_text;
  int bad_warning;
  int bad_text_bytes;
};

/* A whole number of bytes, as JSON.stringify writes one (no sign, fraction or exponent), and at
   most 15 digits; anything else is refused. */
static int read_byte_count(struct cursor *c, long long *out) {
  skip_space(c);
  const char *start = c->p;
  long long n = 0;
  while (is_digit(c) && c->p - start < 15) n = n * 10 + (*c->p++ - '0');
  if (c->p == start || (c->p - start > 1 && *start == '0')) return -1;
  if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E' || (*c->p >= '0' && *c->p <= '9'))) return -1;
  *out = n;
  return 0;
}

/* Members of `result`; as with JSON.parse, a repeated key counts with its last value. */
static int on_result_member(struct cursor *c, const struct buf *key, void *ctx, int depth) {
  struct result_state *st = ctx;
  if (key_is(key, "text")) {
    st->reply->text.len = 0;
    st->has_text = at_string(c);
    return st->has_text ? read_string(c, &st->reply->text) : skip_value(c, depth);
  }
  if (key_is(key, "textBytes")) {
    st->bad_text_bytes = read_byte_count(c, &st->reply->text_bytes) != 0;
    if (st->bad_text_bytes) st->reply->text_bytes = -1;
    return st->bad_text_bytes ? skip_value(c, depth) : 0;
  }
  if (key_is(key, "warning")) {
    st->reply->warning.len = 0;
    st->reply->has_warning = at_string(c);
    st->bad_warning = !st->reply->has_warning;
    return st->reply->has_warning ? read_string(c, &st->reply->warning) : skip_value(c, depth);
  }
  return skip_value(c, depth);
}

struct top_state {
  struct result_state result;
  int ok;
  int has_result;
};

static int on_top_member(struct cursor *c, const struct buf *key, void *ctx, int depth) {
  struct top_state *st = ctx;
  if (key_is(key, "ok")) {
    skip_space(c);
    st->ok = c->end - c->p >= 4 && memcmp(c->p, "true", 4) == 0;
    return skip_value(c, depth);
  }
  if (key_is(key, "result")) {
    struct status_reply *reply = st->result.reply;
    reply->text.len = reply->warning.len = 0;
    reply->has_warning = st->result.has_text = st->result.bad_warning = st->result.bad_text_bytes = 0;
    reply->text_bytes = -1;
    skip_space(c);
    st->has_result = c->p < c->end && *c->p == '{';
    return st->has_result ? read_object(c, depth, on_result_member, &st->result) : skip_value(c, depth);
  }
  return skip_value(c, depth);
}

int parse_status_reply(const char *line, size_t len, struct status_reply *reply) {
  memset(reply, 0, sizeof *reply);
  reply->text_bytes = -1;
  if (!utf8_valid(line, len)) return -1;
  struct cursor c = {line, line + len};
  struct top_state st = {.result = {.reply = reply}};
  if (read_object(&c, 0, on_top_member, &st) != 0) goto fail;
  skip_space(&c);
  if (c.p != c.end) goto fail;
  if (!st.ok || !st.has_result || st.result.bad_warning || st.result.bad_text_bytes) goto fail;
  if (st.result.has_text == (reply->text_bytes >= 0)) goto fail; /* neither, or both */
  return 0;
fail:
  status_reply_free(reply);
  return -1;
}

void status_reply_free(struct status_reply *reply) {
  buf_free(&reply->text);
  buf_free(&reply->warning);
  reply->has_warning = 0;
}
