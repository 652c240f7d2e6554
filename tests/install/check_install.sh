#!/usr/bin/env bash
# check_install.sh — installs a build tree into a temporary prefix and uses
# it the way a user would. Run by CTest (test install_tree):
#
#   check_install.sh CMAKE BUILD_DIR THIS_DIR CC LIBDIR VERSION SANITIZE
#
# Exits 0 when every check passes, 77 (skipped) for sanitizer builds, 1 on
# the first failure, saying which.
set -euo pipefail
cmake=$1 build=$2 here=$3 cc=$4 libdir=$5 version=$6 sanitize=$7

if [[ "$sanitize" == ON ]]; then
  # The installed libraries and extension would need the ASan runtime in
  # every host program (sqlite3, python3); the normal build covers this.
  echo "skipped: sanitizer build"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
lib=$prefix/$libdir
step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" || {
  cat "$work/install.log"; fail "cmake --install"; }

step "installed files"
for f in include/backless.h "$libdir/libbackless.a" "$libdir/libbackless.so" \
         "$libdir/backless/backless_crdt.so" "$libdir/backless/crsqlite.so" \
         "$libdir/pkgconfig/backless.pc" bin/backless; do
  [[ -e "$prefix/$f" ]] || fail "missing $f"
  echo "   $f"
done

step "pkg-config"
export PKG_CONFIG_PATH=$lib/pkgconfig
[[ "$(pkg-config --modversion backless)" == "$version" ]] || fail "pkg-config --modversion"
ext=$(pkg-config --variable=extensiondir backless)
[[ "$(cd "$ext" && pwd -P)" == "$(cd "$lib/backless" && pwd -P)" ]] ||
  fail "extensiondir $ext is not $lib/backless"
cflags=$(pkg-config --cflags backless)
libs=$(pkg-config --libs backless)
echo "   cflags: $cflags"
echo "   libs:   $libs"

step "a C program against the shared library"
# shellcheck disable=SC2086  # word splitting of pkg-config output is intended
"$cc" -std=c11 -Wall -Wextra -Werror -o "$work/hello" "$here/hello.c" $cflags $libs ||
  fail "compiling against the installed library"
LD_LIBRARY_PATH=$lib "$work/hello" || fail "running the program (shared)"
# Captured first: with pipefail, `grep -q` closing the pipe early would make
# ldd fail with SIGPIPE now and then.
ldd_out=$(LD_LIBRARY_PATH=$lib ldd "$work/hello")
grep -q "$lib/libbackless.so" <<<"$ldd_out" || fail "hello did not use the installed .so"

step "a C program against the static library"
static_libs=$(pkg-config --static --libs backless)
static_libs=${static_libs/-lbackless/$lib/libbackless.a}
# shellcheck disable=SC2086
"$cc" -std=c11 -o "$work/hello_static" "$here/hello.c" $cflags $static_libs ||
  fail "compiling against libbackless.a"
"$work/hello_static" || fail "running the program (static)"

step "examples/two_devices.c against the installed library"
examples=$here/../../examples
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -o "$work/two_devices" "$examples/two_devices.c" \
  $cflags $libs || fail "compiling examples/two_devices.c"
LD_LIBRARY_PATH=$lib "$work/two_devices" || fail "running examples/two_devices.c"

step "examples/todo_sync.c (the sync API) against the installed library"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -o "$work/todo_sync" "$examples/todo_sync.c" \
  $cflags $libs || fail "compiling examples/todo_sync.c"
sync_out=$(LD_LIBRARY_PATH=$lib "$work/todo_sync" "$work/cloud" "$work/a.db" "$work/b.db") ||
  fail "running examples/todo_sync.c"
grep -q "\[x\] Buy oat milk" <<<"$sync_out" || fail "todo_sync: the column-level merge is missing"
grep -q "A after sign-out: pulled [1-9][0-9]*, pushed 0" <<<"$sync_out" || fail "todo_sync: no restore after sign-out"

step "the installed CLI"
version_out=$("$prefix/bin/backless" --version)
grep -q "^backless $version " <<<"$version_out" || fail "backless --version"

step "the extension in the sqlite3 shell"
command -v sqlite3 >/dev/null || fail "no sqlite3 shell (apt-get install sqlite3)"
for name in backless_crdt crsqlite; do
  out=$(sqlite3 :memory: ".load $ext/$name" "SELECT length(crsql_site_id())") ||
    fail "sqlite3 .load $name"
  [[ "$out" == 16 ]] || fail "sqlite3 .load $name: crsql_site_id() gave '$out'"
  echo "   .load $ext/$name: ok"
done

step "the extension in Python's sqlite3 module"
# Debian's python3: its sqlite3 module can load extensions (builds such as
# pyenv's often cannot).
py=/usr/bin/python3
[[ -x $py ]] || fail "no $py (apt-get install python3)"
for name in backless_crdt crsqlite; do
  "$py" - "$ext/$name" <<'PY' || fail "python3 load_extension $name"
import sqlite3, sys
conn = sqlite3.connect(":memory:")
conn.enable_load_extension(True)
conn.load_extension(sys.argv[1])  # entry point derived from the file name
site = conn.execute("SELECT crsql_site_id()").fetchone()[0]
assert isinstance(site, bytes) and len(site) == 16, site
print("   load_extension(%r): ok" % sys.argv[1])
PY
done

"$py" "$examples/two_devices.py" "$ext/backless_crdt" || fail "examples/two_devices.py"

echo "install_tree: all checks passed"
