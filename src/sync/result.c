/*
 * result.c — bl_sync_result: counts and the lists of warnings and errors,
 * each naming its device and a stable code.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_internal.h"

const char *bl_sync_code_name(int code) {
  switch (code) {
    case BL_SYNC_REMOTE: return "remote";
    case BL_SYNC_CORRUPT: return "corrupt";
    case BL_SYNC_WRONG_DEVICE: return "wrong_device";
    case BL_SYNC_WRONG_SEQUENCE: return "wrong_sequence";
    case BL_SYNC_BAD_NAME: return "bad_name";
    case BL_SYNC_SCHEMA_NEWER: return "schema_newer";
    case BL_SYNC_DROPPED: return "dropped";
    case BL_SYNC_PARTIAL: return "partial";
    case BL_SYNC_COMPACTED: return "compacted";
    case BL_SYNC_GAP: return "gap";
    case BL_SYNC_APPLY: return "apply";
    case BL_SYNC_PUSH: return "push";
    case BL_SYNC_FORMAT: return "format";
    case BL_SYNC_RETRIED: return "retried";
    case BL_SYNC_MEDIA: return "media";
    case BL_SYNC_KEY: return "key";
    default: return "unknown";
  }
}

static void result_free_list(bl_sync_issue *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(list[i].device);
    free(list[i].message);
  }
  free(list);
}

void bl_sync_result_free(bl_sync_result *r) {
  if (!r) return;
  result_free_list(r->warnings, r->warnings_count);
  result_free_list(r->errors, r->errors_count);
  memset(r, 0, sizeof *r);
}

void bl__result_reset(bl_sync_result *r) { bl_sync_result_free(r); }

static char *result_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static void result_add(bl_sync_issue **list, size_t *count, const char *device, int code, const char *fmt,
                       va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  bl_sync_issue *grown = realloc(*list, (*count + 1) * sizeof **list);
  if (!grown) return;
  *list = grown;
  bl_sync_issue *it = &grown[*count];
  it->device = result_strdup(device);
  it->code = code;
  it->message = result_strdup(msg);
  if ((device && !it->device) || !it->message) {
    free(it->device);
    free(it->message);
    return;
  }
  (*count)++;
}

void bl__result_warn(bl_sync_result *r, const char *device, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  result_add(&r->warnings, &r->warnings_count, device, code, fmt, ap);
  va_end(ap);
}

void bl__result_error(bl_sync_result *r, const char *device, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  result_add(&r->errors, &r->errors_count, device, code, fmt, ap);
  va_end(ap);
}

void bl__ctx_error(bl_sync_ctx *ctx, const char *device, int sync_code, int bl_code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  result_add(&ctx->res->errors, &ctx->res->errors_count, device, sync_code, fmt, ap);
  va_end(ap);
  if (ctx->first_error == BL_OK) ctx->first_error = bl_code != BL_OK ? bl_code : BL_ERROR;
}

void bl__result_truncate_errors(bl_sync_result *r, size_t n) {
  while (r->errors_count > n) {
    r->errors_count--;
    free(r->errors[r->errors_count].device);
    free(r->errors[r->errors_count].message);
  }
}
