/*
 * fractindex.c — fractional index keys and ordered collections, the SQL
 * surface of cr-sqlite 0.16's fractindex-core:
 *
 *   crsql_fract_key_between(a, b)     a key strictly between a and b
 *   crsql_fract_as_ordered(t, col, [collection cols...])
 *                                     triggers making -1 / 1 in col mean
 *                                     "prepend" / "append" within the
 *                                     collection, and a view t_fractindex
 *                                     whose after_<pk> columns insert or
 *                                     move a row after another one
 *   crsql_fract_fix_conflict_return_old_key(...)
 *                                     used by that view's triggers when the
 *                                     row to insert after shares its key
 *
 * The file has three parts: the key algorithm (base-95 keys over the
 * printable ASCII range, an integer part whose length its first byte
 * encodes, then a fraction), the SQL that as_ordered installs, and the SQL
 * functions with their registration.
 *
 * Keys and error messages are cr-sqlite's byte for byte, and the installed
 * triggers and view run the same SQL (only their whitespace differs), where
 * cr-sqlite itself works. Where it crashes (empty or equal keys) we return
 * an error; where it builds broken SQL (names containing '"', conflicts on
 * composite primary keys or in a table named t) we quote and join correctly.
 */
#include <string.h>

#include "crdt/crdt.h"

/* ================================================================ keys */

#define FI_BASE 95 /* digits are the bytes ' ' (32) .. '~' (126), in order */
#define FI_MIN_DIGIT ' '
#define FI_MAX_DIGIT '~'
#define FI_ZERO "a "
#define FI_SMALLEST "A                          " /* 'A' + 26 spaces */
#define FI_SMALLEST_LEN 27

/* A byte string that need not be NUL-terminated. */
typedef struct fi_span {
  const char *p;
  size_t n;
} fi_span;

static int fi_digit(char c) {
  unsigned char u = (unsigned char)c;
  return u >= FI_MIN_DIGIT && u <= FI_MAX_DIGIT ? u - FI_MIN_DIGIT : -1;
}

static char fi_char(int d) { return (char)(FI_MIN_DIGIT + d); }

/* Byte-wise comparison, shorter prefix first (Rust's str ordering). */
static int fi_cmp(fi_span a, fi_span b) {
  size_t n = a.n < b.n ? a.n : b.n;
  int c = n ? memcmp(a.p, b.p, n) : 0;
  if (c) return c;
  return a.n < b.n ? -1 : a.n > b.n;
}

static int fi_is_smallest(fi_span k) {
  return k.n == FI_SMALLEST_LEN && memcmp(k.p, FI_SMALLEST, FI_SMALLEST_LEN) == 0;
}

/* Length of the integer part of `key` into *len. Returns NULL or a static
 * error message. */
static const char *fi_integer_len(fi_span key, size_t *len) {
  unsigned char h;
  /* cr-sqlite panics on an empty key; a key without head is out of range. */
  if (key.n == 0) return "head is out of range";
  h = (unsigned char)key.p[0];
  if (h >= 'a' && h <= 'z') *len = (size_t)(h - 'a' + 2);
  else if (h >= 'A' && h <= 'Z') *len = (size_t)('Z' - h + 2);
  else return "head is out of range";
  /* cr-sqlite compares against the key length truncated to 8 bits, so keys
   * of 256 or 257 bytes (and so on) are refused. Kept so that the same keys
   * fail at the same length on both implementations. */
  if (*len > (key.n & 0xFF)) return "integer part of key is too long";
  return NULL;
}

static const char *fi_validate(fi_span key) {
  size_t ilen;
  const char *err;
  if (fi_is_smallest(key)) return "Key is too small";
  if ((err = fi_integer_len(key, &ilen)) != NULL) return err;
  if (key.n > ilen && key.p[key.n - 1] == FI_MIN_DIGIT)
    return "Fractional part should not end with ' ' (space)";
  return NULL;
}

/* Writes the integer part `x` plus one (step 1) or minus one (step -1) to
 * `out`. Sets *none when there is no such integer (past "z~~..." or before
 * "A  ..."), writing nothing. Returns NULL or a static error message. */
