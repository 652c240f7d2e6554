# encrypted_webdav.sh — the encrypted folder scenario of encrypted.sh
# through webdav://, against a real WebDAV server (Debian's rclone,
# `rclone serve webdav`) started here on 127.0.0.1 with basic auth. The
# cloud is searched for plaintext, a changeset's byte flipped and files
# compared on the server's own directory on disk.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENC_REMOTE_KIND=webdav
source "$here/encrypted.sh"
source "$here/cloud_lib.sh"

command -v rclone >/dev/null || fail "rclone is not installed (scripts/install-deps.sh installs it)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/dav/sync/here" "$work/dav/sync/plain"
rclone serve webdav "$work/dav" --addr "127.0.0.1:$port" --user alice --pass 's3cret pass' \
  --config "$work/rclone.conf" 2>"$work/rclone.log" &
servers+=($!)
for ((i = 0; i < 500; i++)); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null && break
  sleep 0.02
done
REMOTE="webdav://alice:s3cret%20pass@127.0.0.1:$port/sync/here"
CLOUD="$work/dav/sync/here"
PLAIN_REMOTE="webdav://alice:s3cret%20pass@127.0.0.1:$port/sync/plain"
PLAIN_CLOUD="$work/dav/sync/plain"

encrypted_scenario
echo "encrypted_webdav: all checks passed"
