/*
 * errors.c — error messages of the HTTP layer.
 *
 * First the service's own words, dug out of an error body: `error.message`
 * (Google, Microsoft Graph) or `error_description` / a string `error`
 * (OAuth) from JSON, `<s:message>` (Nextcloud / Sabre) from XML, else the
 * first line of the body. Then the message of a request, which names the
 * method and the URL without its query string (a query may carry
 * credentials) and never contains the client's token.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "net/net_internal.h"

/* Copies at most n bytes of s into out as one printable line. */
static void errors_copy_line(const char *s, size_t n, char *out, size_t size) {
  size_t o = 0;
  while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) s++, n--;
  for (size_t i = 0; i < n && o + 1 < size; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '\n' || ch == '\r') break;
    out[o++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
  }
  while (o > 0 && out[o - 1] == ' ') o--;
  out[o] = '\0';
}

static int errors_from_json(const char *body, char *out, size_t size) {
  char perr[64];
  yajl_val root = yajl_tree_parse(body, perr, sizeof perr);
  if (!root) return 0;
  const char *p_msg[] = {"error", "message", NULL};
  const char *p_err[] = {"error", NULL};
  const char *p_desc[] = {"error_description", NULL};
  const char *p_top[] = {"message", NULL};
  yajl_val v = yajl_tree_get(root, p_msg, yajl_t_string);
  if (!v) v = yajl_tree_get(root, p_desc, yajl_t_string);
  if (!v) v = yajl_tree_get(root, p_err, yajl_t_string);
  if (!v) v = yajl_tree_get(root, p_top, yajl_t_string);
  const char *msg = v ? YAJL_GET_STRING(v) : NULL;
  int found = msg != NULL;
  if (msg) errors_copy_line(msg, strlen(msg), out, size);
  yajl_tree_free(root);
  return found;
}

static int errors_from_xml(const char *body, char *out, size_t size) {
  const char *open = strstr(body, "<s:message>");
  size_t skip = 11;
  if (!open) {
    open = strstr(body, "<message>");
    skip = 9;
  }
  if (!open) return 0;
  const char *start = open + skip, *end = strchr(start, '<');
  if (!end) return 0;
  errors_copy_line(start, (size_t)(end - start), out, size);
  return out[0] != '\0';
}

void net_service_message(const char *body, size_t len, const char *ctype, char *out,
                         size_t size) {
  out[0] = '\0';
  if (!body || !len) return;
  const char *p = body;
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  if ((*p == '{' || (ctype && strstr(ctype, "json"))) && errors_from_json(body, out, size))
    return;
  if ((*p == '<' || (ctype && strstr(ctype, "xml"))) && errors_from_xml(body, out, size))
    return;
  if (*p == '<') {
    /* HTML or unknown XML: a tag soup says nothing useful in one line. */
    const char *t = strstr(body, "<title>");
    if (t) {
      const char *e = strchr(t + 7, '<');
      if (e) errors_copy_line(t + 7, (size_t)(e - t - 7), out, size);
    }
    return;
  }
  errors_copy_line(body, len < 200 ? len : 200, out, size);
}

/* Replaces every occurrence of secret in s (NUL-terminated, in place). */
static void errors_redact(char *s, size_t size, const char *secret) {
  static const char mark[] = "[redacted]";
  size_t sl = strlen(secret);
  if (sl < 4) return;
  char *from = s, *hit;
  (void)size;
  while ((hit = strstr(from, secret)) != NULL) {
    if (sl >= sizeof mark - 1) {
      /* the text only shrinks, so it still fits */
      memcpy(hit, mark, sizeof mark - 1);
      memmove(hit + sizeof mark - 1, hit + sl, strlen(hit + sl) + 1);
      from = hit + sizeof mark - 1;
    } else {
      memset(hit, '*', sl); /* shorter than the mark: starred out */
      from = hit + sl;
    }
  }
}

void net_set_error(net_xfer *x, const char *fmt, ...) {
  bl__http_request *r = x->req;
  const char *url = x->url ? x->url : (r->url ? r->url : "");
  size_t ulen = strcspn(url, "?#");
  int n = snprintf(r->errmsg, sizeof r->errmsg, "%s %.*s: ", r->method ? r->method : "GET",
                   (int)(ulen > 200 ? 200 : ulen), url);
  if (n < 0 || (size_t)n >= sizeof r->errmsg) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->errmsg + n, sizeof r->errmsg - (size_t)n, fmt, ap);
  va_end(ap);
  if (x->c->have_token) errors_redact(r->errmsg, sizeof r->errmsg, x->c->token);
  if (x->c->password && *x->c->password)
    errors_redact(r->errmsg, sizeof r->errmsg, x->c->password);
}