static const char *fi_step_integer(fi_span x, int step, sqlite3_str *out, int *none) {
  char digs[FI_SMALLEST_LEN + 1];
  size_t nd = x.n - 1; /* x.n is 2..27: a validated integer part */
  char head = x.p[0];
  int carry = 1;
  *none = 0;
  memcpy(digs, x.p + 1, nd);
  for (size_t i = nd; carry && i-- > 0;) {
    int d = fi_digit(digs[i]);
    if (d < 0) return "invalid digit";
    d += step;
    if (d == FI_BASE) digs[i] = FI_MIN_DIGIT;
    else if (d < 0) digs[i] = FI_MAX_DIGIT;
    else {
      digs[i] = fi_char(d);
      carry = 0;
    }
  }
  if (carry) {
    /* The integer overflowed its length: the head moves on, and the integer
     * has one digit more (lowercase heads) or fewer (uppercase heads). */
    if (head == (step > 0 ? 'z' : 'A')) {
      *none = 1;
      return NULL;
    }
    if (head == (step > 0 ? 'Z' : 'a')) {
      sqlite3_str_appendall(out, step > 0 ? FI_ZERO : "Z~");
      return NULL;
    }
    head = (char)(head + step);
    digs[nd] = step > 0 ? FI_MIN_DIGIT : FI_MAX_DIGIT;
    nd = (step > 0 ? head > 'a' : head < 'Z') ? nd + 1 : nd - 1;
  }
  sqlite3_str_appendchar(out, 1, head);
  sqlite3_str_append(out, digs, (int)nd);
  return NULL;
}

/* Appends to `out` a fraction strictly between fractions a and b (b absent
 * when has_b is 0: the open end). cr-sqlite recurses; this is the same
 * descent as a loop. Returns NULL or a static error message. */
static const char *fi_midpoint(fi_span a, fi_span b, int has_b, sqlite3_str *out) {
  if (has_b && fi_cmp(a, b) > 0) return "midpoint - a must be before b";
  if ((a.n && a.p[a.n - 1] == FI_MIN_DIGIT) || (has_b && b.n && b.p[b.n - 1] == FI_MIN_DIGIT))
    return "midpoint - a or b must not end with ' ' (space)";
  for (;;) {
    int da, db;
    if (has_b) {
      /* Copy the common prefix (a padded with ' ') and work on the rest. */
      size_t n = 0;
      while (n < b.n && (n < a.n ? a.p[n] : FI_MIN_DIGIT) == b.p[n]) n++;
      if (n == b.n) return "key_between - a must be before b"; /* a == b */
      if (n > 0) {
        sqlite3_str_append(out, b.p, (int)n);
        a.p += n < a.n ? n : a.n;
        a.n -= n < a.n ? n : a.n;
        b.p += n;
        b.n -= n;
      }
    }
    da = a.n ? fi_digit(a.p[0]) : 0;
    if (da < 0) return "midpoint - a has invalid digits";
    db = has_b ? fi_digit(b.p[0]) : FI_BASE;
    if (db < 0) return "midpoint - b has invalid digits";
    if (db - da > 1) {
      sqlite3_str_appendchar(out, 1, fi_char((da + db + 1) / 2)); /* halves round up */
      return NULL;
    }
    if (has_b && b.n > 1) {
      sqlite3_str_appendchar(out, 1, b.p[0]);
      return NULL;
    }
    /* Adjacent digits: keep a's and look for room after it. */
    sqlite3_str_appendchar(out, 1, fi_char(da));
    if (a.n) {
      a.p++;
      a.n--;
    }
    has_b = 0;
  }
}

/* Computes a key strictly between a and b (NULL p = open end) into *out, a
 * sqlite3_malloc'ed NUL-terminated string of *out_len bytes. Returns
 * SQLITE_OK; SQLITE_ERROR with *err set to a static message; SQLITE_NOMEM. */
