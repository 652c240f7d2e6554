# cloud_onedrive.sh — devices syncing through onedrive:// with the CLI,
# against the Microsoft Graph emulator (tests/emulators/graph.py) on
# 127.0.0.1: small pages, expiring tokens, 429/503 bursts, an outage, and
# the idle-sync request bound (delta: <= 3 requests with 10 remote devices).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/cloud_lib.sh"

start_emulator graph.py --page-size 3 --token tok
export BACKLESS_GRAPH_API_URL=$EMU/v1.0
make_token_cmd
REMOTE=onedrive://E2EApp

step_three_devices
step_many_files
step_token_expiry
step_throttled
step_outage
step_idle 3 10
echo "PASS"
