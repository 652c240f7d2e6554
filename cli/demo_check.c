/*
 * demo_check.c — the checks `backless demo` makes and the tables it
 * prints (see cmd_demo.c for the script): removing and writing its
 * temporary files, comparing values, counts, files and the CRDT state of
 * the two devices, looking for plaintext in an encrypted cloud folder, and
 * showing todo lists side by side.
 *
 * Divided into: the folder, checks, files, plaintext, tables.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "demo.h"

/* ------------------------------------------------------------ the folder */

static int demo_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)type, (void)ftw;
  if (remove(path) != 0) cli_error("demo", "cannot remove %s: %s", path, strerror(errno));
  return 0; /* go on: remove as much as possible */
}

/* Removes `dir` and everything in it, without following symbolic links. */
void demo_rm_tree(const char *dir) {
  nftw(dir, demo_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes `text` to `path`. 0 or -1 (message printed). */
int demo_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
    cli_error("demo", "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ checks */

/* Checks that `sql` gives `want` on device `d`; narrates `why`. */
void demo_expect(demo_device *d, const char *sql, const char *want, const char *why) {
  char *got = demo_value(d, sql);
  int ok = got && strcmp(got, want) == 0;
  demo_say("  %s %s\n", ok ? "ok:  " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "device %s: expected %s to give '%s', got '%s'", d->name, sql, want,
              got ? got : "(error)");
    demo_failures++;
  }
  sqlite3_free(got);
}

/* Checks a count from a sync result: `got` must be `want`, or with
 * at_least set, at least `want`. */
void demo_expect_count(const char *what, long long got, long long want, int at_least,
                              const char *why) {
  int ok = at_least ? got >= want : got == want;
  demo_say("  %s %s\n", ok ? "ok:  " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "expected %s %s %lld, got %lld", what, at_least ? ">=" : "=", want, got);
    demo_failures++;
  }
}

/* Appends every row of `sql` to `out`, one line per row. -1 on error. */
static int demo_dump(demo_device *d, const char *sql, sqlite3_str *out) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(bl_sqlite(d->db), sql, -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++)
      sqlite3_str_appendf(out, "%s%s", i ? "|" : "", sqlite3_column_text(st, i));
    sqlite3_str_appendchar(out, 1, '\n');
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    cli_error("demo", "device %s: %s", d->name, sqlite3_errmsg(bl_sqlite(d->db)));
    return -1;
  }
  return 0;
}

/* What must converge: the rows, and every column's CRDT metadata (value,
 * col_version, causal length, origin), but not db_version or seq, which
 * are local to each device. sqlite3_malloc'ed; NULL on error. */
char *demo_state(demo_device *d) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  int rc = demo_dump(d, "SELECT quote(id), quote(title), quote(done) FROM todos ORDER BY id", s);
  sqlite3_str_appendall(s, "--\n");
  if (rc == 0)
    rc = demo_dump(d,
                   "SELECT \"table\", quote(pk), cid, quote(val), col_version, cl, quote(site_id)"
                   " FROM crsql_changes ORDER BY 1, 2, 3",
                   s);
  char *text = sqlite3_str_finish(s);
  if (rc != 0) {
    sqlite3_free(text);
    return NULL;
  }
  return text;
}

/* ------------------------------------------------------------ files */

/* Reads a whole file into a malloc'ed buffer (*len bytes). NULL on error
 * (message printed). */
unsigned char *demo_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t cap = 0;
  *len = 0;
  if (!f) goto fail;
  for (;;) {
    if (*len == cap) {
      size_t ncap = cap ? cap * 2 : 4096;
      unsigned char *n = realloc(buf, ncap);
      if (!n) goto fail;
      buf = n;
      cap = ncap;
    }
    size_t got = fread(buf + *len, 1, cap - *len, f);
    *len += got;
    if (got == 0) break;
  }
  if (ferror(f)) goto fail;
  fclose(f);
  return buf;
fail:
  cli_error("demo", "cannot read %s: %s", path, strerror(errno));
  if (f) fclose(f);
  free(buf);
  return NULL;
}

