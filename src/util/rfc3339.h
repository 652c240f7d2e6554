/*
 * rfc3339.h — timestamps of the cloud services' JSON (internal).
 *
 * Drive ("2026-11-25T06:27:32.123Z") and Graph ("2026-11-25T06:27:32Z",
 * "…+01:00", up to seven fraction digits) write RFC 3339 date-times; one
 * strict parser serves both, with no dependency on the process's time
 * zone (no mktime / timegm).
 */
#ifndef BL_UTIL_RFC3339_H
#define BL_UTIL_RFC3339_H

#include <stdint.h>

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" ('t' and ' ' accepted
 * for 'T', 'z' for 'Z') into milliseconds since 1970-01-01T00:00:00Z
 * (digits past the third of the fraction are dropped). Returns BL_OK, or
 * BL_ECORRUPT for anything else — trailing bytes, no zone, a field out of
 * range — with *ms set to 0.
 */
int bl__rfc3339_parse(const char *s, int64_t *ms);

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
int64_t bl__days_from_civil(int64_t y, int64_t m, int64_t d);

#endif
