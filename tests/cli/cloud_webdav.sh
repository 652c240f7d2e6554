# cloud_webdav.sh — devices syncing through webdav:// with the CLI, against
# a real WebDAV server (Debian's rclone, `rclone serve webdav`) started here
# on 127.0.0.1 with basic auth.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/cloud_lib.sh"

command -v rclone >/dev/null || fail "rclone is not installed (scripts/install-deps.sh installs it)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/dav"
rclone serve webdav "$work/dav" --addr "127.0.0.1:$port" --user alice --pass 's3cret pass' \
  --config "$work/rclone.conf" 2>"$work/rclone.log" &
servers+=($!)
for ((i = 0; i < 500; i++)); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null && break
  sleep 0.02
done
REMOTE="webdav://alice:s3cret%20pass@127.0.0.1:$port/sync/here"
mkdir -p "$work/dav/sync/here"

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
