# encrypted.sh — three devices sync through an encrypted app folder with
# the CLI alone (BACKLESS_KDF_FAST=1: Argon2id at its cheapest): the
# passphrase from --passphrase-file or $BACKLESS_PASSPHRASE; no todo title,
# note body, table name, attachment byte or the passphrase in any name or
# byte of the cloud; a device with a wrong passphrase, with none, or with a
# passphrase file others may read fails clearly (exit 1), applying nothing,
# uploading nothing and leaving backless.json as it was; a passphrase given
# for a plain folder is refused; --compression of a new folder; attachments
# through the encrypted folder (media get / gc need the passphrase); a
# flipped byte in one device's changeset is an error for that device only;
# the passphrase is never printed nor written anywhere.
#
# The scenario is encrypted_scenario; encrypted_webdav.sh sources this file
# with ENC_REMOTE_KIND=webdav and runs it against `rclone serve webdav`.
# The caller defines REMOTE (the URL every device syncs with), CLOUD (the
# folder on disk holding what REMOTE holds: for WebDAV the server's own
# directory), and PLAIN_REMOTE / PLAIN_CLOUD, a second, empty place for
# the unencrypted folders.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

export BACKLESS_KDF_FAST=1
unset BACKLESS_PASSPHRASE
export XDG_CACHE_HOME="$work/xdg" # no test attachment goes to the real ~/.cache

PASS='tr0ub4dor & 3 horses, zq-7731'
SECRETS=("Plan the heist zq" "Water the orchids zq" "Feed the kraken zq" "orchid-nebula-4471"
         "vault_todos" "vault_notes" "vault_files" "kraken-receipt.txt" "KRAKEN RECEIPT zq")

# enc_schema DIR: distinctive table names, so the cloud can be searched
# for them; vault_files holds attachments.
enc_schema() {
  mkdir -p "$1"
  cat >"$1/1.sql" <<'SQL'
-- sync: vault_todos, vault_notes, vault_files
-- media: vault_files(hash, filename)
CREATE TABLE vault_todos (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL DEFAULT '');
CREATE TABLE vault_notes (id INTEGER PRIMARY KEY NOT NULL, body TEXT);
CREATE TABLE vault_files (id TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL DEFAULT '',
                          filename TEXT);
SQL
}

# These helpers set a variable instead of printing: a failed check inside
# $(...) would only end the subshell.

# enc_count DB TABLE: $n, the number of rows of TABLE on DB.
enc_count() {
  ok exec --db "$1" --json "SELECT count(*) AS n FROM $2"
  n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0][0]["n"])' "$work/.out")
}

# enc_rows DB: $rows, every synced row of DB, as a user compares devices.
enc_rows() {
  ok exec --db "$1" --json "SELECT id, title FROM vault_todos ORDER BY id" \
    "SELECT id, body FROM vault_notes ORDER BY id"
  rows=$out
}

# same_rows DB1 DB2: both hold the same synced rows.
same_rows() {
  enc_rows "$1"
  local first=$rows
  enc_rows "$2"
  same "$rows" "$first" "$2 against $1"
}

# quiet_pass: the last command printed neither the passphrase nor a piece
# of it.
quiet_pass() {
  [[ $out != *"$PASS"* && $err != *"$PASS"* && $out != *tr0ub4dor* && $err != *tr0ub4dor* ]] ||
    fail "the passphrase was printed"
}

# esync DB ARGS...: a sync with the right passphrase (from the file),
# which must succeed without errors.
esync() {
  local db=$1
  shift
  ok sync --db "$db" --remote "$REMOTE" --passphrase-file "$work/pass" --json "$@"
  json 'd["errors"] == []'
  quiet_pass
}

