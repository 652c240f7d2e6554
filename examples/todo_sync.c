/*
 * todo_sync.c — the whole sync API in one program: a todo list that syncs
 * between two "devices" (two database files) through a cloud folder.
 *
 * Copy it as the start of an app: replace the folder by the user's Dropbox /
 * Syncthing / network folder (or, with the cloud backends, a Drive or
 * OneDrive remote), and the schema by yours.
 *
 * Build against an installed backless:
 *   cc todo_sync.c $(pkg-config --cflags --libs backless) -o todo_sync
 * Run:
 *   ./todo_sync /tmp/cloud-folder /tmp/device-a.db /tmp/device-b.db
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <backless.h>

/* ---------------------------------------------------------------- schema */

/* Version 1 creates the table; version 2 (a later release of the app) adds
 * a column. bl_open runs create on a fresh file and migrate on an older one. */
static int todo_create(sqlite3 *db, void *payload) {
  (void)payload;
  return sqlite3_exec(db,
                      "CREATE TABLE todos ("
                      "  id TEXT PRIMARY KEY NOT NULL,"
                      "  title TEXT NOT NULL DEFAULT '',"
                      "  done INTEGER NOT NULL DEFAULT 0,"
                      "  priority TEXT NOT NULL DEFAULT 'normal')",
                      NULL, NULL, NULL);
}

static int todo_migrate(sqlite3 *db, int from, int to, void *payload) {
  (void)payload;
  if (from < 2 && to >= 2)
    return sqlite3_exec(db, "ALTER TABLE todos ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'", NULL, NULL,
                        NULL);
  return 0;
}

/* Runs inside bl_clear_all_data's transaction: no BEGIN here. */
static int todo_clear(sqlite3 *db, void *payload) {
  (void)payload;
  return sqlite3_exec(db, "DELETE FROM todos; DELETE FROM todos__crsql_clock;", NULL, NULL, NULL);
}

static const char *const synced[] = {"todos"};

/* ---------------------------------------------------------------- helpers */

static bl_db *open_device(const bl_schema *schema, const char *path) {
  bl_config config = BL_CONFIG_INIT;
  config.schema = schema;
  config.database_path = path;
  config.app_folder_name = "TodoExample";
  config.version_mismatch = BL_MISMATCH_APPLY_COMPATIBLE;
  bl_db *db = NULL;
  if (bl_open(&db, &config) != BL_OK) {
    fprintf(stderr, "cannot open %s: %s\n", path, bl_errmsg(NULL));
    return NULL;
  }
  return db;
}

/* Syncs and reports, as an app would in its sync button handler. */
static int sync_device(const char *name, bl_db *db, bl_remote *cloud) {
  bl_sync_result result = BL_SYNC_RESULT_INIT;
  int rc = bl_sync(db, cloud, &result);
  printf("%s: pulled %lld, pushed %lld\n", name, (long long)result.pulled, (long long)result.pushed);
  for (size_t i = 0; i < result.warnings_count; i++)
    printf("  warning [%s] %s\n", bl_sync_code_name(result.warnings[i].code), result.warnings[i].message);
  for (size_t i = 0; i < result.errors_count; i++)
    fprintf(stderr, "  error [%s] %s\n", bl_sync_code_name(result.errors[i].code), result.errors[i].message);
  bl_sync_result_free(&result);
  return rc;
}

static void print_todos(const char *name, bl_db *db) {
  sqlite3_stmt *stmt = NULL;
  printf("%s's todos:\n", name);
  if (sqlite3_prepare_v2(bl_sqlite(db), "SELECT id, title, done FROM todos ORDER BY id", -1, &stmt, NULL) !=
      SQLITE_OK)
    return;
  while (sqlite3_step(stmt) == SQLITE_ROW)
    printf("  [%c] %s (%s)\n", sqlite3_column_int(stmt, 2) ? 'x' : ' ', sqlite3_column_text(stmt, 1),
           sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s CLOUD_FOLDER DEVICE_A.db DEVICE_B.db\n", argv[0]);
    return 2;
  }
  mkdir(argv[1], 0755);

  bl_schema schema = BL_SCHEMA_INIT;
  schema.schema_version = 2;
  schema.synced_tables = synced;
  schema.synced_tables_count = 1;
  schema.create = todo_create;
  schema.migrate = todo_migrate;
  schema.clear = todo_clear;

  bl_remote *cloud = NULL;
  if (bl_remote_open(&cloud, argv[1]) != BL_OK) {
    fprintf(stderr, "cannot open the cloud folder: %s\n", bl_errmsg(NULL));
    return 1;
  }
  bl_db *a = open_device(&schema, argv[2]);
  bl_db *b = a ? open_device(&schema, argv[3]) : NULL;
  int rc = 1;
  if (!a || !b) goto done;

  /* Plain SQLite for reads and writes: the CRDT tracks every change. */
  sqlite3_exec(bl_sqlite(a),
               "INSERT OR IGNORE INTO todos (id, title) VALUES ('milk', 'Buy milk'), ('dog', 'Walk the dog')",
               NULL, NULL, NULL);
  if (sync_device("A", a, cloud) != BL_OK || sync_device("B", b, cloud) != BL_OK) goto done;

  /* Offline on both sides: different columns of one row merge. */
  sqlite3_exec(bl_sqlite(a), "UPDATE todos SET title = 'Buy oat milk' WHERE id = 'milk'", NULL, NULL, NULL);
  sqlite3_exec(bl_sqlite(b), "UPDATE todos SET done = 1 WHERE id = 'milk'", NULL, NULL, NULL);
  if (sync_device("A", a, cloud) != BL_OK || sync_device("B", b, cloud) != BL_OK ||
      sync_device("A", a, cloud) != BL_OK)
    goto done;
  print_todos("A", a);
  print_todos("B", b);

  /* The account survives restarts; clear (sign-out) forgets it and the data,
   * and the next sync restores the data from the cloud. */
  bl_set_active_account(a, "google", "someone@example.com");
  if (bl_clear_all_data(a) != BL_OK) {
    fprintf(stderr, "clear: %s\n", bl_errmsg(a));
    goto done;
  }
  if (sync_device("A after sign-out", a, cloud) != BL_OK) goto done;
  print_todos("A", a);
  rc = 0;

done:
  bl_close(a);
  bl_close(b);
  bl_remote_free(cloud);
  return rc;
}
