#!/bin/sh
# Build the fixedram live test guest (a 32-bit multiboot kernel that keeps
# rewriting guest RAM 16..24 MiB) into OUTDIR and print the kernel's path.
# Needs only gcc and binutils (no multilib: the guest uses no libc/libgcc).
# Exit 77 when a tool is missing, so callers can skip.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
outdir=$1
src=$(cd "$(dirname "$0")/guest" && pwd)
CC=${GUEST_CC:-gcc}
LD=${GUEST_LD:-ld}

for tool in "$CC" "$LD"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "skip: $tool not found (needed to build the test guest)" >&2
        exit 77
    fi
done

mkdir -p "$outdir"
cflags="-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-pie -O2
    -fno-stack-protector -fno-asynchronous-unwind-tables -fno-builtin
    -mno-mmx -mno-sse -mgeneral-regs-only -Wall -Wextra -Werror"

probe="$outdir/.probe.c"
echo 'int x;' > "$probe"
if ! $CC -m32 -ffreestanding -c "$probe" -o "$outdir/.probe.o" 2>/dev/null; then
    rm -f "$probe" "$outdir/.probe.o"
    echo "skip: $CC cannot compile 32-bit x86 code (-m32)" >&2
    exit 77
fi
rm -f "$probe" "$outdir/.probe.o"

# shellcheck disable=SC2086
$CC $cflags -c "$src/start.S" -o "$outdir/start.o"
# shellcheck disable=SC2086
$CC $cflags -c "$src/guest.c" -o "$outdir/guest.o"
$LD -m elf_i386 -nostdlib --build-id=none -z max-page-size=0x1000 \
    -z noexecstack -T "$src/guest.ld" \
    -o "$outdir/fr-guest.elf" "$outdir/start.o" "$outdir/guest.o"
echo "$outdir/fr-guest.elf"