static int fi_key_between(fi_span a, fi_span b, char **out, int *out_len, const char **err) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  size_t ia = 0, ib = 0;
  int none = 0, rc;
  *err = NULL;
  *out = NULL;
  if (a.p && (*err = fi_validate(a)) == NULL) fi_integer_len(a, &ia);
  if (!*err && b.p && (*err = fi_validate(b)) == NULL) fi_integer_len(b, &ib);
  if (*err) goto done;
  if (!a.p && !b.p) {
    sqlite3_str_appendall(s, FI_ZERO);
  } else if (a.p && b.p) {
    fi_span inta = {a.p, ia}, intb = {b.p, ib};
    fi_span fa = {a.p + ia, a.n - ia}, fb = {b.p + ib, b.n - ib};
    int c = fi_cmp(a, b);
    /* cr-sqlite crashes on equal keys; there is no key between them. */
    if (c >= 0) {
      *err = "key_between - a must be before b";
      goto done;
    }
    if (fi_cmp(inta, intb) == 0) {
      sqlite3_str_append(s, inta.p, (int)ia);
      *err = fi_midpoint(fa, fb, 1, s);
      goto done;
    }
    if ((*err = fi_step_integer(inta, 1, s, &none)) != NULL) goto done;
    if (none) {
      *err = "Cannot increment anymore";
      goto done;
    }
    if (sqlite3_str_errcode(s) == SQLITE_OK) {
      fi_span inc = {sqlite3_str_value(s), (size_t)sqlite3_str_length(s)};
      if (fi_cmp(inc, b) < 0) goto done;
    }
    sqlite3_str_reset(s);
    sqlite3_str_append(s, inta.p, (int)ia);
    *err = fi_midpoint(fa, (fi_span){NULL, 0}, 0, s);
  } else if (b.p) {
    fi_span intb = {b.p, ib}, fb = {b.p + ib, b.n - ib};
    if (fi_is_smallest(intb)) {
      sqlite3_str_append(s, intb.p, (int)ib);
      *err = fi_midpoint((fi_span){"", 0}, fb, 1, s);
    } else if (ib < b.n) {
      sqlite3_str_append(s, intb.p, (int)ib);
    } else if ((*err = fi_step_integer(intb, -1, s, &none)) == NULL && none) {
      *err = "cannot decrement anymore";
    }
  } else {
    fi_span inta = {a.p, ia}, fa = {a.p + ia, a.n - ia};
    if ((*err = fi_step_integer(inta, 1, s, &none)) == NULL && none) {
      sqlite3_str_append(s, inta.p, (int)ia);
      *err = fi_midpoint(fa, (fi_span){NULL, 0}, 0, s);
    }
  }
done:
  rc = *err ? SQLITE_ERROR : sqlite3_str_errcode(s);
  *out_len = sqlite3_str_length(s);
  *out = sqlite3_str_finish(s);
  if (rc == SQLITE_OK && !*out) rc = SQLITE_NOMEM; /* an empty result never happens */
  if (rc != SQLITE_OK) {
    sqlite3_free(*out);
    *out = NULL;
  }
  return rc;
}

/* ================================================================ SQL */

/* Text of a value, "" for NULL (cr-sqlite reads every name as text). */
static const char *fi_text(sqlite3_value *v) {
  const char *t = (const char *)sqlite3_value_text(v);
  return t ? t : "";
}

/* The names from `SELECT "name" FROM pragma_table_info(?)` (pk_only: only
 * primary key columns, in key order) into *out, a sqlite3_malloc'ed array
 * of *count sqlite3_malloc'ed strings that the caller frees (also after an
 * error). Returns an SQLite code. */
static int fi_columns(sqlite3 *db, const char *table, int pk_only, char ***out, int *count) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, pk_only ? "SELECT \"name\" FROM pragma_table_info(?) "
                                            "WHERE \"pk\" > 0 ORDER BY \"pk\" ASC"
                                          : "SELECT \"name\" FROM pragma_table_info(?)",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    char **grown = sqlite3_realloc64(*out, sizeof(char *) * (size_t)(*count + 1));
    const unsigned char *name = sqlite3_column_text(st, 0);
    if (grown) *out = grown;
    if (!grown || !name || !(grown[*count] = sqlite3_mprintf("%s", name))) rc = SQLITE_NOMEM;
    else rc = (++*count, SQLITE_OK);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void fi_free_names(char **names, int n) {
  for (int i = 0; i < n; i++) sqlite3_free(names[i]);
  sqlite3_free(names);
}

