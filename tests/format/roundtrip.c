/*
 * roundtrip.c — the changeset writer and reader together: the exact bytes
 * of a small file, every value type and edge through a write and a read,
 * site indexing, batch boundaries, the snapshot header, and what the writer
 * refuses.
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "helpers.h"

static const unsigned char site_a[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const unsigned char site_b[16] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
                                         0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00};
static const unsigned char site_c[16] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                         0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x01};

/* Writes changes c[0..n), reads them back with `batch`, and checks every
 * one came back identical. Returns the file (caller frees) for more checks. */
static char *roundtrip(const bl_cs_change *c, size_t n, size_t batch, fmt_collect *col) {
  bl_cs_header h = fmt_header();
  size_t len = 0;
  char *buf = fmt_write(&h, c, n, &len);
  if (!buf) return NULL;
  char *err = NULL;
  int rc = fmt_read(buf, len, batch, col, &err);
  if (rc != BL_OK) fprintf(stderr, "  read: %d %s\n", rc, err ? err : "");
  free(err);
  BL_CHECK_INT(rc, BL_OK);
  BL_CHECK_INT(col->n, n);
  for (size_t i = 0; i < n && i < col->n; i++) {
    if (!fmt_change_eq(&c[i], &col->ch[i].c)) {
      fprintf(stderr, "  change %zu differs after the round trip\n", i);
      bl_test_failed_checks++;
      break;
    }
  }
  return buf;
}

static void test_format_roundtrip__exact_bytes(void) {
  bl_cs_header h = fmt_header();
  h.sequence = 12;
  h.schema_version = 2;
  h.db_version_min = 5;
  h.db_version_max = 9;
  bl_cs_change c[2];
  c[0] = fmt_change_of(fmt_text("Buy milk", 8), site_a);
  c[1] = fmt_change_of(fmt_int(1), site_a);
  c[1].cid = "done";
  c[1].cid_len = 4;
  c[1].col_version = 2;
  c[1].db_version = 6;
  c[1].seq = 1;
  char *buf = fmt_write(&h, c, 2, NULL);
  BL_REQUIRE(buf);
  BL_CHECK_STR(
      buf,
      "{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\","
      "\"device\":\"" FMT_DEVICE
      "\",\"sequence\":12,\"schema_version\":2,"
      "\"db_versions\":[5,9],\"changes\":[\n"
      "[\"todos\",\"AQkB\",\"title\",\"Buy milk\",1,5,\"000102030405060708090a0b0c0d0e0f\",1,0],\n"
      "[\"todos\",\"AQkB\",\"done\",1,2,6,0,1,1]\n"
      "],\"count\":2}\n");
  free(buf);

  buf = fmt_write(&h, NULL, 0, NULL);
  BL_REQUIRE(buf);
  BL_CHECK(strstr(buf, "\"changes\":[\n],\"count\":0}\n") != NULL);
  fmt_collect col = {0};
  BL_CHECK_INT(fmt_read(buf, strlen(buf), 10, &col, NULL), BL_OK);
  BL_CHECK_INT(col.header_calls, 1);
  BL_CHECK_INT(col.nbatches, 0); /* no empty batch */
  fmt_collect_free(&col);
  free(buf);
}

/* Every value, each as one change; with its expected encoding when the
 * encoding is the point (NULL: only the round trip is checked). */
typedef struct value_case {
  bl_cs_value v;
  const char *json;
} value_case;

