/*
 * errors.c — what the reader refuses, and how it says so: every header and
 * change validation error with its exact message, every truncation of a
 * valid file, callbacks that stop the read, misuse and read errors.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "helpers.h"

#define HDR_KEYS                                                                          \
  "\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":\"" FMT_DEVICE \
  "\","                                                                                   \
  "\"sequence\":1,\"schema_version\":1,\"db_versions\":[0,1]"
#define FILE_OF(changes, count) "{" HDR_KEYS ",\"changes\":[" changes "],\"count\":" count "}"
#define SITE0 "\"000102030405060708090a0b0c0d0e0f\""
#define SITE1 "\"ffeeddccbbaa99887766554433221100\""
/* A change with value `val` whose site is declared here. */
#define CH(val) "[\"t\",\"AQkB\",\"c\"," val ",1,2," SITE0 ",1,0]"
/* A change with every item given. */
#define CH9(table, pk, cid, val, colv, dbv, site, cl, seq) \
  "[" table "," pk "," cid "," val "," colv "," dbv "," site "," cl "," seq "]"
#define ONE(change) FILE_OF(change, "1")

typedef struct err_case {
  const char *json;
  int rc;
  const char *msg;
} err_case;

static const err_case header_cases[] = {
    {"", BL_ECORRUPT, "invalid JSON near byte 0: parse error: premature EOF"},
    {"   \n", BL_ECORRUPT, "invalid JSON near byte 4: parse error: premature EOF"},
    {"[]", BL_ECORRUPT, "not a backless changeset: not a JSON object"},
    {"\"backless\"", BL_ECORRUPT, "not a backless changeset: not a JSON object"},
    {"{}", BL_ECORRUPT, "not a backless changeset: no \"format\" key"},
    {"{\"version\":1,\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "not a backless changeset: no \"format\" key"},
    {"{\"format\":\"other\",\"version\":1,\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "not a backless changeset: \"format\" is not \"backless\""},
    {"{\"format\":[\"backless\"],\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "not a backless changeset: \"format\" is not \"backless\""},
    /* Newer versions: BL_ESCHEMA, even with keys and values unknown here. */
    {"{\"format\":\"backless\",\"version\":2,\"kind\":\"changeset\",\"changes\":[],\"count\":0}",
     BL_ESCHEMA, "changeset format version 2 is newer than this build supports (1)"},
    {"{\"format\":\"backless\",\"compression\":{\"algo\":[\"zstd\",3]},\"kind\":\"delta\","
     "\"version\":17,"
     "\"changes\":{\"new\":\"layout\"}}",
     BL_ESCHEMA, "changeset format version 17 is newer than this build supports (1)"},
    {"{\"version\":9223372036854775807,\"format\":\"backless\",\"changes\":[]}", BL_ESCHEMA,
     "changeset format version 9223372036854775807 is newer than this build supports (1)"},
    {"{\"format\":\"backless\",\"version\":2}", BL_ESCHEMA,
     "changeset format version 2 is newer than this build supports (1)"},
    {"{\"format\":\"backless\",\"kind\":\"changeset\",\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "header: missing \"version\""},
    {"{\"format\":\"backless\",\"version\":0,\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "header: version must be an integer >= 1"},
    {"{\"format\":\"backless\",\"version\":1.0,\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "header: version must be an integer >= 1"},
    {"{\"format\":\"backless\",\"version\":\"1\",\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "header: version must be an integer >= 1"},
    {"{\"format\":\"backless\",\"version\":99999999999999999999,\"changes\":[],\"count\":0}",
     BL_ECORRUPT, "header: version must be an integer >= 1"},
    {"{" HDR_KEYS ",\"extra\":1,\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "header: unknown key \"extra\""},
    {"{\"extra\\n\\u0000\":{\"a\":[1,{}]}," HDR_KEYS ",\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "header: unknown key \"extra??\""},
    {"{" HDR_KEYS ",\"sequence\":2,\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "header: duplicate key \"sequence\""},
    {"{" HDR_KEYS ",\"db_versions\":[0,1],\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "header: duplicate key \"db_versions\""},
    {"{\"format\":\"backless\",\"version\":1,\"kind\":\"delta\",\"device\":\"" FMT_DEVICE
     "\",\"sequence\":1,\"schema_version\":1,\"db_versions\":[0,1],\"changes\":[],\"count\":0}",
     BL_ECORRUPT, "header: kind must be \"changeset\" or \"snapshot\""},
    {"{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":\"0F8E3F52-9C1D-"
     "4B7A-8E2F-"
     "3A5B6C7D8E9F\",\"sequence\":1,\"schema_version\":1,\"db_versions\":[0,1],\"changes\":[],"
     "\"count\":0}",
     BL_ECORRUPT, "header: device must be a lowercase UUID"},
    {"{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":"
     "\"0f8e3f529c1d4b7a8e2f3a5b6c7d8e9f"
     "\",\"sequence\":1,\"schema_version\":1,\"db_versions\":[0,1],\"changes\":[],\"count\":0}",
     BL_ECORRUPT, "header: device must be a lowercase UUID"},
    {"{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":\"" FMT_DEVICE
     "\",\"sequence\":0,\"schema_version\":1,\"db_versions\":[0,1],\"changes\":[],\"count\":0}",
     BL_ECORRUPT, "header: sequence must be an integer >= 1"},
    {"{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":\"" FMT_DEVICE
     "\",\"sequence\":1e3,\"schema_version\":1,\"db_versions\":[0,1],\"changes\":[],\"count\":0}",
     BL_ECORRUPT, "header: sequence must be an integer >= 1"},
    {"{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":\"" FMT_DEVICE
     "\",\"sequence\":1,\"schema_version\":-1,\"db_versions\":[0,1],\"changes\":[],\"count\":0}",
     BL_ECORRUPT, "header: schema_version must be an integer >= 1"},
    {"{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":\"" FMT_DEVICE
     "\",\"sequence\":1,\"schema_version\":null,\"db_versions\":[0,1],\"changes\":[],\"count\":0}",
     BL_ECORRUPT, "header: schema_version must be an integer >= 1"},
#define DBV_CASE(dbv)                                                                             \
  {                                                                                               \
    "{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"device\":\"" FMT_DEVICE      \
    "\",\"sequence\":1,\"schema_version\":1,\"db_versions\":" dbv ",\"changes\":[],\"count\":0}", \
        BL_ECORRUPT, "header: db_versions must be [min, max] with 0 <= min <= max"                \
  }
    DBV_CASE("[2,1]"),
    DBV_CASE("[1]"),
    DBV_CASE("[]"),
    DBV_CASE("[1,2,3]"),
    DBV_CASE("[-1,2]"),
    DBV_CASE("[1.5,2]"),
    DBV_CASE("[1,[2]]"),
    DBV_CASE("\"0-1\""),
    DBV_CASE("{\"min\":0}"),
    {"{\"format\":\"backless\",\"version\":1,\"kind\":\"changeset\",\"sequence\":1,\"schema_"
     "version\":1,"
     "\"db_versions\":[0,1],\"changes\":[],\"count\":0}",
     BL_ECORRUPT, "header: missing \"device\""},
    {"{" HDR_KEYS "}", BL_ECORRUPT, "missing \"changes\""},
    {"{" HDR_KEYS ",\"count\":0,\"changes\":[]}", BL_ECORRUPT, "\"count\" before \"changes\""},
    {"{" HDR_KEYS ",\"changes\":{}}", BL_ECORRUPT, "\"changes\" must be an array"},
    {"{" HDR_KEYS ",\"changes\":null}", BL_ECORRUPT, "\"changes\" must be an array"},
    {"{" HDR_KEYS ",\"changes\":[]}", BL_ECORRUPT, "missing \"count\" after \"changes\""},
    {FILE_OF(CH("1"), "2"), BL_ECORRUPT, "\"count\" is 2 but the file has 1 changes"},
    {FILE_OF("", "1.0"), BL_ECORRUPT, "\"count\" must be an integer"},
    {FILE_OF("", "\"0\""), BL_ECORRUPT, "\"count\" must be an integer"},
    {"{" HDR_KEYS ",\"changes\":[],\"count\":0,\"count\":0}", BL_ECORRUPT,
     "duplicate key \"count\""},
    {"{" HDR_KEYS ",\"changes\":[],\"changes\":[],\"count\":0}", BL_ECORRUPT,
     "duplicate key \"changes\""},
    {"{" HDR_KEYS ",\"changes\":[],\"extra\":1,\"count\":0}", BL_ECORRUPT,
     "unexpected key \"extra\" after \"changes\" (only \"count\" may follow)"},
    {"{" HDR_KEYS ",\"changes\":[],\"count\":0,\"version\":1}", BL_ECORRUPT,
     "unexpected key \"version\" after \"changes\" (only \"count\" may follow)"},
    {FILE_OF("", "0") " x", BL_ECORRUPT,
     "invalid JSON near byte 177: parse error: trailing garbage"},
    {FILE_OF("", "0") "{}", BL_ECORRUPT,
     "invalid JSON near byte 176: parse error: trailing garbage"},
    {"{" HDR_KEYS ",\"changes\":[],\"count\":0", BL_ECORRUPT,
     "invalid JSON near byte 174: parse error: premature EOF"},
    {"{\"format\":\"backless\",,}", BL_ECORRUPT,
     "invalid JSON near byte 22: parse error: invalid object key (must be a string)"},
    {"{\"format\":\"backless\" /* c */}", BL_ECORRUPT,
     "invalid JSON near byte 21: lexical error: probable comment found in input text, comments are "
     "not enabled."},
    {"\xef\xbb\xbf{}", BL_ECORRUPT,
     "invalid JSON near byte 1: lexical error: invalid char in json text."},
};

static const err_case change_cases[] = {
    {ONE("1"), BL_ECORRUPT, "change 0: must be an array of 9 items"},
    {ONE("{}"), BL_ECORRUPT, "change 0: must be an array of 9 items"},
    {ONE("[\"t\",\"AQkB\",\"c\",1,1,2," SITE0 ",1]"), BL_ECORRUPT,
     "change 0: has 8 items, expected 9"},
    {ONE("[]"), BL_ECORRUPT, "change 0: has 0 items, expected 9"},
    {ONE("[\"t\",\"AQkB\",\"c\",1,1,2," SITE0 ",1,0,0]"), BL_ECORRUPT,
     "change 0: has more than 9 items"},
    {ONE(CH9("\"\"", "\"AQkB\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: table must be a non-empty UTF-8 string without NUL"},
    {ONE(CH9("5", "\"AQkB\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: table must be a non-empty UTF-8 string without NUL"},
    {ONE(CH9("\"t\\u0000\"", "\"AQkB\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: table must be a non-empty UTF-8 string without NUL"},
    {ONE(CH9("\"\xc0\xae\"", "\"AQkB\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: table must be a non-empty UTF-8 string without NUL"},
    {ONE(CH9("\"t\"", "\"\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: pk must be a non-empty base64 string"},
    {ONE(CH9("\"t\"", "\"AQk\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: pk must be a non-empty base64 string"},
    {ONE(CH9("\"t\"", "\"AR==\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: pk must be a non-empty base64 string"},
    {ONE(CH9("\"t\"", "\"AQ-_\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: pk must be a non-empty base64 string"},
    {ONE(CH9("\"t\"", "\"AQkB \"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: pk must be a non-empty base64 string"},
    {ONE(CH9("\"t\"", "\"AQ==AQ==\"", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: pk must be a non-empty base64 string"},
    {ONE(CH9("\"t\"", "[1]", "\"c\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: pk must be a non-empty base64 string"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"\"", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: cid must be a non-empty UTF-8 string without NUL"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "-1", "1", "1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: cid must be a non-empty UTF-8 string without NUL"},
    {ONE(CH("true")), BL_ECORRUPT,
     "change 0: val must be null, a string, an integer or {\"i\"|\"r\"|\"t\"|\"b\": \"...\"}"},
    {ONE(CH("[1]")), BL_ECORRUPT,
     "change 0: val must be null, a string, an integer or {\"i\"|\"r\"|\"t\"|\"b\": \"...\"}"},
    {ONE(CH("1.5")), BL_ECORRUPT,
     "change 0: val is a JSON number with a fraction or exponent; reals are written as "
     "{\"r\":\"...\"}"},
    {ONE(CH("1e2")), BL_ECORRUPT,
     "change 0: val is a JSON number with a fraction or exponent; reals are written as "
     "{\"r\":\"...\"}"},
    {ONE(CH("9007199254740992")), BL_ECORRUPT,
     "change 0: val is an integer outside +-(2^53-1); such integers are written as "
     "{\"i\":\"...\"}"},
    {ONE(CH("-9007199254740992")), BL_ECORRUPT,
     "change 0: val is an integer outside +-(2^53-1); such integers are written as "
     "{\"i\":\"...\"}"},
    {ONE(CH("123456789012345678901234567890")), BL_ECORRUPT,
     "change 0: val is an integer outside +-(2^53-1); such integers are written as "
     "{\"i\":\"...\"}"},
    {ONE(CH("\"\xc0\x80\"")), BL_ECORRUPT,
     "change 0: val is not valid UTF-8; such text is written as {\"t\":\"<base64>\"}"},
    {ONE(CH("\"\xed\xa0\x80\"")), BL_ECORRUPT,
     "change 0: val is not valid UTF-8; such text is written as {\"t\":\"<base64>\"}"},
    {ONE(CH("\"\\udc00\"")), BL_ECORRUPT,
     "change 0: val is not valid UTF-8; such text is written as {\"t\":\"<base64>\"}"},
    {ONE(CH("\"\xf4\x90\x80\x80\"")), BL_ECORRUPT,
     "change 0: val is not valid UTF-8; such text is written as {\"t\":\"<base64>\"}"},
    {ONE(CH("{\"x\":\"1\"}")), BL_ECORRUPT,
     "change 0: val has unknown tag \"x\" (expected \"i\", \"r\", \"t\" or \"b\")"},
    {ONE(CH("{\"ii\":\"1\"}")), BL_ECORRUPT,
     "change 0: val has unknown tag \"ii\" (expected \"i\", \"r\", \"t\" or \"b\")"},
    {ONE(CH("{}")), BL_ECORRUPT,
     "change 0: val {} must have one key, \"i\", \"r\", \"t\" or \"b\""},
    {ONE(CH("{\"i\":\"1\",\"r\":\"2\"}")), BL_ECORRUPT,
     "change 0: val {...} must have exactly one key"},
    {ONE(CH("{\"i\":1}")), BL_ECORRUPT, "change 0: val {\"i\": ...} must be a string"},
    {ONE(CH("{\"b\":null}")), BL_ECORRUPT, "change 0: val {\"b\": ...} must be a string"},
#define I_CASE(s)                                                                  \
  {                                                                                \
    ONE(CH("{\"i\":\"" s "\"}")), BL_ECORRUPT,                                     \
        "change 0: val {\"i\": ...} must be a decimal int64 without leading zeros" \
  }
    I_CASE(""),
    I_CASE("01"),
    I_CASE("-0"),
    I_CASE("+1"),
    I_CASE(" 1"),
    I_CASE("1.0"),
    I_CASE("9223372036854775808"),
    I_CASE("-9223372036854775809"),
    I_CASE("0x10"),
#define R_CASE(s)                                                                      \
  {                                                                                    \
    ONE(CH("{\"r\":\"" s "\"}")), BL_ECORRUPT,                                         \
        "change 0: val {\"r\": ...} must be a finite JSON number, \"inf\" or \"-inf\"" \
  }
    R_CASE("nan"),
    R_CASE("NaN"),
    R_CASE("Infinity"),
    R_CASE("+inf"),
    R_CASE("1e400"),
    R_CASE("-1e400"),
    R_CASE("0x1p3"),
    R_CASE(" 1"),
    R_CASE("1 "),
    R_CASE(".5"),
    R_CASE("1."),
    R_CASE("01"),
    R_CASE("1e"),
    R_CASE(""),
    R_CASE("1,5"),
    R_CASE("0.00000000000000000000000000000000000000000000000000000000000000000001"),
    {ONE(CH("{\"b\":\"*\"}")), BL_ECORRUPT,
     "change 0: val {\"b\": ...} must be base64 with padding"},
    {ONE(CH("{\"t\":\"YQ\"}")), BL_ECORRUPT,
     "change 0: val {\"t\": ...} must be base64 with padding"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "-1", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: col_version must be an integer >= 0"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "\"2\"", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: db_version must be an integer >= 0"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", SITE0, "1.0", "0")), BL_ECORRUPT,
     "change 0: cl must be an integer >= 0"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", SITE0, "1", "1e2")), BL_ECORRUPT,
     "change 0: seq must be an integer >= 0"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", SITE0, "1", "9223372036854775808")),
     BL_ECORRUPT, "change 0: seq must be an integer >= 0"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "null", "2", SITE0, "1", "0")), BL_ECORRUPT,
     "change 0: col_version must be an integer >= 0"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", "\"000102030405060708090A0B0C0D0E0F\"",
             "1", "0")),
     BL_ECORRUPT, "change 0: site must be 32 lowercase hex digits or an index"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", "\"000102030405060708090a0b0c0d0e\"", "1",
             "0")),
     BL_ECORRUPT, "change 0: site must be 32 lowercase hex digits or an index"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", "0", "1", "0")), BL_ECORRUPT,
     "change 0: site index 0 names no site declared before it (0 so far)"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", "-1", "1", "0")), BL_ECORRUPT,
     "change 0: site must be 32 lowercase hex digits or an index"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", "0.0", "1", "0")), BL_ECORRUPT,
     "change 0: site must be 32 lowercase hex digits or an index"},
    {ONE(CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", "null", "1", "0")), BL_ECORRUPT,
     "change 0: site must be 32 lowercase hex digits or an index"},
    {FILE_OF(
         CH("1") "," CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", SITE1, "1", "0") "," CH("2"),
         "3"),
     BL_ECORRUPT,
     "change 2: site 000102030405060708090a0b0c0d0e0f was declared before; later changes must use "
     "its index 0"},
    {FILE_OF(CH("1") "," CH9("\"t\"", "\"AQkB\"", "\"c\"", "1", "1", "2", "1", "1", "0"), "2"),
     BL_ECORRUPT, "change 1: site index 1 names no site declared before it (1 so far)"},
    {FILE_OF(CH("1") ",", "1"), BL_ECORRUPT,
     "change 1: invalid JSON near byte 226: parse error: unallowed token at this point in JSON "
     "text"},
    {FILE_OF(CH("1") " " CH("2"), "2"), BL_ECORRUPT,
     "change 1: invalid JSON near byte 226: parse error: after array element, I expect ',' or ']'"},
};

static void run_cases(const err_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    fmt_collect col = {0};
    char *err = NULL;
    int rc = fmt_read(cases[i].json, strlen(cases[i].json), 4, &col, &err);
    if (rc != cases[i].rc || !err || strcmp(err, cases[i].msg) != 0) {
      fprintf(stderr, "  case %zu: %s\n    got %d \"%s\"\n    expected %d \"%s\"\n", i,
              cases[i].json, rc, err ? err : "(null)", cases[i].rc, cases[i].msg);
      bl_test_failed_checks++;
    }
    if (err && strchr(err, '\n')) {
      fprintf(stderr, "  case %zu: message has a newline\n", i);
      bl_test_failed_checks++;
    }
    free(err);
    fmt_collect_free(&col);
  }
}

static void test_format_errors__header(void) {
  run_cases(header_cases, sizeof header_cases / sizeof header_cases[0]);
}

static void test_format_errors__changes(void) {
  run_cases(change_cases, sizeof change_cases / sizeof change_cases[0]);
}

/* The change index in messages is the change's position in the file, also
 * past batch boundaries. */
static void test_format_errors__change_index(void) {
  static const unsigned char site[16] = {7};
  bl_cs_change c[12];
  for (int i = 0; i < 12; i++) c[i] = fmt_change_of(fmt_int(i), site);
  bl_cs_header h = fmt_header();
  size_t len = 0;
  char *buf = fmt_write(&h, c, 12, &len);
  BL_REQUIRE(buf);
  /* Append a 13th change (index 12) whose col_version is negative. */
  char *end = strstr(buf, "\n],\"count\":12}");
  BL_REQUIRE(end);
  *end = '\0';
  size_t size = len + 200;
  char *bad = malloc(size);
  BL_REQUIRE(bad);
  snprintf(bad, size, "%s,\n[\"t\",\"AQkB\",\"c\",1,-3,2,0,1,0]\n],\"count\":13}", buf);
  for (size_t batch = 1; batch <= 13; batch += 4) {
    fmt_collect col = {0};
    char *err = NULL;
    BL_CHECK_INT(fmt_read(bad, strlen(bad), batch, &col, &err), BL_ECORRUPT);
    BL_CHECK_STR(err, "change 12: col_version must be an integer >= 0");
    BL_CHECK_INT(col.n, 12 / batch * batch); /* only full batches went out */
    free(err);
    fmt_collect_free(&col);
  }
  free(bad);
  free(buf);
}

/* Every proper prefix of a valid file fails cleanly; the file itself (and
 * with its final newline cut) reads. */
static void test_format_errors__truncated(void) {
  static const unsigned char site_a[16] = {1, 2, 3}, site_b[16] = {9, 9, 9};
  static const unsigned char blob[5] = {0, 1, 2, 3, 255};
  bl_cs_change c[8];
  c[0] = fmt_change_of(fmt_null(), site_a);
  c[1] = fmt_change_of(fmt_int(-42), site_b);
  c[2] = fmt_change_of(fmt_int(INT64_MIN), site_a);
  c[3] = fmt_change_of(fmt_real(-0.1), site_b);
  c[4] = fmt_change_of(fmt_text("h\xc3\xa9\\\"\n", 6), site_a);
  c[5] = fmt_change_of(fmt_text("\xff\xfe", 2), site_b);
  c[6] = fmt_change_of(fmt_blob(blob, 5), site_a);
  c[7] = fmt_change_of(fmt_real(1e300), site_b);
  bl_cs_header h = fmt_header();
  size_t len = 0;
  char *buf = fmt_write(&h, c, 8, &len);
  BL_REQUIRE(buf);
  BL_REQUIRE(len > 2 && buf[len - 1] == '\n' && buf[len - 2] == '}');
  int bad = 0;
  for (size_t cut = 0; cut < len - 1; cut++) {
    fmt_collect col = {0};
    char *err = NULL;
    int rc = fmt_read(buf, cut, 3, &col, &err);
    if (rc != BL_ECORRUPT || !err || strchr(err, '\n') || col.n > 8) {
      if (bad++ < 5)
        fprintf(stderr, "  prefix of %zu bytes: %d \"%s\"\n", cut, rc, err ? err : "(null)");
      bl_test_failed_checks++;
    }
    free(err);
    fmt_collect_free(&col);
  }
  for (size_t cut = len - 1; cut <= len; cut++) {
    fmt_collect col = {0};
    char *err = NULL;
    BL_CHECK_INT(fmt_read(buf, cut, 3, &col, &err), BL_OK);
    BL_CHECK(err == NULL);
    BL_CHECK_INT(col.n, 8);
    fmt_collect_free(&col);
  }
  free(buf);
}

static void test_format_errors__callbacks(void) {
  static const unsigned char site[16] = {3};
  bl_cs_change c[10];
  for (int i = 0; i < 10; i++) c[i] = fmt_change_of(fmt_int(i), site);
  bl_cs_header h = fmt_header();
  size_t len = 0;
  char *buf = fmt_write(&h, c, 10, &len);
  BL_REQUIRE(buf);

  /* on_header stops the read: no change is delivered. */
  fmt_collect col = {0};
  char *err = NULL;
  col.stop_header_rc = BL_EBUSY;
  BL_CHECK_INT(fmt_read(buf, len, 3, &col, &err), BL_EBUSY);
  BL_CHECK_INT(col.header_calls, 1);
  BL_CHECK_INT(col.nbatches, 0);
  BL_CHECK(err != NULL);
  free(err);
  fmt_collect_free(&col);

  /* on_changes stops it at the second batch, with its own (positive) code. */
  col = (fmt_collect){0};
  col.stop_at_batch = 2;
  col.stop_rc = 7;
  err = NULL;
  BL_CHECK_INT(fmt_read(buf, len, 3, &col, &err), 7);
  BL_CHECK_INT(col.nbatches, 2);
  BL_CHECK_INT(col.n, 3);
  free(err);
  fmt_collect_free(&col);

  /* ... at the last, partial batch. */
  col = (fmt_collect){0};
  col.stop_at_batch = 4;
  col.stop_rc = BL_ESCHEMA;
  BL_CHECK_INT(fmt_read(buf, len, 3, &col, NULL), BL_ESCHEMA);
  BL_CHECK_INT(col.nbatches, 4);
  BL_CHECK_INT(col.batches[3], 1);
  fmt_collect_free(&col);

  /* No callbacks at all: validation only. */
  FILE *fp = fmt_open_mem(buf, len);
  BL_REQUIRE(fp);
  BL_CHECK_INT(bl_cs_read(fp, NULL, 3, NULL), BL_OK);
  fclose(fp);
  fp = fmt_open_mem(buf, len);
  bl_cs_reader_cb none = {NULL, NULL, NULL};
  err = (char *)"not reset";
  BL_CHECK_INT(bl_cs_read(fp, &none, 3, &err), BL_OK);
  BL_CHECK(err == NULL);
  fclose(fp);
  free(buf);
}

static void test_format_errors__misuse_and_io(void) {
  char *err = NULL;
  BL_CHECK_INT(bl_cs_read(NULL, NULL, 10, &err), BL_EMISUSE);
  BL_CHECK(err != NULL);
  free(err);
  FILE *fp = fmt_open_mem("{}", 2);
  BL_REQUIRE(fp);
  err = NULL;
  BL_CHECK_INT(bl_cs_read(fp, NULL, 0, &err), BL_EMISUSE);
  free(err);
  fclose(fp);

  /* A stream that cannot be read. */
  fp = fopen("/dev/null", "w");
  BL_REQUIRE(fp);
  err = NULL;
  BL_CHECK_INT(bl_cs_read(fp, NULL, 10, &err), BL_EIO);
  BL_CHECK(err && strncmp(err, "read error after byte 0", 23) == 0);
  free(err);
  fclose(fp);
}

static bl_test_case cases[] = {
    BL_TEST(test_format_errors__header),       BL_TEST(test_format_errors__changes),
    BL_TEST(test_format_errors__change_index), BL_TEST(test_format_errors__truncated),
    BL_TEST(test_format_errors__callbacks),    BL_TEST(test_format_errors__misuse_and_io),
};
BL_TEST_MAIN(cases)