/* Everything as_ordered's SQL is made from. Names are raw; every builder
 * quotes them. */
typedef struct fi_order {
  const char *table;
  const char *col;     /* the order column */
  const char **coll;   /* collection columns */
  int ncoll;
  char **pks;
  int npk;
  char **cols; /* every column of the table */
  int ncols;
} fi_order;

/* "c1" = NEW."c1" AND ... over the collection (with a "NEW."prefix), or 1. */
static void fi_list_preds(sqlite3_str *s, const fi_order *o) {
  for (int i = 0; i < o->ncoll; i++)
    sqlite3_str_appendf(s, "%s\"%w\" = NEW.\"%w\"", i ? " AND " : "", o->coll[i], o->coll[i]);
  if (o->ncoll == 0) sqlite3_str_appendall(s, "1");
}

/* "pk1" = NEW."<prefix>pk1" AND ... */
static void fi_pk_preds(sqlite3_str *s, const fi_order *o, const char *prefix) {
  for (int i = 0; i < o->npk; i++)
    sqlite3_str_appendf(s, "%s\"%w\" = NEW.\"%w%w\"", i ? " AND " : "", o->pks[i], prefix,
                        o->pks[i]);
}

/* The UPDATE that the base-table triggers run when the order column is -1
 * (take a key before the collection's first) or 1 (after its last). */
static void fi_pend_update(sqlite3_str *s, const fi_order *o, const char *selector) {
  static const char *const agg[2] = {"MIN", "MAX"};
  sqlite3_str_appendf(s, "UPDATE \"%w\" SET \"%w\" = CASE %s", o->table, o->col, selector);
  for (int i = 0; i < 2; i++) {
    sqlite3_str_appendf(s, " WHEN %s THEN crsql_fract_key_between(%s(SELECT %s(\"%w\") FROM \"%w\""
                           " WHERE ", i ? "1" : "-1", i ? "" : "NULL, ", agg[i], o->col, o->table);
    fi_list_preds(s, o);
    sqlite3_str_appendf(s, " AND \"%w\" != -1 AND \"%w\" != 1)%s", o->col, o->col,
                        i ? ", NULL)" : ")");
  }
  sqlite3_str_appendall(s, " END WHERE _rowid_ = NEW._rowid_;");
}

/* The order value for a row written through the view: after the row named
 * by after_<pk>s (between it and the next of the collection), first when
 * there is no such row (-1 lets the base-table triggers prepend), and through
 * the conflict fixer when that row's key is shared. */
static void fi_after_expr(sqlite3_str *s, const fi_order *o) {
  sqlite3_str_appendf(s, "CASE (SELECT count(*) FROM \"%w\" WHERE ", o->table);
  fi_list_preds(s, o);
  sqlite3_str_appendf(s, " AND \"%w\" = (SELECT \"%w\" FROM \"%w\" WHERE ", o->col, o->col,
                      o->table);
  fi_pk_preds(s, o, "after_");
  sqlite3_str_appendf(s, ")) WHEN 1 THEN crsql_fract_key_between((SELECT \"%w\" FROM \"%w\" WHERE ",
                      o->col, o->table);
  fi_pk_preds(s, o, "after_");
  sqlite3_str_appendf(s, "), (SELECT \"%w\" FROM \"%w\" WHERE ", o->col, o->table);
  fi_list_preds(s, o);
  sqlite3_str_appendf(s, " AND \"%w\" > (SELECT \"%w\" FROM \"%w\" WHERE ", o->col, o->col,
                      o->table);
  fi_pk_preds(s, o, "after_");
  sqlite3_str_appendf(s, ") ORDER BY \"%w\" ASC LIMIT 1)) WHEN 0 THEN -1"
                      " ELSE crsql_fract_fix_conflict_return_old_key('%q', '%q', ",
                      o->col, o->table, o->col);
  for (int i = 0; i < o->ncoll; i++) sqlite3_str_appendf(s, "'%q', ", o->coll[i]);
  sqlite3_str_appendall(s, "-1");
  for (int i = 0; i < o->npk; i++) sqlite3_str_appendf(s, ", '%q'", o->pks[i]);
  for (int i = 0; i < o->npk; i++) sqlite3_str_appendf(s, ", NEW.\"after_%w\"", o->pks[i]);
  sqlite3_str_appendall(s, ") END");
}

