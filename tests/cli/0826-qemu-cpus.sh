#!/bin/sh
# inspect --cpus against real QEMU: every vCPU's registers equal what HMP
# "info registers -a" printed for the saved VM (tests/qemu/cmp-regs.py
# compares the general, segment and control registers, GDT, IDT, EFER):
#  - a paused pc guest with 2 vCPUs (reset state, real mode), classic;
#  - the live guest kernel (32-bit protected mode, saved while running),
#    classic, read from a pipe as well;
#  - a UEFI q35 guest with 2 vCPUs after 4 s of firmware (64-bit mode,
#    paging on), mapped-ram, and its conversion to a stream;
#  - the live guest under qemu-system-i386 (32-bit registers), when there.
. "$TESTS_SRCDIR/lib.sh"
use_qemu

# check FILE MODE: inspect --cpus of FILE agrees with FILE.regs
check() {
    qemu_cmp_regs "$1" "$1.regs" "$2" ||
        fail "$1: the registers differ from QEMU's"
}

"$PYTHON" "$FRQEMU" save --mode=classic --smp=2 --out=paused.stream \
    --regs=paused.stream.regs --timeout=60 ||
    fail "QEMU save of the paused guest failed"
check paused.stream real
$FIXEDRAM inspect --cpus paused.stream > paused.out || fail "inspect --cpus"
assert_grep 'vCPU sections:   2' paused.out
assert_grep '^vCPU 1 \(body at 0x[0-9a-f]+\): x86_64, real mode, CPL 0$' paused.out
assert_grep '^  CS =f000 00000000ffff0000 0000ffff 00009b00$' paused.out
assert_grep '^  RIP=000000000000fff0 RFL=00000002$' paused.out

"$PYTHON" "$FRQEMU" save --mode=classic --guest=live --out=live.stream \
    --regs=live.stream.regs --timeout=90 ||
    fail "QEMU save of the live guest failed"
check live.stream protected-32
$FIXEDRAM inspect --cpus --output=json - < live.stream > pipe.json ||
    fail "inspect --cpus of a pipe"
json_get live.stream.cpus 'd["cpus"]' > file.list
json_get pipe.json 'd["cpus"]' > pipe.list
cmp -s file.list pipe.list || fail "inspect --cpus: a pipe reads otherwise"
rm -f ./*.stream

OVMF=${FR_OVMF_CODE_PLAIN:-/usr/share/OVMF/OVMF_CODE_4M.fd}
if [ -f "$OVMF" ] && [ -f "${OVMF%CODE_4M.fd}VARS_4M.fd" ]; then
    cp "${OVMF%CODE_4M.fd}VARS_4M.fd" vars.fd
    "$PYTHON" "$FRQEMU" save --machine=q35 --mem=256M --smp=2 \
        --firmware="$OVMF,$SCRATCH/vars.fd" --guest=firmware --run-time=4 \
        --mode=mapped-ram --out=uefi.img --regs=uefi.img.regs --timeout=90 ||
        fail "QEMU save of the UEFI guest failed"
    check uefi.img 64-bit
    json_get uefi.img.cpus '[c["registers"]["cr3"] != 0 for c in d["cpus"]]' \
        > paging.out
    assert_eq "$(cat paging.out)" "[True, True]" "uefi.img: CR3 set"
    $FIXEDRAM convert image-to-stream uefi.img uefi.stream ||
        fail "convert uefi.img"
    cp uefi.img.regs uefi.stream.regs
    check uefi.stream 64-bit
else
    echo "left out: the UEFI guest (no OVMF at $OVMF)" >&2
fi

if QEMU=${FR_QEMU_I386:-qemu-system-i386} "$PYTHON" "$FRQEMU" version \
        > /dev/null 2>&1; then
    QEMU=${FR_QEMU_I386:-qemu-system-i386} "$PYTHON" "$FRQEMU" save \
        --mode=classic --guest=live --out=i386.stream \
        --regs=i386.stream.regs --timeout=90 ||
        fail "qemu-system-i386 save of the live guest failed"
    check i386.stream protected-32
    json_get i386.stream.cpus 'd["cpus"][0]["arch"]' > arch.out
    assert_eq "$(cat arch.out)" "i386" "i386.stream: arch"
    $FIXEDRAM inspect --cpus i386.stream > i386.out || fail "inspect i386"
    assert_grep '^  EAX=[0-9a-f]{8} EBX=' i386.out
else
    echo "left out: qemu-system-i386 (QEMU >= 9.0) is not there" >&2
fi
exit 0
