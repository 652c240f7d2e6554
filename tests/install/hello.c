/*
 * hello.c — the smallest program against an installed libbackless; built by
 * check_install.sh with `pkg-config --cflags --libs backless`. Registers the
 * CRDT engine on an in-memory database and reads the site id.
 */
#include <stdio.h>
#include <string.h>

#include <backless.h>

int main(void) {
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *err = NULL;
  int ok = 0;

  if (sqlite3_open(":memory:", &db) != SQLITE_OK) goto done;
  if (bl_crdt_register(db, &err) != SQLITE_OK) {
    fprintf(stderr, "bl_crdt_register: %s\n", err ? err : "?");
    goto done;
  }
  if (sqlite3_prepare_v2(db, "SELECT crsql_site_id()", -1, &stmt, NULL) != SQLITE_OK ||
      sqlite3_step(stmt) != SQLITE_ROW) {
    fprintf(stderr, "crsql_site_id(): %s\n", sqlite3_errmsg(db));
    goto done;
  }
  if (sqlite3_column_bytes(stmt, 0) != 16) {
    fprintf(stderr, "crsql_site_id() is %d bytes, not 16\n", sqlite3_column_bytes(stmt, 0));
    goto done;
  }
  if (strcmp(bl_strerror(BL_ENOTFOUND), "not found") != 0) goto done;
  printf("hello from backless %s: site id of %d bytes\n", BL_VERSION_STRING,
         sqlite3_column_bytes(stmt, 0));
  ok = 1;

done:
  sqlite3_free(err);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return ok ? 0 : 1;
}
