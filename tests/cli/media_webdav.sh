# media_webdav.sh — the attachments scenario of media.sh through webdav://,
# against a real WebDAV server (Debian's rclone, `rclone serve webdav`)
# started here on 127.0.0.1 with basic auth. The test looks at the server
# through WebDAV itself (curl: PROPFIND, GET, PUT, DELETE), not its disk.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MEDIA_REMOTE_KIND=webdav
source "$here/media.sh"
source "$here/cloud_lib.sh"

command -v curl >/dev/null || fail "curl is not installed"
start_webdav

dav_url() { printf 'http://127.0.0.1:%s/sync/here/Backless/media/%s/%s' "$port" "${1:0:2}" "$1"; }
dav() { curl -s --user 'alice:s3cret pass' "$@"; }
cloud_has() {
  local code
  code=$(dav -o /dev/null -w '%{http_code}' -X PROPFIND -H 'Depth: 0' "$(dav_url "$1")")
  case $code in
    207) return 0 ;;
    404) return 1 ;;
    *) fail "PROPFIND $(dav_url "$1") answered $code" ;;
  esac
}
cloud_get() { dav -f -o "$2" "$(dav_url "$1")" || fail "GET $(dav_url "$1") failed"; }
cloud_put() { dav -f -T "$2" "$(dav_url "$1")" || fail "PUT $(dav_url "$1") failed"; }
cloud_rm() { dav -f -X DELETE "$(dav_url "$1")" || fail "DELETE $(dav_url "$1") failed"; }

media_scenario

step "the media folder as WebDAV lists it"
listing=$(dav -X PROPFIND -H 'Depth: 1' "http://127.0.0.1:$port/sync/here/Backless/media/${h3:0:2}/")
[[ $listing == *"$h3"* ]] || fail "PROPFIND of media/${h3:0:2}/ does not list $h3: $listing"
ok media get --db b.db --remote "$REMOTE" "$h3"
hasnt "s3cret" err
echo "media_webdav: all checks passed"