# cloud_files: every file under $CLOUD with its size and bytes' hash, one
# per line (what "nothing uploaded" compares).
cloud_files() {
  (cd "$CLOUD" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# no_plaintext: no secret in any name or byte under $CLOUD, nor the
# passphrase; at least $1 files looked at.
no_plaintext() {
  local n s hits
  n=$(find "$CLOUD" -type f | wc -l)
  ((n >= $1)) || fail "only $n files in the cloud (expected >= $1)"
  for s in "${SECRETS[@]}" "$PASS" tr0ub4dor; do
    hits=$(grep -r -l -F -a -- "$s" "$CLOUD" || true)
    [[ -z $hits ]] || fail "'$s' is readable in cloud file(s): $hits"
    hits=$(find "$CLOUD" | grep -F -- "$s" || true)
    [[ -z $hits ]] || fail "'$s' in a cloud file name: $hits"
  done
  echo "   $n cloud files, none holds a secret"
}

# refused DB WHAT ARGS...: a sync of DB with ARGS fails (exit 1) with WHAT
# on stderr, applies nothing (row counts), uploads nothing (the cloud's
# files unchanged) and leaves backless.json as it was.
refused() {
  local db=$1 what=$2
  shift 2
  local todos notes before
  enc_count "$db" vault_todos
  todos=$n
  enc_count "$db" vault_notes
  notes=$n
  before=$(cloud_files)
  cp "$CLOUD/Backless/backless.json" "$work/settings.before"
  status 1 sync --db "$db" --remote "$REMOTE" "$@"
  has "$what" err
  quiet_pass
  cp "$work/.out" "$work/.out.refused"
  cp "$work/.err" "$work/.err.refused"
  enc_count "$db" vault_todos
  same "$n" "$todos" "todos applied by a refused sync"
  enc_count "$db" vault_notes
  same "$n" "$notes" "notes applied by a refused sync"
  same "$(cloud_files)" "$before" "cloud files after a refused sync"
  cmp -s "$CLOUD/Backless/backless.json" "$work/settings.before" ||
    fail "backless.json changed after a refused sync"
  # What the refused sync printed, for the caller's checks.
  mv "$work/.out.refused" "$work/.out"
  mv "$work/.err.refused" "$work/.err"
  out=$(cat "$work/.out")
  err=$(cat "$work/.err")
}

encrypted_scenario() {
  local found
  enc_schema schema
  printf '%s\n' "$PASS" >pass
  chmod 600 pass
  local db
  for db in a b c; do ok init --db $db.db --schema schema; done

  step "A creates the encrypted folder (--passphrase-file) and pushes"
  ok exec --db a.db "INSERT INTO vault_todos (id, title) VALUES ('t1', 'Plan the heist zq'),
    ('t2', 'Water the orchids zq')" "INSERT INTO vault_notes (id, body) VALUES (1, 'orchid-nebula-4471')"
  esync a.db
  json 'd["pushed"] > 0 and d["files_pushed"] == 1'
  local settings
  settings=$(cat "$CLOUD/Backless/backless.json")
  [[ $settings == *'"compression":"zstd"'* && $settings == *'"kdf":"argon2id13"'* ]] ||
    fail "backless.json: $settings"
  [[ $settings == *'"opslimit":1,'* ]] || fail "BACKLESS_KDF_FAST=1 did not give the minimum cost: $settings"

  step "B reads the passphrase from BACKLESS_PASSPHRASE; C from a file with a CRLF line"
  BACKLESS_PASSPHRASE=$PASS ok sync --db b.db --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pulled"] > 0'
  quiet_pass
  enc_count b.db vault_todos
  same "$n" 2 "B's todos"
  printf '%s\r\nsecond line ignored\n' "$PASS" >pass.crlf
  chmod 600 pass.crlf
  ok exec --db b.db "INSERT INTO vault_todos (id, title) VALUES ('t3', 'Feed the kraken zq')"
  ok sync --db b.db --remote "$REMOTE" --passphrase-file pass.crlf --json
  json 'd["errors"] == [] and d["pushed"] > 0'
  ok sync --db c.db --remote "$REMOTE" --passphrase-file "$work/pass.crlf"
  has "pulled "
  quiet_pass

  step "three devices converge"
  ok exec --db c.db "INSERT INTO vault_notes (id, body) VALUES (2, 'from C')"
  local round
  for round in 1 2; do
    for db in a b c; do esync $db.db; done
  done
  same_rows a.db b.db
  same_rows a.db c.db
  enc_count c.db vault_todos
  same "$n" 3 "C's todos"
  ok status --db a.db --remote "$REMOTE" --json # lists the devices without the passphrase
  json 'len(d["remote"]["devices"]) == 3 and all(x["to_pull"] == 0 for x in d["remote"]["devices"])'
  json 'd["remote"]["settings"] == {"version": 2, "compression": "zstd", "encrypted": True, "kdf": "argon2id13"}'
  ok status --db b.db --remote "$REMOTE"
  has "settings: version 2, compression zstd, encrypted, key from a passphrase"

  step "attachments: encrypted in the cloud; media get and gc need the passphrase"
  printf 'KRAKEN RECEIPT zq\n%.0s' {1..50} >kraken-receipt.txt
  ok media add --db a.db --media-cache "$work/ca" kraken-receipt.txt
  local hash=$out
  ok sync --db a.db --remote "$REMOTE" --media-cache "$work/ca" --passphrase-file pass --json
  json 'd["errors"] == [] and d["media_uploaded"] == 1'
  esync b.db --media-cache "$work/cb"
  [[ -z $(find "$CLOUD" -name "$hash") ]] || fail "the attachment is named by its hash in the cloud"
  status 1 media get --db b.db --media-cache "$work/cb" --remote "$REMOTE" "$hash"
  has "is encrypted and no passphrase was given" err
  [[ -z $(find "$work/cb" -name "$hash" 2>/dev/null) ]] ||
    fail "media get without a passphrase cached the attachment"
  ok media get --db b.db --media-cache "$work/cb" --remote "$REMOTE" --passphrase-file pass \
    -o got.txt "$hash"
  quiet_pass
  cmp -s got.txt kraken-receipt.txt || fail "B's attachment differs from A's file"
  status 1 media gc --db b.db --media-cache "$work/cb" --remote "$REMOTE" --json
  json 'd["errors"][0]["code"] == "key"'
  has "is encrypted and no passphrase was given" err
  ok media gc --db b.db --media-cache "$work/cb" --remote "$REMOTE" --passphrase-file pass
  quiet_pass

  step "no secret in the cloud"
  no_plaintext 6

  step "a new device with a wrong passphrase: refused, nothing applied or uploaded"
  ok init --db d.db --schema schema
  ok exec --db d.db "INSERT INTO vault_todos (id, title) VALUES ('d-local', 'not to be uploaded')"
  printf 'not the passphrase\n' >wrong
  chmod 600 wrong
  refused d.db "wrong passphrase" --passphrase-file wrong
  has "--passphrase-file wrong" err
  has "error [key]" out
  refused d.db "wrong passphrase" --passphrase-file wrong --json
  json 'len(d["errors"]) == 1 and d["errors"][0]["code"] == "key" and d["errors"][0]["device"] is None'
  json 'd["pulled"] == 0 and d["pushed"] == 0 and d["files_pulled"] == 0 and d["files_pushed"] == 0'
  BACKLESS_PASSPHRASE='also wrong' refused d.db "(the passphrase came from \$BACKLESS_PASSPHRASE)"
  has "wrong passphrase" err

  step "... with none: refused"
  refused d.db "the app folder 'Backless' is encrypted and no passphrase was given: pass --passphrase-file FILE or set BACKLESS_PASSPHRASE"
  has "nothing was downloaded" err
  refused d.db "no passphrase was given" --json
  json 'd["errors"][0]["code"] == "key"'

  step "... with a passphrase file others may read: refused before anything"
  cp pass open.pass
  chmod 644 open.pass
  refused d.db "permissions 0644 are too open" --passphrase-file open.pass
  has "chmod 600 open.pass" err
  hasnt "error [" out
  chmod 640 open.pass
  refused d.db "permissions 0640 are too open" --passphrase-file open.pass
  chmod 604 open.pass
  refused d.db "are too open" --passphrase-file open.pass

  step "... with a missing or empty passphrase file, or a directory"
  refused d.db "no-such-file: No such file or directory" --passphrase-file no-such-file
  : >empty.pass
  chmod 600 empty.pass
  refused d.db "the first line is empty" --passphrase-file empty.pass
  mkdir -m 700 pass.dir
  refused d.db "is a folder" --passphrase-file pass.dir
  status 2 sync --db d.db --remote "$REMOTE" --passphrase-file
  status 2 sync --db d.db --remote "$REMOTE" --passphrase-file=

  step "a device that synced before, now with a wrong passphrase: refused too"
  ok exec --db a.db "INSERT INTO vault_todos (id, title) VALUES ('a-late', 'pending')"
  refused a.db "wrong passphrase" --passphrase-file wrong
  enc_count a.db vault_todos
  same "$n" 4 "A keeps its pending row"

  step "the new device with the right passphrase gets everything and pushes"
  esync d.db
  json 'd["pulled"] > 0 and d["pushed"] > 0'
  esync a.db
  esync d.db
  same_rows a.db d.db
  enc_count d.db vault_todos
  same "$n" 5 "D's todos"

  step "a flipped byte in B's changeset: an error for B only, the others still sync"
  ok status --db b.db --json
  local dev_b
  dev_b=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$work/.out")
  [[ -n $dev_b ]] || fail "no device id for B"
  ok exec --db b.db "INSERT INTO vault_todos (id, title) VALUES ('b-flip', 'flipped')"
  esync b.db
  ok exec --db a.db "INSERT INTO vault_todos (id, title) VALUES ('a-after', 'arrives')"
  esync a.db
  local last
  last=$(ls "$CLOUD/Backless/changesets/device-$dev_b"/cs-* | sort | tail -n 1)
  python3 - "$last" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(bytes(b))
PY
  status 1 sync --db c.db --remote "$REMOTE" --passphrase-file pass --json
  json 'len(d["errors"]) == 1 and d["errors"][0]["device"] == "'"$dev_b"'" and d["errors"][0]["code"] == "corrupt"'
  json 'd["pulled"] > 0'
  has "the other devices were synced" err
  quiet_pass
  ok exec --db c.db --json "SELECT (SELECT count(*) FROM vault_todos WHERE id = 'a-after') AS a,
    (SELECT count(*) FROM vault_todos WHERE id = 'b-flip') AS b"
  json 'd == [[{"a": 1, "b": 0}]]'
  status 1 sync --db c.db --remote "$REMOTE" --passphrase-file pass
  has "error [corrupt] device $dev_b" out

  step "a plain folder: --compression none gives version 1; a passphrase for it is refused"
  ok init --db p.db --schema schema
  ok status --db p.db --remote "$PLAIN_REMOTE" --json
  json 'd["remote"]["settings"] is None'
  ok exec --db p.db "INSERT INTO vault_todos (id, title) VALUES ('p1', 'plain text zq')"
  status 2 sync --db p.db --remote "$PLAIN_REMOTE" --compression lz4
  has "--compression wants zstd or none, not 'lz4'" err
  ok sync --db p.db --remote "$PLAIN_REMOTE" --compression none
  same "$(cat "$PLAIN_CLOUD/Backless/backless.json")" '{"format":"backless","version":1}' "plain settings"
  grep -r -q -F -a 'plain text zq' "$PLAIN_CLOUD" || fail "--compression none: the title is not in the clear"
  ok init --db q.db --schema schema
  ok exec --db q.db "INSERT INTO vault_todos (id, title) VALUES ('q1', 'refused')"
  local saved=("$REMOTE" "$CLOUD")
  REMOTE=$PLAIN_REMOTE CLOUD=$PLAIN_CLOUD
  refused q.db "is not encrypted, but a passphrase or key was given" --passphrase-file pass
  has "(the passphrase came from --passphrase-file pass)" err
  BACKLESS_PASSPHRASE=$PASS refused q.db "the passphrase came from \$BACKLESS_PASSPHRASE"
  ok sync --db q.db --remote "$PLAIN_REMOTE" --compression zstd # ignored: the folder exists
  same "$(cat "$PLAIN_CLOUD/Backless/backless.json")" '{"format":"backless","version":1}' "settings kept"
  ok status --db q.db --remote "$PLAIN_REMOTE"
  has "settings: version 1, compression none, not encrypted"
  enc_count q.db vault_todos
  same "$n" 2 "Q after syncing the plain folder"
  REMOTE=${saved[0]} CLOUD=${saved[1]}

  step "passphrase change on A: a new device needs the new one and reads all history"
  printf '%s\n' 'the new passphrase for the vault zq' >new.pass
  chmod 600 new.pass
  status 2 passphrase change --db a.db --remote "$REMOTE" --passphrase-file pass
  has "--new-passphrase-file FILE is required" err
  printf 'not it\n' >bad.pass
  chmod 600 bad.pass
  cp "$CLOUD/Backless/backless.json" "$work/settings.before"
  status 1 passphrase change --db a.db --remote "$REMOTE" --passphrase-file bad.pass --new-passphrase-file new.pass
  has "wrong passphrase" err
  cmp -s "$CLOUD/Backless/backless.json" "$work/settings.before" || fail "a refused change rewrote backless.json"
  ok passphrase change --db a.db --remote "$REMOTE" --passphrase-file pass --new-passphrase-file new.pass
  has "changed the passphrase of app folder 'Backless'"
  quiet_pass
  ok init --db n.db --schema schema
  status 1 sync --db n.db --remote "$REMOTE" --passphrase-file pass --json
  has "wrong passphrase" err
  ok init --db m.db --schema schema
  # (B's changeset flipped above is still refused: a 'corrupt' error for B, not a 'key' one.)
  status 1 sync --db m.db --remote "$REMOTE" --passphrase-file new.pass --json
  json 'd["pulled"] > 0 and all(e["code"] == "corrupt" and e["device"] == "'"$dev_b"'" for e in d["errors"])'
  ok exec --db m.db --json "SELECT (SELECT count(*) FROM vault_todos WHERE id IN ('t1', 't2', 'a-after')) AS a"
  json 'd == [[{"a": 3}]]'

  found=$(grep -r -l -F -a -- "the new passphrase for the vault" "$CLOUD" || true)
  [[ -z $found ]] || fail "the new passphrase is readable in the cloud: $found"

  step "the passphrase is nowhere on disk but in its files"
  found=$(grep -r -l -F -a -- "$PASS" "$work" | grep -v -e "^$work/pass$" -e "^$work/pass.crlf$" \
    -e "^$work/open.pass$" -e "^$work/.out$" -e "^$work/.err$" || true)
  [[ -z $found ]] || fail "the passphrase was written to: $found"
  no_plaintext 10
}

if [[ -z ${ENC_REMOTE_KIND:-} ]]; then
  mkdir cloud plain
  REMOTE="$work/cloud"
  CLOUD="$work/cloud"
  PLAIN_REMOTE="$work/plain"
  PLAIN_CLOUD="$work/plain"
  encrypted_scenario
  echo "encrypted: all checks passed"
fi