static void test_format_roundtrip__values(void) {
  static const char nul_text[] = "a\0b\0";
  static unsigned char bytes[256];
  for (int i = 0; i < 256; i++) bytes[i] = (unsigned char)i;
  double denormal = 4.9406564584124654e-324; /* the smallest */
  value_case cases[] = {
      {fmt_null(), "null"},
      {fmt_int(0), ",0,"},
      {fmt_int(-1), ",-1,"},
      {fmt_int(9007199254740991LL), ",9007199254740991,"},
      {fmt_int(-9007199254740991LL), ",-9007199254740991,"},
      {fmt_int(9007199254740992LL), "{\"i\":\"9007199254740992\"}"},
      {fmt_int(-9007199254740992LL), "{\"i\":\"-9007199254740992\"}"},
      {fmt_int(9007199254740993LL), "{\"i\":\"9007199254740993\"}"},
      {fmt_int(INT64_MAX), "{\"i\":\"9223372036854775807\"}"},
      {fmt_int(INT64_MIN), "{\"i\":\"-9223372036854775808\"}"},
      {fmt_real(0.0), "{\"r\":\"0\"}"},
      {fmt_real(-0.0), "{\"r\":\"-0\"}"},
      {fmt_real(0.1), "{\"r\":\"0.10000000000000001\"}"},
      {fmt_real(1.0 / 3.0), NULL},
      {fmt_real(1.5), "{\"r\":\"1.5\"}"},
      {fmt_real(1e300), "{\"r\":\"1.0000000000000001e+300\"}"},
      {fmt_real(-2.5e-300), NULL},
      {fmt_real(DBL_MIN), NULL},
      {fmt_real(denormal), "{\"r\":\"4.9406564584124654e-324\"}"},
      {fmt_real(-denormal * 3), NULL},
      {fmt_real(DBL_MAX), "{\"r\":\"1.7976931348623157e+308\"}"},
      {fmt_real(9007199254740993.0), NULL},
      {fmt_real(INFINITY), "{\"r\":\"inf\"}"},
      {fmt_real(-INFINITY), "{\"r\":\"-inf\"}"},
      {fmt_text("", 0), ",\"\","},
      {fmt_text("plain", 5), "\"plain\""},
      {fmt_text(nul_text, 4), "\"a\\u0000b\\u0000\""},
      {fmt_text("\"q\" \\ \n\t\x01/", 10), NULL},
      {fmt_text("h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e", 15),
       "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e\""},
      {fmt_text("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7), NULL}, /* U+FFFF, U+10FFFF */
      {fmt_text("\xff", 1), "{\"t\":\"/w==\"}"},
      {fmt_text("\xc0\x80", 2), "{\"t\":\"wIA=\"}"},             /* overlong NUL */
      {fmt_text("\xe0\x80\xaf", 3), "{\"t\":\"4ICv\"}"},         /* overlong '/' */
      {fmt_text("\xed\xa0\x80", 3), "{\"t\":\"7aCA\"}"},         /* surrogate U+D800 */
      {fmt_text("\xf4\x90\x80\x80", 4), "{\"t\":\"9JCAgA==\"}"}, /* U+110000 */
      {fmt_text("ab\xe2\x82", 4), "{\"t\":\"YWLigg==\"}"},       /* truncated sequence */
      {fmt_text("\x80", 1), NULL},                               /* lone continuation byte */
      {fmt_blob("", 0), "{\"b\":\"\"}"},
      {fmt_blob("\x00", 1), "{\"b\":\"AA==\"}"},
      {fmt_blob(bytes, 256), NULL},
  };
  size_t n = sizeof cases / sizeof cases[0];
  bl_cs_change c[sizeof cases / sizeof cases[0]];
  for (size_t i = 0; i < n; i++) c[i] = fmt_change_of(cases[i].v, site_a);
  fmt_collect col = {0};
  char *buf = roundtrip(c, n, 1000, &col);
  BL_REQUIRE(buf);
  /* Encodings: the i-th change is on line i + 1. */
  char *line = strchr(buf, '\n');
  for (size_t i = 0; i < n && line; i++) {
    char *next = strchr(line + 1, '\n');
    BL_REQUIRE(next);
    *next = '\0';
    if (cases[i].json && !strstr(line + 1, cases[i].json)) {
      fprintf(stderr, "  case %zu: %s lacks %s\n", i, line + 1, cases[i].json);
      bl_test_failed_checks++;
    }
    *next = '\n';
    line = next;
  }
  /* -0.0 and 0.0 stay distinct. */
  BL_CHECK(col.n > 11 && signbit(col.ch[11].c.val.f) && col.ch[11].c.val.f == 0.0);
  BL_CHECK(col.n > 10 && !signbit(col.ch[10].c.val.f));
  fmt_collect_free(&col);
  free(buf);
}

/* Values larger than the reader's 64 KiB chunks cross chunk boundaries. */
static void test_format_roundtrip__large_values(void) {
  size_t big = 3 * 1024 * 1024 + 7;
  unsigned char *blob = malloc(big);
  char *text = malloc(big);
  BL_REQUIRE(blob && text);
  uint32_t x = 12345;
  for (size_t i = 0; i < big; i++) {
    x = x * 1103515245u + 12345u;
    blob[i] = (unsigned char)(x >> 16);
    text[i] = (char)('a' + (x >> 16) % 26);
  }
  text[100] = '\0'; /* a NUL inside is still UTF-8 */
  bl_cs_change c[4];
  c[0] = fmt_change_of(fmt_blob(blob, (int)big), site_a);
  c[1] = fmt_change_of(fmt_text(text, (int)big), site_b);
  c[2] = fmt_change_of(fmt_blob(blob, 70000), site_a);
  c[3] = fmt_change_of(fmt_int(3), site_b);
  for (size_t batch = 1; batch <= 4; batch += 3) {
    fmt_collect col = {0};
    free(roundtrip(c, 4, batch, &col));
    fmt_collect_free(&col);
  }
  free(blob);
  free(text);
}

static void test_format_roundtrip__other_fields(void) {
  /* Names with UTF-8, a composite key, and counters at their extremes. */
  static const unsigned char pk[] = {0x03, 0x09, 0x01, 0x0B, 0x01, 0x61, 0x0C, 0x01, 0x01};
  bl_cs_change c[3];
  c[0] = fmt_change_of(fmt_int(1), site_a);
  c[0].table =
      "t\xc3\xa4"
      "ble \"x\"";
  c[0].table_len = (int)strlen(c[0].table);
  c[0].cid = "-1";
  c[0].cid_len = 2;
  c[0].pk = pk;
  c[0].pk_len = sizeof pk;
  c[1] = fmt_change_of(fmt_null(), site_b);
  c[1].col_version = INT64_MAX;
  c[1].db_version = INT64_MAX;
  c[1].cl = INT64_MAX;
  c[1].seq = INT64_MAX;
  c[2] = fmt_change_of(fmt_null(), site_a);
  c[2].col_version = c[2].db_version = c[2].cl = c[2].seq = 0;
  fmt_collect col = {0};
  char *buf = roundtrip(c, 3, 2, &col);
  BL_CHECK(
      buf &&
      strstr(buf, "9223372036854775807,\"ffeeddccbbaa99887766554433221100\",9223372036854775807"));
  BL_CHECK(buf && strstr(buf, "\"AwkBCwFhDAEB\""));
  fmt_collect_free(&col);
  free(buf);
}

static void test_format_roundtrip__site_indexing(void) {
  const unsigned char *order[] = {site_a, site_b, site_a, site_c, site_b, site_c, site_a};
  bl_cs_change c[7];
  for (int i = 0; i < 7; i++) c[i] = fmt_change_of(fmt_int(i), order[i]);
  fmt_collect col = {0};
  char *buf = roundtrip(c, 7, 3, &col);
  BL_REQUIRE(buf);
  const char *expect[] = {"\"000102030405060708090a0b0c0d0e0f\"",
                          "\"ffeeddccbbaa99887766554433221100\"",
                          ",0,1,0]",
                          "\"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a01\"",
                          ",1,1,0]",
                          ",2,1,0]",
                          ",0,1,0]"};
  char *line = strchr(buf, '\n');
  for (int i = 0; i < 7 && line; i++) {
    char *next = strchr(line + 1, '\n');
    BL_REQUIRE(next);
    *next = '\0';
    if (!strstr(line + 1, expect[i])) {
      fprintf(stderr, "  change %d: %s lacks %s\n", i, line + 1, expect[i]);
      bl_test_failed_checks++;
    }
    *next = '\n';
    line = next;
  }
  fmt_collect_free(&col);
  free(buf);
}

/* Many sites: the writer's index must stay right past its table growth. */
static void test_format_roundtrip__many_sites(void) {
  enum { N = 3000 };
  static unsigned char sites[N / 3][16];
  static bl_cs_change c[N];
  for (int i = 0; i < N / 3; i++) {
    memset(sites[i], 0, 16);
    sites[i][3] = (unsigned char)(i >> 8);
    sites[i][15] = (unsigned char)i;
  }
  for (int i = 0; i < N; i++) c[i] = fmt_change_of(fmt_int(i), sites[(i * 7) % (N / 3)]);
  fmt_collect col = {0};
  free(roundtrip(c, N, 100, &col));
  fmt_collect_free(&col);
}

static void check_batches(size_t n, size_t batch) {
  bl_cs_change *c = calloc(n ? n : 1, sizeof *c);
  BL_REQUIRE(c);
  for (size_t i = 0; i < n; i++) {
    c[i] = fmt_change_of(fmt_int((int64_t)i), i % 2 ? site_a : site_b);
    c[i].db_version = (int64_t)i;
  }
  fmt_collect col = {0};
  free(roundtrip(c, n, batch, &col));
  size_t full = n / batch, rest = n % batch;
  BL_CHECK_INT(col.nbatches, full + (rest ? 1 : 0));
  for (size_t i = 0; i < col.nbatches; i++) {
    size_t want = i < full ? batch : rest;
    if (col.batches[i] != want) {
      fprintf(stderr, "  n=%zu batch=%zu: call %zu had %zu changes, expected %zu\n", n, batch, i,
              col.batches[i], want);
      bl_test_failed_checks++;
    }
  }
  BL_CHECK_INT(col.header_calls, 1);
  BL_CHECK(!col.changes_before_header);
  fmt_collect_free(&col);
  free(c);
}

static void test_format_roundtrip__batches(void) {
  static const size_t batches[] = {1, 2, 7, 1000};
  static const size_t counts[] = {0, 1, 2, 3, 6, 7, 8, 13, 14, 15, 999, 1000, 1001, 2000, 2003};
  for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
      check_batches(counts[k], batches[b]);
  check_batches(5, SIZE_MAX); /* a huge batch is not allocated up front */
}

static void test_format_roundtrip__snapshot_header(void) {
  bl_cs_header h = fmt_header();
  h.kind = BL_CS_SNAPSHOT;
  h.sequence = 123456;
  h.schema_version = 7;
  h.db_version_min = 0;
  h.db_version_max = 1234567890123LL;
  bl_cs_change c = fmt_change_of(fmt_text("x", 1), site_c);
  size_t len = 0;
  char *buf = fmt_write(&h, &c, 1, &len);
  BL_REQUIRE(buf);
  BL_CHECK(strstr(buf, "\"kind\":\"snapshot\""));
  fmt_collect col = {0};
  BL_CHECK_INT(fmt_read(buf, len, 10, &col, NULL), BL_OK);
  BL_CHECK_INT(col.header_calls, 1);
  BL_CHECK_INT(col.h.format_version, BL_FORMAT_VERSION);
  BL_CHECK_INT(col.h.kind, BL_CS_SNAPSHOT);
  BL_CHECK_STR(col.h.device, FMT_DEVICE);
  BL_CHECK_INT(col.h.sequence, 123456);
  BL_CHECK_INT(col.h.schema_version, 7);
  BL_CHECK_INT(col.h.db_version_min, 0);
  BL_CHECK_INT(col.h.db_version_max, 1234567890123LL);
  BL_CHECK_INT(col.n, 1);
  fmt_collect_free(&col);
  free(buf);
}

/* Header keys may come in any order, with whitespace anywhere. */
static void test_format_roundtrip__reader_accepts(void) {
  const char *ok[] = {
      "  {\"db_versions\" : [ 3 , 3 ] , \"schema_version\":1, \"sequence\":99999999,\n"
      "\"device\":\"" FMT_DEVICE
      "\",\"kind\":\"changeset\",\"version\":1,\"format\":\"backless\",\n"
      "\"changes\" : [ [ \"t\" , \"AA==\" , \"c\" , -0 , 0 , 0 , \""
      "ffffffffffffffffffffffffffffffff"
      "\" , 0 , 0 ] ] ,"
      " \"count\" : 1 } \n\t\r ",
      /* {"i"} for a small integer, "t" for valid UTF-8, other real spellings. */
      "{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":\"" FMT_DEVICE
      "\","
      "\"sequence\":1,\"schema_version\":1,\"db_versions\":[0,0],\"changes\":["
      "[\"t\",\"AA==\",\"c\",{\"i\":\"5\"},0,0,\"00000000000000000000000000000000\",0,0],"
      "[\"t\",\"AA==\",\"c\",{\"t\":\"YQ==\"},0,0,0,0,0],"
      "[\"t\",\"AA==\",\"c\",{\"r\":\"1E2\"},0,0,0,0,0],"
      "[\"t\",\"AA==\",\"c\",{\"r\":\"5e-324\"},0,0,0,0,0],"
      "[\"t\",\"AA==\",\"c\",{\"r\":\"1e-400\"},0,0,0,0,0],"
      "[\"t\",\"AA==\",\"c\",\"\\ud834\\udd1e\",0,0,0,0,0]"
      "],\"count\":6}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    fmt_collect col = {0};
    char *err = NULL;
    int rc = fmt_read(ok[i], strlen(ok[i]), 4, &col, &err);
    if (rc != BL_OK) fprintf(stderr, "  case %zu: %s\n", i, err ? err : "");
    BL_CHECK_INT(rc, BL_OK);
    BL_CHECK(err == NULL);
    free(err);
    if (i == 0) {
      BL_CHECK_INT(col.h.sequence, 99999999);
      BL_CHECK(col.n == 1 && col.ch[0].c.val.type == SQLITE_INTEGER && col.ch[0].c.val.i == 0);
    } else {
      BL_REQUIRE(col.n == 6);
      BL_CHECK(col.ch[0].c.val.type == SQLITE_INTEGER && col.ch[0].c.val.i == 5);
      BL_CHECK(col.ch[1].c.val.type == SQLITE_TEXT && col.ch[1].c.val.n == 1 &&
               col.ch[1].c.val.p[0] == 'a');
      BL_CHECK(col.ch[2].c.val.type == SQLITE_FLOAT && col.ch[2].c.val.f == 100.0);
      BL_CHECK(col.ch[3].c.val.type == SQLITE_FLOAT &&
               col.ch[3].c.val.f == 4.9406564584124654e-324);
      BL_CHECK(col.ch[4].c.val.type == SQLITE_FLOAT && col.ch[4].c.val.f == 0.0);
      BL_CHECK(col.ch[5].c.val.type == SQLITE_TEXT && col.ch[5].c.val.n == 4 &&
               memcmp(col.ch[5].c.val.p, "\xf0\x9d\x84\x9e", 4) == 0);
      BL_CHECK(col.ch[5].c.table_len == 1 && col.ch[5].c.table[1] == '\0'); /* NUL-terminated */
    }
    fmt_collect_free(&col);
  }
}

/* Reals use '.' whatever LC_NUMERIC says (only where such a locale exists). */
static void test_format_roundtrip__locale(void) {
  static const char *locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
                                  "fr_FR.utf8",  "de_DE",      NULL};
  const char *set = NULL;
  for (int i = 0; locales[i] && !set; i++) set = setlocale(LC_NUMERIC, locales[i]);
  if (!set) {
    printf("     (no locale with a ',' decimal point installed; locale check skipped)\n");
    return;
  }
  bl_cs_change c[2];
  c[0] = fmt_change_of(fmt_real(0.5), site_a);
  c[1] = fmt_change_of(fmt_real(-1.25e-7), site_a);
  fmt_collect col = {0};
  char *buf = roundtrip(c, 2, 10, &col);
  BL_CHECK(buf && strstr(buf, "{\"r\":\"0.5\"}"));
  fmt_collect_free(&col);
  free(buf);
  setlocale(LC_NUMERIC, "C");
}

static void test_format_roundtrip__writer_refuses(void) {
  char *buf = NULL;
  size_t size = 0;
  FILE *fp = open_memstream(&buf, &size);
  BL_REQUIRE(fp);
  bl_cs_writer *w = NULL;

  /* Bad headers: nothing written, no writer. */
  bl_cs_header h = fmt_header();
  h.format_version = 0;
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_EMISUSE);
  BL_CHECK(w == NULL && strstr(bl_errmsg(NULL), "format_version"));
  h = fmt_header();
  h.kind = 0;
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_EMISUSE);
  h = fmt_header();
  memcpy(h.device, "0F8E3F52-9C1D-4B7A-8E2F-3A5B6C7D8E9F", 37);
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_EMISUSE);
  h = fmt_header();
  memset(h.device, 'a', sizeof h.device); /* not terminated */
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_EMISUSE);
  h = fmt_header();
  h.sequence = 0;
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_EMISUSE);
  h = fmt_header();
  h.schema_version = 0;
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_EMISUSE);
  h = fmt_header();
  h.db_version_min = 5;
  h.db_version_max = 4;
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_EMISUSE);
  h = fmt_header();
  h.db_version_min = -1;
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_EMISUSE);
  BL_CHECK_INT(bl_cs_writer_open(&w, NULL, &h), BL_EMISUSE);
  BL_CHECK_INT(bl_cs_writer_open(NULL, fp, &h), BL_EMISUSE);
  fflush(fp);
  BL_CHECK_INT(size, 0);

  h = fmt_header();
  BL_REQUIRE(bl_cs_writer_open(&w, fp, &h) == BL_OK);
  bl_cs_change good = fmt_change_of(fmt_int(1), site_a);
  bl_cs_change bad[16];
  int nbad = 0;
  bad[nbad] = good, bad[nbad].table = NULL, nbad++;
  bad[nbad] = good, bad[nbad].table_len = 0, nbad++;
  bad[nbad] = good, bad[nbad].table = "a\xff", bad[nbad].table_len = 2, nbad++;
  bad[nbad] = good, bad[nbad].table = "a\0b", bad[nbad].table_len = 3, nbad++;
  bad[nbad] = good, bad[nbad].pk = NULL, nbad++;
  bad[nbad] = good, bad[nbad].pk_len = 0, nbad++;
  bad[nbad] = good, bad[nbad].cid = "x\0", bad[nbad].cid_len = 2, nbad++;
  bad[nbad] = good, bad[nbad].cid_len = -1, nbad++;
  bad[nbad] = good, bad[nbad].val = fmt_real(NAN), nbad++;
  bad[nbad] = good, bad[nbad].val = fmt_text(NULL, 3), nbad++;
  bad[nbad] = good, bad[nbad].val = fmt_blob("x", -1), nbad++;
  bad[nbad] = good, bad[nbad].val.type = 42, nbad++;
  bad[nbad] = good, bad[nbad].col_version = -1, nbad++;
  bad[nbad] = good, bad[nbad].cl = -5, nbad++;
  bad[nbad] = good, bad[nbad].site_id = NULL, nbad++;
  BL_CHECK_INT(bl_cs_writer_add(w, NULL), BL_EMISUSE);
  for (int i = 0; i < nbad; i++) {
    int rc = bl_cs_writer_add(w, &bad[i]);
    if (rc != BL_EMISUSE) {
      fprintf(stderr, "  bad change %d accepted (%d)\n", i, rc);
      bl_test_failed_checks++;
    }
  }
  BL_CHECK(strstr(bl_errmsg(NULL), "site_id") != NULL);
  BL_CHECK_INT(bl_cs_writer_count(w), 0);
  BL_CHECK_INT(bl_cs_writer_add(w, &good), BL_OK);
  BL_CHECK_INT(bl_cs_writer_count(w), 1);
  BL_CHECK_INT(bl_cs_writer_finish(w), BL_OK);
  BL_CHECK_INT(bl_cs_writer_finish(w), BL_EMISUSE);
  BL_CHECK_INT(bl_cs_writer_add(w, &good), BL_EMISUSE);
  bl_cs_writer_free(w);
  bl_cs_writer_free(NULL);
  fclose(fp);

  /* The refused changes left no trace: the file holds exactly one change. */
  fmt_collect col = {0};
  BL_CHECK_INT(fmt_read(buf, size, 10, &col, NULL), BL_OK);
  BL_CHECK_INT(col.n, 1);
  fmt_collect_free(&col);
  free(buf);
}

