# Sourced by every CLI test: strict mode, a scratch directory that is
# removed on exit (kept with KEEP=1), and small assertion helpers.
# Exit 77 means "skipped" to automake.
set -eu
export LC_ALL=C

: "${FIXEDRAM:?FIXEDRAM must point at the fixedram binary}"
: "${MKSTREAM:?MKSTREAM must point at tests/gen/fr-mkstream}"
: "${TESTS_SRCDIR:?TESTS_SRCDIR must point at the tests directory}"

# Run fixedram under valgrind when FR_VALGRIND=1 (slow; for CI jobs).
if [ "${FR_VALGRIND:-0}" = 1 ]; then
    FIXEDRAM="valgrind -q --error-exitcode=99 --leak-check=full $FIXEDRAM"
fi

TEST_NAME=$(basename "$0" .sh)
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/fr-$TEST_NAME.XXXXXX")
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        echo "scratch kept in $SCRATCH" >&2
    else
        rm -rf "$SCRATCH"
    fi
}
trap cleanup EXIT
# on a signal, exit so that the EXIT trap runs (the shell runs none when a
# signal kills it)
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
cd "$SCRATCH"

# use_qemu: the QEMU helpers (tests/qemu/lib-qemu.sh); skip (77) unless
# QEMU >= 9.0 and python3 are there.
use_qemu() {
    QEMU_LIB_DIR=$TESTS_SRCDIR/qemu
    . "$QEMU_LIB_DIR/lib-qemu.sh"
    qemu_require
}

# qemu_restore_cmp SOURCE-DUMP WHAT [frqemu restore options]: QEMU restores
# (paused) to guest RAM identical to SOURCE-DUMP, else the test fails
# naming WHAT.
qemu_restore_cmp() {
    _src=$1 _what=$2
    shift 2
    rm -f restored.ram
    "$PYTHON" "$FRQEMU" restore --dump=restored.ram --timeout=60 "$@" ||
        fail "QEMU cannot restore $_what"
    qemu_cmp_ram "$_src" restored.ram ||
        fail "$_what: restored RAM differs from $_src"
    rm -f restored.ram
}

# use_libvirt PREFIX: use_qemu, then the libvirt helpers
# (tests/libvirt/lib-libvirt.sh) for domains named PREFIX... (a prefix of
# the test's own: libvirt_cleanup destroys every domain it matches, and
# other tests may run at the same time); skip unless libvirt is usable.
# On exit, the domains go before the scratch directory.
use_libvirt() {
    LIBVIRT_PREFIX=$1
    . "$TESTS_SRCDIR/libvirt/lib-libvirt.sh"
    use_qemu
    libvirt_require
    trap 'libvirt_cleanup; cleanup' EXIT
}

# Failures go to the test's own stderr even inside "expect_code ... 2>f".
exec 3>&2
fail() {
    echo "FAIL: $*" >&3
    exit 1
}

skip() {
    echo "skip: $*" >&2
    exit 77
}

# expect_code N CMD...: CMD must exit with status N.
expect_code() {
    want=$1
    shift
    set +e
    "$@"
    got=$?
    set -e
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want"
}

# must_fail CMD...: CMD must fail cleanly (not 0, not a crash, not 126/127).
must_fail() {
    set +e
    "$@"
    got=$?
    set -e
    case $got in
    0) fail "'$*' succeeded, expected a failure" ;;
    126|127) fail "'$*' could not run (exit $got)" ;;
    esac
    [ "$got" -lt 128 ] || fail "'$*' died with signal $((got - 128))"
}

# json_get FILE EXPR: print a value from a JSON file (python3 expression
# on d, the parsed document).
json_get() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
    [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# data_runs FILE: FILE's runs of data, "START END" per line (SEEK_DATA and
# SEEK_HOLE: what the file allocates, whatever blocks the file system
# spends on its own records of them).
data_runs() {
    python3 - "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size, off = os.fstat(fd).st_size, 0
while off < size:
    try:
        start = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    off = os.lseek(fd, start, os.SEEK_HOLE)
    print(start, off)
PY
}

# assert_grep PATTERN FILE: FILE must contain PATTERN (extended regex).
assert_grep() {
    grep -Eq -- "$1" "$2" || {
        cat "$2" >&2
        fail "'$2' does not match /$1/"
    }
}

# insert_commands IN OUT OFFSET CMD:LEN...: OUT is IN with QEMU_VM_COMMAND
# tokens (payload LEN zero bytes) inserted at byte OFFSET.
insert_commands() {
    python3 - "$@" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
at = int(sys.argv[3])
cmds = b""
for spec in sys.argv[4:]:
    cmd, n = (int(x) for x in spec.split(":"))
    cmds += b"\x08" + struct.pack(">HH", cmd, n) + bytes(n)
open(sys.argv[2], "wb").write(b[:at] + cmds + b[at:])
PY
}

# check_progress FILE: FILE is what -p wrote on stderr, as qemu-img
# convert -p: "    (P/100%)" updates ending in \r, P from 0.00 up, never
# down, the last one 100.00 ending the line.
check_progress() {
    python3 - "$1" <<'PY' || fail "progress in $1: $(od -c "$1" | head -5)"
import re, sys
s = open(sys.argv[1], "rb").read().decode()
assert s.endswith("    (100.00/100%)\n"), "no 100% line at the end"
parts = s[:-1].split("\r")
assert parts[-1] == "    (100.00/100%)" and parts[0] == "    (0.00/100%)", parts
vals = []
for p in parts:
    m = re.fullmatch(r"    \((\d{1,3}\.\d\d)/100%\)", p)
    assert m, "bad update %r" % p
    vals.append(float(m[1]))
assert vals == sorted(vals), "going back: %r" % vals
PY
}

# same_ram DIR FILE: every block fixedram extracts from FILE equals the
# generator's dump of it (DIR/NNN.ram, from fr-mkstream --dump-dir).
same_ram() {
    rm -rf same_ram.x && $FIXEDRAM extract -o same_ram.x "$2" > same_ram.map
    i=0
    while IFS="$(printf '\t')" read -r file block len; do
        cmp -s "same_ram.x/$file" "$(printf '%s/%03d.ram' "$1" $i)" ||
            fail "$2: block '$block' differs from the generator's dump"
        i=$((i + 1))
    done < same_ram.map
    [ $i -gt 0 ] || fail "$2: no blocks extracted"
}
