# encrypted_webdav.sh — the encrypted folder scenario of encrypted.sh
# through webdav://, against a real WebDAV server (Debian's rclone,
# `rclone serve webdav`) started here on 127.0.0.1 with basic auth. The
# cloud is searched for plaintext, a changeset's byte flipped and files
# compared on the server's own directory on disk.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENC_REMOTE_KIND=webdav
source "$here/encrypted.sh"
source "$here/cloud_lib.sh"

mkdir -p "$work/dav/sync/plain"
start_webdav
CLOUD="$work/dav/sync/here"
PLAIN_REMOTE="webdav://alice:s3cret%20pass@127.0.0.1:$port/sync/plain"
PLAIN_CLOUD="$work/dav/sync/plain"

encrypted_scenario
echo "encrypted_webdav: all checks passed"
