# cloud_webdav.sh — devices syncing through webdav:// with the CLI, against
# a real WebDAV server (Debian's rclone, `rclone serve webdav`) started here
# on 127.0.0.1 with basic auth.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/cloud_lib.sh"

start_webdav

step_three_devices
[[ -f $work/dav/sync/here/Backless/backless.json ]] || fail "no Backless/backless.json on the server"
step_many_files

step "status never shows the password"
ok status --db a.db --remote "$REMOTE"
has "webdav://***@127.0.0.1:$port/sync/here"
hasnt "s3cret"
status 1 sync --db a.db --remote "$REMOTE" --token-cmd true
hasnt "s3cret" err

step "credentials from the environment; a wrong password is a clear error"
BACKLESS_WEBDAV_USER=alice BACKLESS_WEBDAV_PASSWORD='s3cret pass' \
  ok sync --db a.db --remote "webdav://127.0.0.1:$port/sync/here"
status 1 sync --db a.db --remote "webdav://alice:wrong@127.0.0.1:$port/sync/here"
hasnt "wrong" err
step "plain http to another host is refused"
status 1 sync --db a.db --remote "webdav://example.com/dav"
has "http" err
echo "PASS"