/* Finishes the statement text built in `s` into *sql (sqlite3_malloc'ed). */
static int fi_finish(sqlite3_str *s, char **sql) {
  int rc = sqlite3_str_errcode(s);
  *sql = sqlite3_str_finish(s);
  if (rc == SQLITE_OK && !*sql) rc = SQLITE_NOMEM;
  return rc;
}

/* Runs the statement built in `s` (consumed). Returns an SQLite code. */
static int fi_exec(sqlite3 *db, sqlite3_str *s) {
  char *sql;
  int rc = fi_finish(s, &sql);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_free(sql);
  return rc;
}

/* Prepares the statement built in `s` (consumed) and binds `vals` to its
 * first parameters. Returns an SQLite code. */
static int fi_prepare(sqlite3 *db, sqlite3_str *s, sqlite3_value **vals, int n, sqlite3_stmt **st) {
  char *sql;
  int rc = fi_finish(s, &sql);
  *st = NULL;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
  for (int i = 0; rc == SQLITE_OK && i < n; i++) rc = sqlite3_bind_value(*st, i + 1, vals[i]);
  sqlite3_free(sql);
  return rc;
}

/* The base-table triggers: after an insert (the value cast to an integer)
 * and after an update of the order column (the value itself). */
static int fi_create_pend_trigger(sqlite3 *db, const fi_order *o, int on_update) {
  char *sel = on_update ? sqlite3_mprintf("NEW.\"%w\"", o->col)
                        : sqlite3_mprintf("CAST(NEW.\"%w\" AS INTEGER)", o->col);
  if (!sel) return SQLITE_NOMEM;
  sqlite3_str *s = sqlite3_str_new(db);
  if (on_update)
    sqlite3_str_appendf(s, "CREATE TRIGGER IF NOT EXISTS \"__crsql_%w_fractindex_ezmove\" "
                           "AFTER UPDATE OF \"%w\" ON \"%w\"",
                        o->table, o->col, o->table);
  else
    sqlite3_str_appendf(s, "CREATE TRIGGER IF NOT EXISTS \"__crsql_%w_fractindex_pend_trig\" "
                           "AFTER INSERT ON \"%w\"",
                        o->table, o->table);
  sqlite3_str_appendf(s, " WHEN %s = -1 OR %s = 1 BEGIN ", sel, sel);
  fi_pend_update(s, o, sel);
  sqlite3_str_appendall(s, " END;");
  sqlite3_free(sel);
  return fi_exec(db, s);
}

/* Appends `fmt` (a format taking the name once or twice) for every column
 * but the order column. */
static void fi_other_cols(sqlite3_str *s, const fi_order *o, const char *fmt) {
  for (int i = 0; i < o->ncols; i++)
    if (strcmp(o->cols[i], o->col) != 0) sqlite3_str_appendf(s, fmt, o->cols[i], o->cols[i]);
}

/* The view "<t>_fractindex" (every column plus NULL after_<pk>s) and its
 * INSTEAD OF INSERT / UPDATE triggers. */
