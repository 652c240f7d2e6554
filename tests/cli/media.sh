# media.sh — attachments between two devices with the CLI alone, through a
# folder remote: `media add` on A, `sync` uploads, `media get` on B
# downloads (then reads its cache, clears it, repairs a damaged entry), the
# collection after a delete waits for B's pushes and then removes the cloud
# file, a re-reference cancels a condemnation, a file that vanished from the
# cloud is uploaded again by the device that relies on it, and bad input
# fails clearly.
#
# The scenario is media_scenario; media_webdav.sh sources this file with
# MEDIA_REMOTE_KIND=webdav and runs it against `rclone serve webdav`. The
# caller defines REMOTE (the URL both devices sync with) and the cloud
# helpers, which address <app folder>/media/<2 hex>/<hash>:
#   cloud_has HASH       status 0 when the file is in the cloud
#   cloud_get HASH FILE  its bytes into FILE
#   cloud_put HASH FILE  replaces its bytes with FILE's
#   cloud_rm HASH        deletes it
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

# Each device has its own cache: A through --media-cache, B through the
# environment (so A's option must win over it), and nothing of the tests
# goes to the real ~/.cache.
export XDG_CACHE_HOME="$work/xdg"
export BACKLESS_MEDIA_CACHE="$work/cb"
A=(--db a.db --media-cache "$work/ca")
B=(--db b.db)

# media_schema DIR: a synced table t and an attachments table declared by
# the '-- media:' line.
media_schema() {
  mkdir -p "$1"
  cat >"$1/1.sql" <<'SQL'
-- sync: t, attachments
-- media: attachments(hash, filename, mime_type)
CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL DEFAULT '');
CREATE TABLE attachments (
  id TEXT PRIMARY KEY NOT NULL,
  hash TEXT NOT NULL DEFAULT '',
  filename TEXT,
  mime_type TEXT
);
SQL
}

# in_cache DIR HASH: status 0 when the cache dir holds an entry for HASH.
in_cache() {
  [[ -n $(find "$1" -type f -name "$2" 2>/dev/null) ]]
}

sha() { sha256sum "$1" | cut -c1-64; }

# jget EXPR: a Python expression over the JSON the last command printed.
jget() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/.out" "$1"
}

# push DEV...: the device makes a local edit and syncs (one push).
push() {
  ok exec "$@" "INSERT INTO t (id, title) VALUES (lower(hex(randomblob(8))), 'push')"
  ok sync "$@" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pushed"] > 0'
}

# The race of docs/FORMAT.md §13, rule 3, through the CLI: B's upload mark
# of a hash, made when B first pulled a row with it, outlives B's
# unreference; when B attaches the same bytes again while A collects them,
# B's next sync must find the file gone and upload it again from its cache
# (attaching is a new reference, checked like one).
rereference_while_collected() {
  local C=(--db c.db --media-cache "$work/cc")
  step "B re-attaches a file while A collects it: B uploads it again"
  printf 'fifth attachment\n' >five.txt
  local h5
  h5=$(sha five.txt)
  ok media add "${A[@]}" five.txt
  push "${A[@]}"
  json 'd["media_uploaded"] == 1'
  ok sync "${B[@]}" --remote "$REMOTE" # B pulls the row; five.txt is in the cloud: marked
  ok sync "${B[@]}" --remote "$REMOTE" # B's check of it is anchored
  push "${A[@]}" # two pushes of A and C since: B's check of five.txt ends
  push "${A[@]}"
  push "${C[@]}"
  push "${C[@]}"
  ok media gc "${B[@]}" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["media"]["verifying"] == 0'
  ok exec --db a.db "DELETE FROM attachments WHERE hash = '$h5'"
  ok media gc "${A[@]}" --remote "$REMOTE" --json
  json '[c["hash"] for c in d["media"]["condemned"]] == ["'"$h5"'"]'
  push "${B[@]}" # B pulls the delete and pushes twice; so does C
  push "${B[@]}"
  push "${C[@]}"
  push "${C[@]}"
  cp five.txt five-again.txt
  ok media add "${B[@]}" five-again.txt # B attaches it again, not synced yet
  ok media gc "${A[@]}" --remote "$REMOTE" --json
  json 'd["media_deleted"] == 1' # the rule holds: A never saw B's new reference
  ok sync "${B[@]}" --remote "$REMOTE" --json
  # Expected: B refers to five.txt and has it in its cache, so its sync
  # uploads it (media_uploaded 1); got: 0, and the cloud lacks it.
  json 'd["errors"] == [] and d["media_uploaded"] == 1'
  cloud_has "$h5" || fail "$h5, referenced by B, is gone from the cloud"
}

