# help.sh — every command answers --help and -h with its usage on stdout
# and exit status 0, also as `backless help CMD`; the global --help lists
# every command.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

commands="init exec sync status clear account demo media passphrase"

step "backless --help lists every command"
ok --help
for c in $commands; do has "  $c "; done

for c in $commands; do
  for h in --help -h; do
    step "backless $c $h"
    ok "$c" "$h"
    [[ $out == "usage: backless $c"* ]] || fail "backless $c $h: no usage line"
    [[ -z $err ]] || fail "backless $c $h wrote to stderr"
  done
  ok help "$c"
  [[ $out == "usage: backless $c"* ]] || fail "backless help $c"
done

step "--help wins over other arguments, even bad ones"
ok exec --db nowhere.db --frobnicate --help
has "usage: backless exec"
[[ ! -e nowhere.db ]] || fail "--help created a database"
echo "help: all checks passed"
