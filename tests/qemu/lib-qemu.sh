# shellcheck shell=sh
# lib-qemu.sh - sourced by shell tests that drive a real QEMU.
#
#   . "$srcdir/tests/qemu/lib-qemu.sh"
#   qemu_require                    # exit 77 (skip) unless QEMU >= 9.0 + python3;
#                                   # sets QEMU_VERSION
#   qemu_build_guest "$tmp/guest"   # optional: build the live guest once
#   "$PYTHON" "$FRQEMU" save --mode=classic --out="$tmp/a.bin" --dump="$tmp/a.ram"
#   qemu_cmp_ram "$tmp/a.ram" "$tmp/b.ram" || fail
#
# Works with `set -eu`.  QEMU and PYTHON may be overridden in the environment.

# Where this file lives: bash knows; for other shells set QEMU_LIB_DIR or
# srcdir (the source tree's top) before sourcing.
if [ -z "${QEMU_LIB_DIR:-}" ]; then
    if [ -n "${BASH_SOURCE:-}" ]; then
        QEMU_LIB_DIR=$(cd "$(dirname "$BASH_SOURCE")" && pwd)
    elif [ -f "${srcdir:-.}/tests/qemu/frqemu.py" ]; then
        QEMU_LIB_DIR=$(cd "${srcdir:-.}/tests/qemu" && pwd)
    else
        QEMU_LIB_DIR=$(cd "$(dirname "$0")/../qemu" 2>/dev/null && pwd) || :
    fi
fi
FRQEMU="$QEMU_LIB_DIR/frqemu.py"
: "${PYTHON:=python3}"
: "${QEMU:=qemu-system-x86_64}"
export QEMU

# Skip the calling test (exit 77) unless python3 and QEMU >= 9.0 are there.
qemu_require() {
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "skip: $PYTHON not found (needed to drive QEMU)" >&2
        exit 77
    fi
    if ! command -v "$QEMU" >/dev/null 2>&1; then
        echo "skip: $QEMU not found" >&2
        exit 77
    fi
    if [ ! -f "$FRQEMU" ]; then
        echo "skip: frqemu.py not found (QEMU_LIB_DIR=$QEMU_LIB_DIR)" >&2
        exit 77
    fi
    _qemu_ver=$("$PYTHON" "$FRQEMU" version 2>&1) || {
        echo "skip: need QEMU >= 9.0: $(printf '%s' "$_qemu_ver" | tail -n 1)" >&2
        exit 77
    }
    QEMU_VERSION=$_qemu_ver && export QEMU_VERSION
}

# Build the live test guest into DIR once and export FRQEMU_KERNEL so that
# `frqemu.py save --guest=live` does not rebuild it.  Skips (77) when gcc or
# binutils cannot build it.
qemu_build_guest() {
    _qemu_rc=0
    FRQEMU_KERNEL=$(sh "$QEMU_LIB_DIR/build-guest.sh" "$1") || _qemu_rc=$?
    if [ "$_qemu_rc" -eq 77 ]; then
        exit 77
    elif [ "$_qemu_rc" -ne 0 ]; then
        echo "error: building the test guest failed" >&2
        return 1
    fi
    export FRQEMU_KERNEL
}

# qemu_cmp_regs FILE REGS [MODE]: fixedram inspect --cpus of FILE (its
# JSON left in FILE.cpus) shows the registers QEMU's "info registers -a"
# wrote to REGS (frqemu --regs), every vCPU in MODE if given; cmp-regs.py
# prints each difference.  Returns non-zero otherwise.
qemu_cmp_regs() {
    $FIXEDRAM inspect --cpus --output=json "$1" > "$1.cpus" || {
        echo "qemu_cmp_regs: inspect --cpus $1 failed" >&2
        return 1
    }
    "$PYTHON" "$QEMU_LIB_DIR/cmp-regs.py" "$2" "$1.cpus" ${3:+"$3"}
}

# qemu_cmp_ram A B: 0 if the two RAM dumps are identical; otherwise print the
# first differing offset (0-based, hex and decimal) and the page, return 1.
qemu_cmp_ram() {
    if [ ! -f "$1" ] || [ ! -f "$2" ]; then
        echo "qemu_cmp_ram: missing file: $( [ -f "$1" ] && echo "$2" || echo "$1")" >&2
        return 2
    fi
    _qemu_out=$(LC_ALL=C cmp -- "$1" "$2" 2>&1) && return 0
    case $_qemu_out in
    *"differ: "*)
        # "A B differ: byte N, line M" (N is 1-based); older cmp say "char N"
        _qemu_n=$(printf '%s\n' "$_qemu_out" |
                  sed -n 's/.*differ: [a-z]* \([0-9][0-9]*\).*/\1/p')
        _qemu_off=$((_qemu_n - 1))
        printf 'RAM dumps differ at offset 0x%x (%d), page 0x%x: %s vs %s\n' \
            "$_qemu_off" "$_qemu_off" $((_qemu_off / 4096 * 4096)) "$1" "$2"
        ;;
    *EOF*)
        printf 'RAM dumps differ in size (%s): %s %s bytes, %s %s bytes\n' \
            "$_qemu_out" "$1" "$(wc -c < "$1" | tr -d ' ')" \
            "$2" "$(wc -c < "$2" | tr -d ' ')"
        ;;
    *)
        printf 'RAM dumps differ: %s\n' "$_qemu_out"
        ;;
    esac
    return 1
}