media_scenario() {
  media_schema schema
  mkdir -p plain
  printf -- '-- sync: t\nCREATE TABLE t (id TEXT PRIMARY KEY NOT NULL);\n' >plain/1.sql
  mkdir -p badline
  printf -- '-- sync: t\n-- media: t(\nCREATE TABLE t (id TEXT PRIMARY KEY NOT NULL);\n' >badline/1.sql

  step "init: the cache dir is --media-cache, else \$BACKLESS_MEDIA_CACHE, else \$XDG_CACHE_HOME's"
  ok init "${A[@]}" --schema schema
  has "media cache     $work/ca"
  ok init "${B[@]}" --schema schema
  has "media cache     $work/cb"
  (
    unset BACKLESS_MEDIA_CACHE
    ok init --db x.db --schema schema
    has "media cache     $work/xdg/backless/media"
  )
  ok init --db plain.db --schema plain
  hasnt "media cache"
  status 1 init --db bad.db --schema badline
  has "1.sql" err
  [[ ! -e bad.db ]] || fail "a failed init left bad.db"
  ok status --db b.db --json
  dev_b=$(jget 'd["device_id"]')

  step "media add on A: the hash on stdout, the bytes in A's cache, a row"
  head -c 70000 /dev/urandom >photo.jpg
  h1=$(sha photo.jpg)
  ok media add "${A[@]}" photo.jpg
  same "$out" "$h1" "the hash media add printed"
  has "attached photo.jpg (70000 bytes)" err
  in_cache ca "$h1" || fail "photo.jpg is not in A's cache"
  in_cache cb "$h1" && fail "photo.jpg is in B's cache"
  ok exec --db a.db --json "SELECT id, hash, filename, mime_type FROM attachments"
  json 'd[0][0]["hash"] == "'"$h1"'" and d[0][0]["filename"] == "photo.jpg" and d[0][0]["mime_type"] == "image/jpeg"'
  json 'len(d[0][0]["id"]) == 36 and d[0][0]["id"].count("-") == 4'

  step "A syncs: 'uploaded 1 attachment', the cloud holds the same bytes"
  ok sync "${A[@]}" --remote "$REMOTE"
  has "media: uploaded 1 attachment, deleted 0"
  cloud_has "$h1" || fail "$h1 is not in the cloud"
  cloud_get "$h1" got.bin
  cmp -s got.bin photo.jpg || fail "the cloud's bytes differ from photo.jpg"

  step "media add --name --mime; sync --json counts the upload, once"
  for i in $(seq 1 200); do printf 'line %d of the quarterly report\n' "$i"; done >doc.bin
  h2=$(sha doc.bin)
  ok media add "${A[@]}" --name "Q3 report.pdf" --mime application/pdf doc.bin
  same "$out" "$h2" "the hash of doc.bin"
  ok exec --db a.db --json "SELECT filename, mime_type FROM attachments WHERE hash = '$h2'"
  json 'd == [[{"filename": "Q3 report.pdf", "mime_type": "application/pdf"}]]'
  ok sync "${A[@]}" --remote "$REMOTE" --json
  json 'd["media_uploaded"] == 1 and d["media_deleted"] == 0 and d["warnings"] == [] and d["errors"] == []'
  ok sync "${A[@]}" --remote "$REMOTE" --json
  json 'd["media_uploaded"] == 0 and d["media_deleted"] == 0'
  ok sync "${A[@]}" --remote "$REMOTE"
  hasnt "media:"

  step "B syncs: the rows arrive; nothing is downloaded, nothing uploaded, no warning"
  ok sync "${B[@]}" --remote "$REMOTE" --json
  json 'd["pulled"] > 0 and d["media_uploaded"] == 0 and d["warnings"] == [] and d["errors"] == []'
  in_cache cb "$h1" && fail "the sync downloaded an attachment"
  ok exec --db b.db --json "SELECT count(*) AS n FROM attachments"
  json 'd == [[{"n": 2}]]'

  step "media get -o on B: downloaded, the same bytes, no temporary file left"
  mkdir out
  ok media get "${B[@]}" --remote "$REMOTE" -o out/photo.jpg "$h1"
  has "downloaded (70000 bytes), written to out/photo.jpg" err
  [[ -z $out ]] || fail "media get -o printed on stdout: $out"
  cmp -s out/photo.jpg photo.jpg || fail "out/photo.jpg differs"
  same "$(ls -A out)" "photo.jpg" "files in out/"
  in_cache cb "$h1" || fail "the download is not in B's cache"

  step "again: from the cache; without -o the entry's path; -o DIR, -o -, an uppercase hash"
  ok media get "${B[@]}" --remote "$REMOTE" --output=out/again.jpg "$h1"
  has "from the cache" err
  cmp -s out/again.jpg photo.jpg || fail "out/again.jpg differs"
  ok media get "${B[@]}" --remote "$REMOTE" "$h1"
  [[ $out == "$work/cb/"* ]] || fail "the path is not in B's cache: $out"
  cmp -s "$out" photo.jpg || fail "the cache entry differs"
  ok media get "${B[@]}" --remote "$REMOTE" -o out --name report.pdf "$h2"
  has "report.pdf: downloaded" err
  cmp -s out/report.pdf doc.bin || fail "out/report.pdf differs"
  ok media get "${B[@]}" --remote "$REMOTE" -o out "$h1"
  cmp -s "out/$h1" photo.jpg || fail "out/$h1 differs"
  ok media get "${B[@]}" --remote "$REMOTE" -o - "${h2^^}"
  cmp -s "$work/.out" doc.bin || fail "-o - did not write doc.bin's bytes"
  has "from the cache" err

  step "media clear-cache on B: entries go, other files stay; get downloads again"
  echo "not a cache entry" >cb/README.txt
  ok media clear-cache "${B[@]}"
  same "$out" "cleared the media cache $work/cb" "clear-cache output"
  in_cache cb "$h1" && fail "$h1 is still in B's cache"
  [[ -f cb/README.txt ]] || fail "clear-cache removed a file that is not an entry"
  ok media get "${B[@]}" --remote "$REMOTE" -o out/photo3.jpg "$h1"
  has "downloaded" err
  cmp -s out/photo3.jpg photo.jpg || fail "out/photo3.jpg differs"

  step "a damaged cache entry is dropped and downloaded again"
  entry=$(find cb -type f -name "$h1")
  chmod u+w "$entry"
  printf 'scribbled over' >"$entry"
  ok media get "${B[@]}" --remote "$REMOTE" -o out/photo4.jpg "$h1"
  has "repaired" err
  cmp -s out/photo4.jpg photo.jpg || fail "out/photo4.jpg differs"
  cmp -s "$entry" photo.jpg || fail "the cache entry was not repaired"

  step "a cloud copy that does not match its hash is refused, nothing cached"
  printf 'third attachment\n' >third.txt
  h3=$(sha third.txt)
  ok media add "${A[@]}" third.txt
  ok sync "${A[@]}" --remote "$REMOTE"
  printf 'THIRD ATTACHMENT\n' >forged.txt
  cloud_put "$h3" forged.txt
  status 1 media get "${B[@]}" --remote "$REMOTE" -o out/third.txt "$h3"
  has "does not match its hash" err
  [[ ! -e out/third.txt ]] || fail "a corrupt download was written to out/third.txt"
  in_cache cb "$h3" && fail "a corrupt download was cached"
  cloud_put "$h3" third.txt
  ok media get "${B[@]}" --remote "$REMOTE" -o out/third.txt "$h3"
  cmp -s out/third.txt third.txt || fail "out/third.txt differs"

  step "bad input: clear messages and exit codes"
  zeros=$(printf '0%.0s' $(seq 1 64))
  status 1 media get "${B[@]}" --remote "$REMOTE" "$zeros"
  has "attachment $zeros is not in the remote" err
  status 2 media get "${B[@]}" --remote "$REMOTE" xyz
  has "'xyz' is not a hash (64 hexadecimal characters)" err
  status 2 media get "${B[@]}" --remote "$REMOTE" "${zeros:1}g"
  has "is not a hash" err
  status 1 media get "${B[@]}" --remote "$REMOTE" -o nodir/photo.jpg "$h1"
  has "cannot write nodir/photo.jpg: nodir: No such file or directory" err
  [[ ! -e nodir ]] || fail "nodir was created"
  status 1 media add "${A[@]}" nosuch.jpg
  has "cannot read nosuch.jpg: No such file or directory" err
  status 1 media add "${A[@]}" out
  has "out is a folder" err
  status 1 media add --db plain.db photo.jpg
  has "declares no attachments" err
  has "-- media: TABLE(HASH_COL[, FILENAME_COL[, MIME_COL]])" err
  status 1 media gc --db plain.db --remote "$REMOTE"
  has "declares no attachments" err
  status 1 media add --db nosuch.db photo.jpg
  has "not a backless database" err
  status 2 media
  has "add, get, gc or clear-cache" err
  status 2 media frobnicate --db a.db
  has "unknown subcommand 'frobnicate'" err
  status 2 media get "${B[@]}" "$h1"
  has "--remote URL is required" err
  status 2 media add "${A[@]}"
  has "which FILE?" err
  status 2 media add "${A[@]}" photo.jpg doc.bin
  has "one FILE at a time" err
  status 2 media add "${A[@]}" --frob photo.jpg
  has "unknown option '--frob'" err
  status 2 media gc "${A[@]}" --remote "$REMOTE" --media-gc-grace 0
  status 2 sync "${A[@]}" --remote "$REMOTE" --media-gc-grace x
  has "--media-gc-grace wants a number >= 1" err
  status 2 exec --db a.db --media-cache "" "SELECT 1"
  ok exec --db a.db --json "SELECT count(*) AS n FROM attachments"
  json 'd == [[{"n": 3}]]' # nothing above added a row

  step "A deletes two attachments: condemned, waiting for B's pushes; A's cache pruned"
  # B pushes once, so that A knows B (a device counts in the grace once A
  # has pulled a changeset of it), and learns of third.txt.
  push "${B[@]}"
  ok exec --db a.db "DELETE FROM attachments WHERE hash IN ('$h1', '$h2')"
  ok media gc "${A[@]}" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pushed"] > 0 and d["media_deleted"] == 0'
  json 'sorted(c["hash"] for c in d["media"]["condemned"]) == sorted(["'"$h1"'", "'"$h2"'"])'
  json 'all(c["waiting_for"] == {"'"$dev_b"'": 2} for c in d["media"]["condemned"])'
  json 'd["media"]["referenced"] == 1 and d["media"]["grace"] == 2 and d["media"]["cache_dir"] == "'"$work/ca"'"'
  cloud_has "$h1" || fail "$h1 was deleted before the grace"
  cloud_has "$h2" || fail "$h2 was deleted before the grace"
  in_cache ca "$h1" && fail "A's cache still holds $h1, which A no longer refers to"
  in_cache ca "$h3" || fail "A's cache lost $h3, which A still refers to"
  ok media gc "${A[@]}" --remote "$REMOTE"
  has "media: uploaded 0 attachments, deleted 0"
  has "media state: 3 attachments known, 1 referenced, 2 waiting to be deleted"
  has "$h1  no longer referenced; waits for 2 more pushes from device $dev_b"

  step "B pulls the delete, attaches doc.bin again (same hash) and pushes (1 of 2)"
  ok media add "${B[@]}" --name "Q3 report (B).pdf" doc.bin
  same "$out" "$h2" "B's hash of doc.bin"
  ok exec --db b.db "INSERT INTO t (id, title) VALUES ('b1', 'push 1')"
  ok sync "${B[@]}" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pushed"] > 0 and d["media_uploaded"] == 0 and d["media_deleted"] == 0'
  in_cache cb "$h1" && fail "B's cache still holds $h1, which B no longer refers to"

  step "A: the new reference cancels doc.bin's condemnation; photo.jpg waits for 1 more push"
  ok media gc "${A[@]}" --remote "$REMOTE" --json --media-gc-grace 3
  json 'd["errors"] == [] and d["media_deleted"] == 0 and d["media"]["grace"] == 3'
  json '[c["hash"] for c in d["media"]["condemned"]] == ["'"$h1"'"]'
  json 'd["media"]["condemned"][0]["waiting_for"] == {"'"$dev_b"'": 2}'
  ok media gc "${A[@]}" --remote "$REMOTE" --json
  json 'd["media"]["condemned"][0]["waiting_for"] == {"'"$dev_b"'": 1} and d["media_deleted"] == 0'
  cloud_has "$h1" || fail "$h1 was deleted before the grace"

  step "B pushes again (2 of 2)"
  ok exec --db b.db "INSERT INTO t (id, title) VALUES ('b2', 'push 2')"
  ok sync "${B[@]}" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pushed"] > 0 and d["media_uploaded"] == 0'

  step "B pushed twice since: A's media gc deletes photo.jpg from the cloud"
  ok media gc "${A[@]}" --remote "$REMOTE"
  has "media: uploaded 0 attachments, deleted 1"
  has "media state: 2 attachments known, 2 referenced, 0 waiting to be deleted"
  cloud_has "$h1" && fail "$h1 is still in the cloud"
  cloud_has "$h2" || fail "$h2, referenced again, was deleted"
  cloud_has "$h3" || fail "$h3, still referenced, was deleted"
  status 1 media get "${B[@]}" --remote "$REMOTE" -o out/late.jpg "$h1"
  has "is not in the remote (not uploaded yet, or collected since)" err

  step "afterwards both sync cleanly; what is referenced still resolves from a fresh cache"
  push "${A[@]}"
  push "${A[@]}"
  push "${B[@]}"
  json 'd["media_uploaded"] == 0'
  push "${B[@]}"
  ok media gc "${A[@]}" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["media_deleted"] == 0 and d["media"]["condemned"] == []'
  ok media clear-cache "${B[@]}"
  ok media get "${B[@]}" --remote "$REMOTE" -o out/doc-again.bin "$h2"
  has "downloaded" err
  cmp -s out/doc-again.bin doc.bin || fail "out/doc-again.bin differs"
  cloud_has "$h3" || fail "$h3 was deleted"

  step "a new device C attaches a file the cloud already has; it vanishes; C uploads it again"
  cp third.txt copy-of-third.txt
  ok init --db c.db --schema schema --media-cache "$work/cc"
  ok media add --db c.db --media-cache "$work/cc" copy-of-third.txt
  same "$out" "$h3" "C's hash of third.txt"
  ok media gc --db c.db --media-cache "$work/cc" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["media_uploaded"] == 0 and d["media"]["verifying"] == 2' # its own and doc.bin, found there
  cloud_rm "$h3" # as if another device had collected it in a race
  ok sync --db c.db --media-cache "$work/cc" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["media_uploaded"] == 1'
  json 'any(w["code"] == "media" and "'"$h3"'" in w["message"] for w in d["warnings"])'
  cloud_has "$h3" || fail "$h3 was not uploaded again"
  cloud_get "$h3" got.bin
  cmp -s got.bin third.txt || fail "the re-uploaded $h3 differs"

  step "clear forgets the media state; the next sync restores rows and uploads nothing"
  ok clear "${A[@]}"
  ok sync "${A[@]}" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pulled"] > 0 and d["pushed"] == 0 and d["media_uploaded"] == 0'
  ok exec --db a.db --json "SELECT count(*) AS n FROM attachments"
  json 'd == [[{"n": 3}]]' # third.txt (A, C) and doc.bin (B)
  ok media gc "${A[@]}" --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["media_deleted"] == 0 and d["media"]["condemned"] == []'

  rereference_while_collected

  step "--help"
  ok media --help
  has "usage: backless media add"
  has "-- media: TABLE(HASH_COL[, FILENAME_COL[, MIME_COL]])"
  for sub in add get gc clear-cache; do has "  $sub "; done
  ok --help
  has "  media "
  for c in init exec sync status clear account media; do
    ok "$c" --help
    has "--media-cache DIR"
  done
}

if [[ -z ${MEDIA_REMOTE_KIND:-} ]]; then
  mkdir cloud
  REMOTE="$work/cloud"
  cloud_file() { printf '%s/cloud/Backless/media/%s/%s' "$work" "${1:0:2}" "$1"; }
  cloud_has() { [[ -f $(cloud_file "$1") ]]; }
  cloud_get() { cp "$(cloud_file "$1")" "$2"; }
  cloud_put() { cp "$2" "$(cloud_file "$1")"; }
  cloud_rm() { rm "$(cloud_file "$1")"; }
  media_scenario
  echo "media: all checks passed"
fi
