/*
 * names.c — names of the files and folders of the cloud layout
 * (docs/FORMAT.md, "Naming"): "cs-NNNNN.json", "snapshot-NNNNN.json" and
 * "device-<uuid>".
 *
 * A sequence number is written in decimal, zero-padded to 5 digits and
 * wider when it needs more, and always parsed as an integer (never compared
 * as text), so cs-100000.json follows cs-99999.json. Each sequence has
 * exactly one name: a name whose digits are not what formatting its value
 * would give (such as "cs-000012.json") is not a changeset name, so two
 * files can never claim the same sequence.
 */
#include <string.h>

#include "backless.h"
#include "format/changeset.h"
#include "format/cs_internal.h"

#define NAMES_MIN_DIGITS 5
#define NAMES_MAX_SEQ 1000000000000000LL /* 10^15 */

static const char *names_prefix(bl_cs_kind kind) {
  switch (kind) {
    case BL_CS_CHANGESET:
      return "cs-";
    case BL_CS_SNAPSHOT:
      return "snapshot-";
  }
  return NULL;
}

/* Parses the digits of a name, s[0..n): 1 and *seq when they are the
 * canonical form of a value in 1 .. 10^15. */
static int names_digits(const char *s, size_t n, int64_t *seq) {
  if (n < NAMES_MIN_DIGITS || n > 16) return 0; /* 10^15 has 16 digits */
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (s[i] - '0'); /* at most 16 digits: no overflow */
  }
  if (v < 1 || v > NAMES_MAX_SEQ) return 0;
  /* Canonical: no more leading zeros than the padding to 5 needs. */
  if (n > NAMES_MIN_DIGITS && s[0] == '0') return 0;
  *seq = v;
  return 1;
}

int bl_cs_parse_name(const char *name, bl_cs_kind *kind, int64_t *seq) {
  static const bl_cs_kind kinds[] = {BL_CS_CHANGESET, BL_CS_SNAPSHOT};
  if (!name) return 0;
  size_t len = strlen(name);
  if (len < 5 || memcmp(name + len - 5, ".json", 5) != 0) return 0;
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    const char *prefix = names_prefix(kinds[k]);
    size_t pl = strlen(prefix);
    if (len < pl + 5 || memcmp(name, prefix, pl) != 0) continue;
    int64_t v = 0;
    if (!names_digits(name + pl, len - pl - 5, &v)) return 0;
    if (kind) *kind = kinds[k];
    if (seq) *seq = v;
    return 1;
  }
  return 0;
}

int bl_cs_format_name(char *buf, size_t size, bl_cs_kind kind, int64_t seq) {
  const char *prefix = names_prefix(kind);
  if (!buf || size == 0 || !prefix || seq < 1 || seq > NAMES_MAX_SEQ) return BL_EMISUSE;
  int n = snprintf(buf, size, "%s%0*lld.json", prefix, NAMES_MIN_DIGITS, (long long)seq);
  if (n < 0 || (size_t)n >= size) {
    buf[0] = '\0';
    return BL_EMISUSE;
  }
  return BL_OK;
}

int bl_cs_parse_device_folder(const char *name, char uuid[37]) {
  static const char prefix[] = "device-";
  size_t pl = sizeof prefix - 1;
  if (!name || strncmp(name, prefix, pl) != 0) return 0;
  const char *u = name + pl;
  if (strlen(u) != 36 || !bl__cs_is_uuid(u, 36)) return 0;
  if (uuid) {
    memcpy(uuid, u, 36);
    uuid[36] = '\0';
  }
  return 1;
}