static int fi_create_view(sqlite3 *db, fi_order *o) {
  int rc = fi_columns(db, o->table, 1, &o->pks, &o->npk);
  if (rc == SQLITE_OK) rc = fi_columns(db, o->table, 0, &o->cols, &o->ncols);
  if (rc != SQLITE_OK) return rc;
  int nrest = 0;
  for (int i = 0; i < o->ncols; i++) nrest += strcmp(o->cols[i], o->col) != 0;
  /* cr-sqlite's SQL is malformed without a primary key, or without a column
   * besides the order column: it fails at this step then. */
  if (o->npk == 0 || nrest == 0) return SQLITE_ERROR;

  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "CREATE VIEW IF NOT EXISTS \"%w_fractindex\" AS SELECT *", o->table);
  for (int i = 0; i < o->npk; i++) sqlite3_str_appendf(s, ", NULL AS \"after_%w\"", o->pks[i]);
  sqlite3_str_appendf(s, " FROM \"%w\"", o->table);
  if ((rc = fi_exec(db, s)) != SQLITE_OK) return rc;

  s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "CREATE TRIGGER IF NOT EXISTS \"%w_fractindex_insert_trig\" INSTEAD OF "
                         "INSERT ON \"%w_fractindex\" BEGIN INSERT INTO \"%w\" (",
                      o->table, o->table, o->table);
  fi_other_cols(s, o, "\"%w\", ");
  sqlite3_str_appendf(s, "\"%w\") VALUES (", o->col);
  fi_other_cols(s, o, "NEW.\"%w\", ");
  fi_after_expr(s, o);
  sqlite3_str_appendall(s, "); END;");
  if ((rc = fi_exec(db, s)) != SQLITE_OK) return rc;

  s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "CREATE TRIGGER IF NOT EXISTS \"%w_fractindex_update_trig\" INSTEAD OF "
                         "UPDATE ON \"%w_fractindex\" BEGIN UPDATE \"%w\" SET ",
                      o->table, o->table, o->table);
  fi_other_cols(s, o, "\"%w\" = NEW.\"%w\", ");
  sqlite3_str_appendf(s, "\"%w\" = ", o->col);
  fi_after_expr(s, o);
  sqlite3_str_appendall(s, " WHERE ");
  fi_pk_preds(s, o, "");
  sqlite3_str_appendall(s, "; END;");
  return fi_exec(db, s);
}

/* args: the table, then column names. 1 when the table has every named
 * column (a duplicate name counts once, so it fails, as in cr-sqlite), 0
 * when not; a negative SQLite code on error. */