/* A write error is reported (here by a full device), sticky until finish. */
static void test_format_roundtrip__write_error(void) {
  FILE *fp = fopen("/dev/full", "w");
  if (!fp) {
    printf("     (no /dev/full; write error check skipped)\n");
    return;
  }
  setvbuf(fp, NULL, _IOFBF, 256);
  bl_cs_header h = fmt_header();
  bl_cs_writer *w = NULL;
  int rc = bl_cs_writer_open(&w, fp, &h);
  int failed_add = 0;
  bl_cs_change c = fmt_change_of(fmt_text("some text to fill the buffer", 28), site_a);
  for (int i = 0; rc == BL_OK && w && i < 100; i++) {
    int arc = bl_cs_writer_add(w, &c);
    if (arc != BL_OK) {
      BL_CHECK_INT(arc, BL_EIO);
      failed_add = 1;
      BL_CHECK_INT(bl_cs_writer_add(w, &c), BL_EIO); /* sticky */
      break;
    }
  }
  BL_CHECK(failed_add);
  if (rc == BL_OK) BL_CHECK_INT(bl_cs_writer_finish(w), BL_EIO);
  bl_cs_writer_free(w);
  fclose(fp);

  /* A failure that only shows at the final flush. */
  fp = fopen("/dev/full", "w");
  BL_REQUIRE(fp);
  w = NULL;
  BL_CHECK_INT(bl_cs_writer_open(&w, fp, &h), BL_OK);
  BL_CHECK_INT(bl_cs_writer_add(w, &c), BL_OK);
  BL_CHECK_INT(bl_cs_writer_finish(w), BL_EIO);
  bl_cs_writer_free(w);
  fclose(fp);
}

static bl_test_case cases[] = {
    BL_TEST(test_format_roundtrip__exact_bytes),    BL_TEST(test_format_roundtrip__values),
    BL_TEST(test_format_roundtrip__large_values),   BL_TEST(test_format_roundtrip__other_fields),
    BL_TEST(test_format_roundtrip__site_indexing),  BL_TEST(test_format_roundtrip__many_sites),
    BL_TEST(test_format_roundtrip__batches),        BL_TEST(test_format_roundtrip__snapshot_header),
    BL_TEST(test_format_roundtrip__reader_accepts), BL_TEST(test_format_roundtrip__locale),
    BL_TEST(test_format_roundtrip__writer_refuses), BL_TEST(test_format_roundtrip__write_error),
};
BL_TEST_MAIN(cases)