/* Checks that files `a` and `b` hold the same bytes; narrates `why`. */
void demo_expect_same_bytes(const char *a, const char *b, const char *why) {
  size_t la = 0, lb = 0;
  unsigned char *pa = demo_read_file(a, &la), *pb = demo_read_file(b, &lb);
  int ok = pa && pb && la == lb && memcmp(pa, pb, la) == 0;
  demo_say("  %s %s\n", ok ? "ok:  " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "%s (%zu bytes) and %s (%zu bytes) differ", a, la, b, lb);
    demo_failures++;
  }
  free(pa);
  free(pb);
}

/* Checks where a resolved attachment came from; narrates `why`. */
void demo_expect_source(const bl_media_file *f, int want, const char *why) {
  static const char *const names[] = {"?", "the cache", "a download", "a repair"};
  int ok = f->source == want;
  demo_say("  %s %s\n", ok ? "ok:  " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "expected the attachment from %s, got it from %s", names[want],
              f->source >= 1 && f->source <= 3 ? names[f->source] : "?");
    demo_failures++;
  }
}

/* ------------------------------------------------------------ plaintext */

/* What demo_scan looks for and what it found (nftw passes no payload). */
static struct {
  const demo_needle *needles;
  size_t count;
  size_t skip; /* the length of the folder's own path, not looked at */
  int files;
  int hits;
} demo_scan_state;

int demo_contains(const unsigned char *p, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; k && i + k <= n; i++)
    if (p[i] == (unsigned char)needle[0] && memcmp(p + i, needle, k) == 0) return 1;
  return 0;
}

static int demo_scan_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)ftw;
  if (type != FTW_F) return 0;
  demo_scan_state.files++;
  size_t len = 0;
  unsigned char *p = demo_read_file(path, &len);
  if (!p) {
    demo_scan_state.hits++; /* unreadable: not checked, so not passed */
    return 0;
  }
  for (size_t i = 0; i < demo_scan_state.count; i++) {
    const demo_needle *nd = &demo_scan_state.needles[i];
    const char *rel = path + demo_scan_state.skip;
    int in_name = demo_contains((const unsigned char *)rel, strlen(rel), nd->text);
    if (in_name || demo_contains(p, len, nd->text)) {
      cli_error("demo", "%s%s%s appears in the %s of %s", nd->secret ? "" : "'",
                nd->secret ? "the passphrase" : nd->text, nd->secret ? "" : "'",
                in_name ? "name" : "bytes", path);
      demo_scan_state.hits++;
    }
  }
  free(p);
  return 0;
}

/*
 * Looks for every needle in the path and the bytes of each file below
 * `dir` (the path of `dir` itself is the caller's business: it must hold
 * none of them). Returns the number of files looked at, or -1 when the
 * folder cannot be walked (printed); *hits counts what was found (each
 * printed) and files that could not be read.
 */
int demo_scan(const char *dir, const demo_needle *needles, size_t count, int *hits) {
  demo_scan_state.needles = needles;
  demo_scan_state.count = count;
  demo_scan_state.skip = strlen(dir);
  demo_scan_state.files = demo_scan_state.hits = 0;
  if (nftw(dir, demo_scan_entry, 16, FTW_PHYS) != 0) {
    cli_error("demo", "cannot look into %s: %s", dir, strerror(errno));
    return -1;
  }
  *hits = demo_scan_state.hits;
  return demo_scan_state.files;
}

/*
 * The encrypted demo's last checks: backless.json describes an encrypted,
 * compressed folder, and nothing the devices wrote (todo titles, table and
 * column names, the attachment's name, type, text and hash) nor the
 * passphrase is readable in any cloud file's name or bytes.
 */
