#!/usr/bin/python3
"""two_devices.py — the CRDT engine from Python's sqlite3 module.

    /usr/bin/python3 examples/two_devices.py [path/to/backless_crdt]

Use a Python whose sqlite3 module can load extensions (Debian's
/usr/bin/python3 can; some pyenv or conda builds cannot). The path defaults
to the build tree's build/backless_crdt; SQLite adds the .so suffix and
derives the entry point from the file name.
"""
import sqlite3
import sys

EXT = sys.argv[1] if len(sys.argv) > 1 else "build/backless_crdt"


def open_device():
    conn = sqlite3.connect(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    conn.enable_load_extension(False)
    conn.executescript("""
        CREATE TABLE todos (id INTEGER PRIMARY KEY NOT NULL,
                            title TEXT NOT NULL DEFAULT '',
                            done INTEGER NOT NULL DEFAULT 0);
        SELECT crsql_as_crr('todos');
    """)
    return conn


def send(src, dst, since=0):
    """Merges src's changes newer than db_version `since` into dst and
    returns src's current db_version (the next `since`)."""
    changes = src.execute(
        'SELECT "table", pk, cid, val, col_version, db_version, site_id, cl, seq '
        "FROM crsql_changes WHERE db_version > ?", (since,)).fetchall()
    dst.executemany("INSERT INTO crsql_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", changes)
    dst.commit()
    return src.execute("SELECT crsql_db_version()").fetchone()[0]


a, b = open_device(), open_device()
a.execute("INSERT INTO todos (id, title) VALUES (1, 'Buy milk')")
a.commit()
b.execute("INSERT INTO todos (id, title) VALUES (2, 'Call mom')")
b.commit()
send(a, b)
send(b, a)
rows_a = a.execute("SELECT * FROM todos ORDER BY id").fetchall()
rows_b = b.execute("SELECT * FROM todos ORDER BY id").fetchall()
print("A:", rows_a)
print("B:", rows_b)
sys.exit(0 if rows_a == rows_b == [(1, "Buy milk", 0), (2, "Call mom", 0)] else 1)
