/*
 * names.c — file and folder names of the cloud layout: which names parse,
 * to what, and how sequences are formatted (zero-padded to 5, wider when
 * needed, one name per sequence).
 */
#include <string.h>

#include "harness.h"
#include "helpers.h"

static void test_format_names__parse_accepts(void) {
  static const struct {
    const char *name;
    bl_cs_kind kind;
    int64_t seq;
  } ok[] = {
      {"cs-00001.json", BL_CS_CHANGESET, 1},
      {"cs-00012.json", BL_CS_CHANGESET, 12},
      {"cs-99999.json", BL_CS_CHANGESET, 99999},
      {"cs-100000.json", BL_CS_CHANGESET, 100000},
      {"cs-1234567.json", BL_CS_CHANGESET, 1234567},
      {"cs-999999999999999.json", BL_CS_CHANGESET, 999999999999999LL},
      {"cs-1000000000000000.json", BL_CS_CHANGESET, 1000000000000000LL},
      {"snapshot-00001.json", BL_CS_SNAPSHOT, 1},
      {"snapshot-00300.json", BL_CS_SNAPSHOT, 300},
      {"snapshot-123456.json", BL_CS_SNAPSHOT, 123456},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    bl_cs_kind kind = 0;
    int64_t seq = 0;
    int r = bl_cs_parse_name(ok[i].name, &kind, &seq);
    if (!r || kind != ok[i].kind || seq != ok[i].seq) {
      fprintf(stderr, "  %s: %d kind %d seq %lld\n", ok[i].name, r, (int)kind, (long long)seq);
      bl_test_failed_checks++;
    }
  }
  /* Out parameters may be NULL. */
  BL_CHECK_INT(bl_cs_parse_name("cs-00007.json", NULL, NULL), 1);
}

static void test_format_names__parse_refuses(void) {
  static const char *bad[] = {
      "",
      "cs-.json",
      "cs-0001.json", /* fewer than 5 digits */
      "cs-1.json",
      "cs-00000.json",            /* 0 */
      "cs-000012.json",           /* extra leading zero: not the name of 12 */
      "cs-0000000000000001.json", /* likewise */
      "cs-1000000000000001.json", /* above 10^15 */
      "cs-99999999999999999999999.json",
      "cs-+0012.json",
      "cs- 00012.json",
      "cs-00012 .json",
      "cs-00012.json ",
      " cs-00012.json",
      "cs-0x012.json",
      "cs-00012.JSON",
      "cs-00012.json.tmp",
      "cs-00012.jso",
      "cs-00012",
      "CS-00012.json",
      "cs_00012.json",
      "cs-00012.5.json",
      "cs--0012.json",
      "cs-\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5.json", /* Arabic-Indic digits */
      "snapshot-0001.json",
      "snapshots-00001.json",
      "snapshot-00000.json",
      "snap-00001.json",
      "backless.json",
      "device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f",
      ".json",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bl_cs_kind kind = 0;
    int64_t seq = -7;
    if (bl_cs_parse_name(bad[i], &kind, &seq) != 0) {
      fprintf(stderr, "  accepted \"%s\" as %lld\n", bad[i], (long long)seq);
      bl_test_failed_checks++;
    }
  }
  BL_CHECK_INT(bl_cs_parse_name(NULL, NULL, NULL), 0);
}

