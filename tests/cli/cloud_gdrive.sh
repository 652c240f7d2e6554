# cloud_gdrive.sh — devices syncing through gdrive:// with the CLI, against
# the Drive v3 emulator (tests/emulators/gdrive.py) on 127.0.0.1: small
# pages, expiring tokens, 429/503 bursts, an outage, and the idle-sync
# request bound (<= 3 requests with 10 remote devices).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/cloud_lib.sh"

start_emulator gdrive.py --page-size 3 --token tok
export BACKLESS_GDRIVE_API_URL=$EMU
make_token_cmd
REMOTE=gdrive://E2EApp

step_three_devices
emu GET /_emulator/state
[[ $emu_out == *'"E2EApp"'* ]] || fail "no app folder E2EApp in My Drive"
step_many_files
step_token_expiry
step_throttled
step_outage
step_idle 3 10

step "a wrong app folder for a database that synced is refused"
status 1 sync --db a.db --remote gdrive://OtherApp
has "app folder" err
step "no token command: a clear usage message"
unset BACKLESS_TOKEN_CMD
status 1 sync --db a.db --remote gdrive://E2EApp
has "token" err
echo "PASS"
