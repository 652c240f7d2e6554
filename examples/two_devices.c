/*
 * two_devices.c — the CRDT engine from C: two databases edit the same row
 * and converge by exchanging rows of the crsql_changes virtual table.
 *
 * Build against an installed backless (see the README):
 *   cc two_devices.c $(pkg-config --cflags --libs backless) -o two_devices
 * or from a build tree:
 *   cc two_devices.c -Iinclude build/libbackless.a -lsqlite3 -o two_devices
 */
#include <stdio.h>

#include <backless.h>

/* Opens an in-memory database with the engine and a todos CRR. */
static sqlite3 *open_device(void) {
  sqlite3 *db = NULL;
  char *err = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK || bl_crdt_register(db, &err) != SQLITE_OK ||
      sqlite3_exec(db,
                   "CREATE TABLE todos (id INTEGER PRIMARY KEY NOT NULL,"
                   "  title TEXT NOT NULL DEFAULT '', done INTEGER NOT NULL DEFAULT 0);"
                   "SELECT crsql_as_crr('todos');"
                   "INSERT INTO todos (id, title) VALUES (1, 'Buy milk');",
                   NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "open_device: %s\n", err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

/* Merges every change of `from` into `to`, in one transaction. A real sync
 * remembers the last db_version it sent and filters on db_version > ?. */
static int send(sqlite3 *from, sqlite3 *to) {
  sqlite3_stmt *sel = NULL, *ins = NULL;
  int rc = sqlite3_prepare_v2(from,
                              "SELECT \"table\", pk, cid, val, col_version, db_version, site_id,"
                              " cl, seq FROM crsql_changes",
                              -1, &sel, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(to, "INSERT INTO crsql_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", -1,
                            &ins, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(to, "BEGIN", NULL, NULL, NULL);
  while (rc == SQLITE_OK && sqlite3_step(sel) == SQLITE_ROW) {
    for (int i = 0; i < 9; i++) sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i));
    rc = sqlite3_step(ins) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_reset(ins);
  }
  if (rc == SQLITE_OK) rc = sqlite3_exec(to, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) fprintf(stderr, "send: %s\n", sqlite3_errmsg(to));
  sqlite3_finalize(sel);
  sqlite3_finalize(ins);
  return rc;
}

static void show(const char *name, sqlite3 *db) {
  sqlite3_stmt *stmt = NULL;
  sqlite3_prepare_v2(db, "SELECT id, title, done FROM todos ORDER BY id", -1, &stmt, NULL);
  while (sqlite3_step(stmt) == SQLITE_ROW)
    printf("%s: %lld | %s | %lld\n", name, sqlite3_column_int64(stmt, 0),
           (const char *)sqlite3_column_text(stmt, 1), sqlite3_column_int64(stmt, 2));
  sqlite3_finalize(stmt);
}

int main(void) {
  sqlite3 *a = open_device(), *b = open_device();
  int rc = 1;
  if (!a || !b) goto done;
  /* Both created row 1; now each edits a different column of it. */
  sqlite3_exec(a, "UPDATE todos SET title = 'Buy oat milk' WHERE id = 1", NULL, NULL, NULL);
  sqlite3_exec(b, "UPDATE todos SET done = 1 WHERE id = 1", NULL, NULL, NULL);
  if (send(a, b) != SQLITE_OK || send(b, a) != SQLITE_OK) goto done;
  show("A", a);
  show("B", b);
  rc = 0;
done:
  sqlite3_close(a);
  sqlite3_close(b);
  return rc;
}