static void test_format_names__format(void) {
  char buf[64];
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_CHANGESET, 12), BL_OK);
  BL_CHECK_STR(buf, "cs-00012.json");
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_CHANGESET, 1), BL_OK);
  BL_CHECK_STR(buf, "cs-00001.json");
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_CHANGESET, 99999), BL_OK);
  BL_CHECK_STR(buf, "cs-99999.json");
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_CHANGESET, 100000), BL_OK);
  BL_CHECK_STR(buf, "cs-100000.json");
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_SNAPSHOT, 300), BL_OK);
  BL_CHECK_STR(buf, "snapshot-00300.json");
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_SNAPSHOT, 1000000000000000LL), BL_OK);
  BL_CHECK_STR(buf, "snapshot-1000000000000000.json");

  /* Too small a buffer: exactly fits, one short. */
  char small[14];
  BL_CHECK_INT(bl_cs_format_name(small, sizeof small, BL_CS_CHANGESET, 12), BL_OK);
  BL_CHECK_STR(small, "cs-00012.json");
  BL_CHECK_INT(bl_cs_format_name(small, 13, BL_CS_CHANGESET, 12), BL_EMISUSE);
  BL_CHECK_STR(small, "");
  BL_CHECK_INT(bl_cs_format_name(small, 0, BL_CS_CHANGESET, 12), BL_EMISUSE);
  BL_CHECK_INT(bl_cs_format_name(NULL, 10, BL_CS_CHANGESET, 12), BL_EMISUSE);

  /* Values and kinds that have no name. */
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_CHANGESET, 0), BL_EMISUSE);
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_CHANGESET, -3), BL_EMISUSE);
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, BL_CS_CHANGESET, 1000000000000001LL), BL_EMISUSE);
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, (bl_cs_kind)0, 1), BL_EMISUSE);
  BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, (bl_cs_kind)3, 1), BL_EMISUSE);
}

/* format then parse gives back the same (kind, seq), across widths. */
static void test_format_names__round_trip(void) {
  static const int64_t seqs[] = {1,
                                 9,
                                 10,
                                 99,
                                 12345,
                                 99998,
                                 99999,
                                 100000,
                                 100001,
                                 999999,
                                 1000000,
                                 4294967296LL,
                                 999999999999999LL,
                                 1000000000000000LL};
  for (int k = BL_CS_CHANGESET; k <= BL_CS_SNAPSHOT; k++) {
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
      char buf[64];
      bl_cs_kind kind = 0;
      int64_t seq = 0;
      BL_CHECK_INT(bl_cs_format_name(buf, sizeof buf, (bl_cs_kind)k, seqs[i]), BL_OK);
      BL_CHECK_INT(bl_cs_parse_name(buf, &kind, &seq), 1);
      BL_CHECK_INT(kind, k);
      BL_CHECK_INT(seq, seqs[i]);
    }
  }
}

static void test_format_names__device_folder(void) {
  char uuid[37];
  memset(uuid, 'x', sizeof uuid);
  BL_CHECK_INT(bl_cs_parse_device_folder("device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f", uuid), 1);
  BL_CHECK_STR(uuid, "0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f");
  BL_CHECK_INT(bl_cs_parse_device_folder("device-00000000-0000-0000-0000-000000000000", uuid), 1);
  BL_CHECK_INT(bl_cs_parse_device_folder("device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f", NULL), 1);
  static const char *bad[] = {
      "",
      "device-",
      "device-0F8E3F52-9C1D-4B7A-8E2F-3A5B6C7D8E9F", /* uppercase */
      "device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9",  /* short */
      "device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f0",
      "device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f/",
      "device-0f8e3f529c1d4b7a8e2f3a5b6c7d8e9f",
      "device-0f8e3f52-9c1d-4b7a-8e2f_3a5b6c7d8e9f",
      "device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9g",
      "device-{0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f}",
      "Device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f",
      "devices-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f",
      " device-0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f",
      "0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (bl_cs_parse_device_folder(bad[i], uuid) != 0) {
      fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
      bl_test_failed_checks++;
    }
  }
  BL_CHECK_INT(bl_cs_parse_device_folder(NULL, uuid), 0);
}

static bl_test_case cases[] = {
    BL_TEST(test_format_names__parse_accepts), BL_TEST(test_format_names__parse_refuses),
    BL_TEST(test_format_names__format),        BL_TEST(test_format_names__round_trip),
    BL_TEST(test_format_names__device_folder),
};
BL_TEST_MAIN(cases)