static int fi_has_columns(sqlite3 *db, sqlite3_value **args, int n) {
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_stmt *st;
  sqlite3_str_appendall(s, "SELECT count(*) FROM pragma_table_info(?) WHERE \"name\" IN (");
  for (int i = 1; i < n; i++) sqlite3_str_appendall(s, i > 1 ? ", ?" : "?");
  sqlite3_str_appendall(s, ")");
  /* The table binds as text, the names as given: a number matches no name. */
  int rc = fi_prepare(db, s, NULL, 0, &st);
  for (int i = 0; rc == SQLITE_OK && i < n; i++)
    rc = i ? sqlite3_bind_value(st, i + 1, args[i])
           : sqlite3_bind_text(st, 1, fi_text(args[0]), -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  int found = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == n - 1;
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? found : -(rc ? rc : SQLITE_ERROR);
}

/* ================================================================ functions */

/* A key argument: NULL for SQL NULL (the open end), else its text. */
static fi_span fi_key_arg(sqlite3_value *v) {
  fi_span k = {NULL, 0};
  if (sqlite3_value_type(v) != SQLITE_NULL) {
    k.p = (const char *)sqlite3_value_text(v); /* text first, then its length */
    k.n = (size_t)sqlite3_value_bytes(v);
    if (!k.p) k.p = ""; /* an empty blob */
  }
  return k;
}

static void fi_fn_key_between(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *err;
  char *key;
  int len;
  (void)argc;
  int rc = fi_key_between(fi_key_arg(argv[0]), fi_key_arg(argv[1]), &key, &len, &err);
  if (rc == SQLITE_OK) sqlite3_result_text(ctx, key, len, sqlite3_free);
  else if (err) sqlite3_result_error(ctx, err, -1);
  else sqlite3_result_error_nomem(ctx);
}

/* Runs "DROP <what> IF EXISTS "<table><suffix>";"; reports `msg` on failure. */
static void fi_drop(sqlite3_context *ctx, const char *what, const char *prefix, const char *table,
                    const char *suffix, const char *msg) {
  sqlite3_str *s = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_appendf(s, "DROP %s IF EXISTS \"%w%w%w\";", what, prefix, table, suffix);
  if (fi_exec(sqlite3_context_db_handle(ctx), s) != SQLITE_OK) sqlite3_result_error(ctx, msg, -1);
}

static void fi_fn_as_ordered(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  fi_order o;
  sqlite3_value **checked = NULL;
  const char *fail = NULL;
  int rc;
  if (argc < 2) {
    sqlite3_result_error(
        ctx, "Must provide at least 2 arguments -- the table name and the column to order by", -1);
    return;
  }
  memset(&o, 0, sizeof o);
  o.table = fi_text(argv[0]);
  o.col = fi_text(argv[1]);
  o.ncoll = argc - 2;
  o.coll = sqlite3_malloc64(sizeof(char *) * (size_t)argc);
  checked = sqlite3_malloc64(sizeof(sqlite3_value *) * (size_t)argc);
  if (!o.coll || !checked) goto nomem;

  /* Start afresh (the view's triggers go with the view). Like cr-sqlite, a
   * failure here is reported but does not stop the rest. */
  fi_drop(ctx, "TRIGGER", "__crsql_", o.table, "_fractindex_pend_trig",
          "Failed dropping prior incarnation of fractindex triggers");
  fi_drop(ctx, "VIEW", "", o.table, "_fractindex",
          "Failed dropping prior incarnation of fractindex views");

  /* The table, the collection columns, then the order column. */
  checked[0] = argv[0];
  for (int i = 0; i < o.ncoll; i++) {
    checked[i + 1] = argv[i + 2];
    o.coll[i] = fi_text(argv[i + 2]);
  }
  checked[argc - 1] = argv[1];
  rc = fi_has_columns(db, checked, argc);
  if (rc == -SQLITE_NOMEM) goto nomem;
  if (rc <= 0) {
    sqlite3_result_error(ctx,
                         rc < 0 ? "Failed determining if all columns are present in the base table"
                                : "all columns are not present in the base table",
                         -1);
    goto done;
  }

  if (sqlite3_exec(db, "SAVEPOINT as_ordered;", NULL, NULL, NULL) != SQLITE_OK) goto done;
  if ((rc = fi_create_pend_trigger(db, &o, 0)) != SQLITE_OK)
    fail = "Failed creating triggers for the base table";
  else if ((rc = fi_create_pend_trigger(db, &o, 1)) != SQLITE_OK)
    fail = "Failed creating simple move trigger";
  else if ((rc = fi_create_view(db, &o)) != SQLITE_OK)
    fail = "Failed creating view for the base table";
  if (!fail) {
    sqlite3_exec(db, "RELEASE as_ordered;", NULL, NULL, NULL);
    goto done;
  }
  /* cr-sqlite ends the whole transaction here (ROLLBACK, not ROLLBACK TO):
   * so do we, for the same outcome. */
  sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
  if (rc != SQLITE_NOMEM) {
    sqlite3_result_error(ctx, fail, -1);
    goto done;
  }
nomem:
  sqlite3_result_error_nomem(ctx);
done:
  fi_free_names(o.pks, o.npk);
  fi_free_names(o.cols, o.ncols);
  sqlite3_free(o.coll);
  sqlite3_free(checked);
}

/* argv as crsql_fract_fix_conflict_return_old_key's: the collection names
 * at coll_at, the pk names at pk_at followed by the pk values. Gives the row
 * with those pk values a key between the collection's previous key and its
 * current one, and returns in *out (sqlite3_malloc'ed) the key between its
 * new and old keys: the place right after it. Returns an SQLite code. */
static int fi_fix_conflict(sqlite3 *db, sqlite3_value **argv, int coll_at, int ncoll, int pk_at,
                           int npk, char **out, int *out_len) {
  const char *table = fi_text(argv[0]), *col = fi_text(argv[1]), *err;
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_stmt *st = NULL;
  sqlite3_value *target = NULL;
  char *where = NULL;
  *out = NULL;
  /* cr-sqlite joins these with ", AND", which breaks composite keys. */
  for (int i = 0; i < npk; i++)
    sqlite3_str_appendf(s, "%s\"%w\" = ?%d", i ? " AND " : "", fi_text(argv[pk_at + i]), i + 1);
  int rc = fi_finish(s, &where);
  if (rc != SQLITE_OK) goto done;

  /* The key the row has now. */
  s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "SELECT \"%w\" FROM \"%w\" WHERE %s", col, table, where);
  rc = fi_prepare(db, s, argv + pk_at + npk, npk, &st);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    rc = (target = sqlite3_value_dup(sqlite3_column_value(st, 0))) ? SQLITE_OK : SQLITE_NOMEM;
  } else if (rc == SQLITE_DONE || rc == SQLITE_OK) {
    rc = SQLITE_ERROR;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_OK) goto done;

  /* Move the row down: between the collection's previous key and its own. */
  s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "UPDATE \"%w\" SET \"%w\" = crsql_fract_key_between("
                         "(SELECT \"%w\" FROM \"%w\"", table, col, col, table);
  if (ncoll > 0) {
    /* cr-sqlite names this subquery t, which clashes with a table named t. */
    const char *alias = sqlite3_stricmp(table, "__crsql_list") ? "__crsql_list" : "__crsql_list2";
    sqlite3_str_appendall(s, " JOIN (SELECT ");
    for (int i = 0; i < ncoll; i++)
      sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : "", fi_text(argv[coll_at + i]));
    sqlite3_str_appendf(s, " FROM \"%w\" WHERE %s) AS %s ON ", table, where, alias);
    for (int i = 0; i < ncoll; i++) {
      const char *c = fi_text(argv[coll_at + i]);
      sqlite3_str_appendf(s, "%s\"%w\".\"%w\" = %s.\"%w\"", i ? " AND " : "", table, c, alias, c);
    }
  }
  sqlite3_str_appendf(s, " WHERE \"%w\" < ?%d ORDER BY \"%w\" DESC LIMIT 1), ?%d)"
                         " WHERE %s RETURNING \"%w\"", col, npk + 1, col, npk + 1, where, col);
  rc = fi_prepare(db, s, argv + pk_at + npk, npk, &st);
  if (rc == SQLITE_OK) rc = sqlite3_bind_value(st, npk + 1, target);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    fi_span moved = {(const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0)};
    fi_span old = {(const char *)sqlite3_value_text(target), (size_t)sqlite3_value_bytes(target)};
    rc = moved.p && old.p ? fi_key_between(moved, old, out, out_len, &err) : SQLITE_NOMEM;
  } else if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) {
    rc = SQLITE_ERROR;
  }