void demo_expect_no_plaintext(const char *cloud_dir, const char *hash,
                                     const char *passphrase) {
  char *settings = sqlite3_mprintf("%s/TodoDemo/backless.json", cloud_dir);
  size_t len = 0;
  unsigned char *text = settings ? demo_read_file(settings, &len) : NULL;
  int ok = text && demo_contains(text, len, "\"compression\":\"zstd\"") &&
           demo_contains(text, len, "\"cipher\":\"xchacha20poly1305-secretstream\"") &&
           demo_contains(text, len, "\"kdf\":\"argon2id13\"") &&
           demo_contains(text, len, "\"wrapped_key\":");
  demo_say("  %s TodoDemo/backless.json: zstd, XChaCha20-Poly1305, Argon2id, a wrapped key.\n",
           ok ? "ok:  " : "FAIL:");
  if (!ok) {
    cli_error("demo", "%s does not describe an encrypted folder", settings ? settings : "?");
    demo_failures++;
  }
  free(text);
  sqlite3_free(settings);

  const demo_needle needles[] = {
      {"Buy milk", 0},     {"Call mom", 0},        {"Fix bike", 0},        {"Buy oat milk", 0},
      {"Fix the bike", 0}, {"Fix bike brakes", 0}, {"Repair bike", 0},     {"todos", 0},
      {"title", 0},        {"attachments", 0},     {"todo_id", 0},         {"mime_type", 0},
      {"receipt.txt", 0},  {"text/plain", 0},      {"Corner Bike Shop", 0}, {"brake pad", 0},
      {hash, 0},           {passphrase, 1},
  };
  /* A passphrase of a few bytes may well occur by chance in ciphertext
   * (and is a poor passphrase anyway): only a longer one is looked for. */
  size_t count = sizeof needles / sizeof needles[0] - (strlen(passphrase) < 8);
  int hits = 0;
  int files = demo_scan(cloud_dir, needles, count, &hits);
  ok = files > 0 && hits == 0;
  demo_say("  %s No todo title, table or column name, attachment name, text or hash, nor\n"
           "        the passphrase, in the names or bytes of the %d cloud files.\n",
           ok ? "ok:  " : "FAIL:", files);
  if (!ok) demo_failures++;
}

/* ------------------------------------------------------------ tables */

static const char *const demo_todos_sql = "SELECT id, title, done FROM todos ORDER BY id";

/* The todos of a device as printed lines (sqlite3_malloc'ed text). */
static char *demo_render(demo_device *d) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  int rc = cli_print_query(f, bl_sqlite(d->db), demo_todos_sql, "");
  fclose(f);
  char *s = rc == SQLITE_OK && buf ? sqlite3_mprintf("%s", buf) : NULL;
  free(buf);
  if (rc != SQLITE_OK)
    cli_error("demo", "device %s: %s", d->name, sqlite3_errmsg(bl_sqlite(d->db)));
  return s;
}

void demo_show(demo_device *d) {
  if (demo_quiet) return;
  char *t = demo_render(d);
  if (!t) return;
  printf("  todos on device %s:\n", d->name);
  for (char *line = t, *nl; *line; line = nl + 1) {
    nl = strchr(line, '\n');
    if (!nl) break;
    printf("    %.*s\n", (int)(nl - line), line);
  }
  sqlite3_free(t);
}

/* Width of one line in characters (UTF-8 continuation bytes not counted). */
static int demo_width(const char *s, size_t n) {
  int w = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) w++;
  return w;
}

/* Prints both devices' todos next to each other. */
void demo_side_by_side(demo_device *a, demo_device *b) {
  if (demo_quiet) return;
  char *ta = demo_render(a), *tb = demo_render(b);
  if (ta && tb) {
    int wa = 0;
    for (char *p = ta, *nl; (nl = strchr(p, '\n')); p = nl + 1)
      if (demo_width(p, (size_t)(nl - p)) > wa) wa = demo_width(p, (size_t)(nl - p));
    printf("    %-*s    %s\n", wa, "device A", "device B");
    char *pa = ta, *pb = tb;
    while (*pa || *pb) {
      char *na = strchr(pa, '\n'), *nb = strchr(pb, '\n');
      size_t la = na ? (size_t)(na - pa) : strlen(pa), lb = nb ? (size_t)(nb - pb) : strlen(pb);
      printf("    %.*s%*s    %.*s\n", (int)la, pa, wa - demo_width(pa, la), "", (int)lb, pb);
      pa = na ? na + 1 : pa + la;
      pb = nb ? nb + 1 : pb + lb;
    }
  }
  sqlite3_free(ta);
  sqlite3_free(tb);
}