done:
  sqlite3_finalize(st);
  sqlite3_value_free(target);
  sqlite3_free(where);
  return rc;
}

/* crsql_fract_fix_conflict_return_old_key(table, order_col, coll..., -1,
 * pk names..., pk values...): the collection names end at the first integer
 * argument. */
static void fi_fn_fix_conflict(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  char *key = NULL;
  int len = 0, i = 2;
  if (argc < 4) {
    sqlite3_result_error(ctx, "Too few arguments to fix_conflict_return_old_key", -1);
    return;
  }
  while (i < argc && sqlite3_value_type(argv[i]) != SQLITE_INTEGER) i++;
  int rest = argc - (i + 1); /* after the separator: pk names then values */
  if (rest <= 0 || rest % 2 != 0) {
    sqlite3_result_error(ctx,
                         "Incorrect number of primary keys and values provided. Must have at "
                         "least 1 primary key.",
                         -1);
    return;
  }
  int rc = fi_fix_conflict(sqlite3_context_db_handle(ctx), argv, 2, i - 2, i + 1, rest / 2, &key,
                           &len);
  if (rc == SQLITE_OK) sqlite3_result_text(ctx, key, len, sqlite3_free);
  else if (rc == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
  else sqlite3_result_error(ctx, "Failed fixing up ordering conflicts on insert", -1);
}

/* Registers the three functions with cr-sqlite's arities and flags. */
int bl__fractindex_register(sqlite3 *db) {
  int rc = sqlite3_create_function_v2(db, "crsql_fract_as_ordered", -1,
                                      SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, fi_fn_as_ordered,
                                      NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function_v2(db, "crsql_fract_key_between", 2,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                    fi_fn_key_between, NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function_v2(db, "crsql_fract_fix_conflict_return_old_key", -1,
                                    SQLITE_UTF8 | SQLITE_INNOCUOUS, NULL, fi_fn_fix_conflict,
                                    NULL, NULL, NULL);
  return rc;
}
