#!/bin/sh
# extract writes each block's final content, sparse, named safely.
. "$TESTS_SRCDIR/lib.sh"

$MKSTREAM --seed=5 --resend=200 --xbzrle=100 \
    --blocks=pc.ram:8M,/rom@etc/acpi/tables:128K,a/b:4K,a_b:4K \
    --dump-dir=ram s.bin
$FIXEDRAM extract --output-dir=out/sub s.bin > map.txt
cat > want.txt <<'TXT'
pc.ram	pc.ram	8388608
_rom_etc_acpi_tables	/rom@etc/acpi/tables	131072
a_b	a/b	4096
a_b.2	a_b	4096
TXT
diff -u want.txt map.txt || fail "file mapping"
# -q: the same files, no list
$FIXEDRAM extract -q --output-dir=outq s.bin > mapq.txt
assert_eq "$(wc -c < mapq.txt)" 0 "extract -q prints"
cmp outq/pc.ram out/sub/pc.ram || fail "extract -q wrote another pc.ram"
i=0
for f in pc.ram _rom_etc_acpi_tables a_b a_b.2; do
    cmp "out/sub/$f" "$(printf 'ram/%03d.ram' $i)" || fail "block $f"
    i=$((i + 1))
done
# sparse: far fewer blocks allocated than the 8 MiB length for 60% zeros
alloc=$(stat -c %b out/sub/pc.ram)
[ $((alloc * 512)) -lt $((6 * 1024 * 1024)) ] || fail "pc.ram is not sparse ($alloc blocks)"

# never over its own input, not even with --force
mkdir self
cp s.bin self/pc.ram
expect_code 1 $FIXEDRAM extract --force -o self self/pc.ram 2> es
assert_grep "^fixedram: self/pc.ram: output is the input file" es
cmp self/pc.ram s.bin || fail "extract replaced its input"
[ "$(ls -A self)" = pc.ram ] || fail "extract left files behind"

# one block only, from a pipe, and the same from the image layout
$FIXEDRAM convert stream-to-image s.bin s.img
cat s.bin | $FIXEDRAM extract -o one --block=a_b - > one.txt
assert_eq "$(cat one.txt)" "$(printf 'a_b.2\ta_b\t4096')" "--block output"
[ "$(ls one)" = a_b.2 ] || fail "--block wrote other files"
cmp one/a_b.2 ram/003.ram || fail "--block content"
$FIXEDRAM extract -o img s.img > /dev/null
cmp img/pc.ram ram/000.ram || fail "extract from the image"

expect_code 1 $FIXEDRAM extract -o none --block=nosuch s.bin 2> e1
assert_grep "no ram block 'nosuch'" e1
expect_code 1 $FIXEDRAM extract -o out/sub s.bin 2> e2
assert_grep "output exists" e2
$FIXEDRAM extract -f -o out/sub s.bin > /dev/null
expect_code 64 $FIXEDRAM extract s.bin

# SIGINT while writing more files than the old table of temporary files
# held (4): every temporary file goes
$MKSTREAM --seed=8 --blocks=a:1M,b:1M,c:1M,d:1M,e:1M,f:1M six.bin
mkfifo six.fifo
$FIXEDRAM extract -o six.out - < six.fifo &
pid=$!
exec 7> six.fifo
head -c 100000 six.bin >&7
n=0
for i in $(seq 100); do
    n=$(ls -A six.out 2> /dev/null | grep -c '^\.fixedram-tmp' || true)
    [ "$n" -ge 6 ] && break
    sleep 0.1
done
assert_eq "$n" 6 "temporary files while extracting six blocks"
kill -INT $pid
wait $pid || true
exec 7>&-
[ -z "$(ls -A six.out)" ] || fail "temporary files left after SIGINT: $(ls -A six.out)"

# x-ignore-shared: a block the file holds no page of (its RAM stayed in
# shared memory) still gets its file, of zeros, and a note says why; -q
# silences the note with the list
for layout in stream mapped-ram; do
    $MKSTREAM --seed=9 --layout=$layout --caps=x-ignore-shared \
        --ignored=shared --blocks=pc.ram:1M,shared:2M ign.$layout
    $FIXEDRAM extract -o ign-$layout ign.$layout > ign.list 2> ign.err
    assert_grep "ign.$layout: note: block 'shared' has no pages in the file .x-ignore-shared" ign.err
    assert_eq "$(grep -c note ign.err)" 1 "$layout: one note, for the shared block only"
    assert_eq "$(stat -c %s ign-$layout/shared)" 2097152 "$layout: shared block's file length"
    cmp -s ign-$layout/shared /dev/zero -n 2097152 || fail "$layout: shared block's file is not zeros"
    $FIXEDRAM extract -q -f -o ign-$layout ign.$layout > ign.list 2> ign.err
    [ ! -s ign.err ] && [ ! -s ign.list ] || fail "$layout: -q printed something"
done

# -p: progress on stderr, as qemu-img convert -p; the same files and list;
# a note comes after the progress line
$MKSTREAM --seed=10 --resend=100 --blocks=pc.ram:4M,rom:64K prog.stream
$FIXEDRAM convert stream-to-image prog.stream prog.img
for f in prog.stream prog.img; do
    $FIXEDRAM extract -p -f -o prog.x $f > prog.list 2> prog.err
    check_progress prog.err
    $FIXEDRAM extract -f -o prog.y $f > prog.list2
    cmp prog.list prog.list2 || fail "-p changed the list"
    for b in prog.y/*; do
        cmp "$b" "prog.x/${b#prog.y/}" || fail "-p changed $b"
    done
    $FIXEDRAM extract -p -q -f -o prog.x $f > prog.list 2> prog.err
    [ ! -s prog.err ] || fail "-p -q printed: $(cat prog.err)"
done
$FIXEDRAM extract -p -f -o prog.x ign.stream > /dev/null 2> prog.err
tail -n 1 prog.err | grep -q "^fixedram: ign.stream: note: block 'shared'" ||
    fail "the note is not on a line of its own after the progress: $(od -c prog.err | tail -4)"

# --physical: the machine's RAM where the guest sees it.  A pc guest of
# 64 MiB started with max-ram-below-4g=32M has pc.ram's first 32 MiB at 0
# and the rest at 4 GiB; the hole between reads as zeros; other blocks
# are left out; stream, image, pipe and one thread give the same file
$MKSTREAM --seed=11 --resend=300 --xbzrle=50 --zero-percent=30 \
    --blocks=pc.ram:64M,vga.vram:8M --dump-dir=phys.ram phys.stream
$FIXEDRAM convert stream-to-image phys.stream phys.img
$FIXEDRAM extract --physical=phys.out --max-ram-below-4g=32M phys.stream \
    > phys.map
printf '0x0000000000000000\t33554432\tpc.ram\t0x0\n0x0000000100000000\t33554432\tpc.ram\t0x2000000\n' > phys.want
diff -u phys.want phys.map || fail "--physical map"
assert_eq "$(stat -c %s phys.out)" $((4294967296 + 33554432)) "--physical length"
cmp -n 33554432 phys.out phys.ram/000.ram || fail "--physical: low RAM"
cmp -i 4294967296:33554432 phys.out phys.ram/000.ram ||
    fail "--physical: RAM above 4 GiB"
[ $(($(stat -c %b phys.out) * 512)) -lt $((64 * 1048576)) ] ||
    fail "--physical: the hole below 4 GiB is allocated"
$FIXEDRAM extract -q --physical=phys.img.out --max-ram-below-4g=32M phys.img
cat phys.stream | $FIXEDRAM extract -q --physical=phys.pipe.out \
    --max-ram-below-4g=32768K -
$FIXEDRAM extract -q --threads=1 --physical=phys.t1.out \
    --max-ram-below-4g=33554432 phys.img
for f in phys.img.out phys.pipe.out phys.t1.out; do
    # (a plain cmp would read 4 GiB of hole)
    cmp -n 33554432 phys.out $f && cmp -i 4294967296 phys.out $f &&
        [ $(stat -c %s $f) = $(stat -c %s phys.out) ] ||
        fail "--physical: $f differs"
done
# the default split of a pc guest this small: none
$FIXEDRAM extract --physical=phys.low phys.stream > phys.map
assert_eq "$(cat phys.map)" "$(printf '0x0000000000000000\t67108864\tpc.ram\t0x0')" \
    "--physical map without max-ram-below-4g"
cmp phys.low phys.ram/000.ram || fail "--physical of a small pc guest"

# libvirt's NUMA blocks, end to end in node order, split inside node 1,
# from a libvirt save image of a q35 guest
$MKSTREAM --seed=12 --machine=pc-q35-10.0 --libvirt=raw \
    --blocks=ram-node1:8M,vga.vram:1M,ram-node0:8M --dump-dir=numa.ram numa.sav
$FIXEDRAM extract --physical=numa.out --max-ram-below-4g=12M numa.sav > numa.map
printf '0x0000000000000000\t8388608\tram-node0\t0x0\n0x0000000000800000\t4194304\tram-node1\t0x0\n0x0000000100000000\t4194304\tram-node1\t0x400000\n' > numa.want
diff -u numa.want numa.map || fail "--physical map of NUMA blocks"
cmp -n 8388608 numa.out numa.ram/002.ram || fail "--physical: ram-node0"
cmp -i 8388608:0 -n 4194304 numa.out numa.ram/000.ram ||
    fail "--physical: ram-node1 below 4 GiB"
cmp -i 4294967296:4194304 numa.out numa.ram/000.ram ||
    fail "--physical: ram-node1 above 4 GiB"

# arm virt: RAM at 1 GiB
$MKSTREAM --seed=13 --machine=virt-10.0 --blocks=mach-virt.ram:4M \
    --dump-dir=virt.ram virt.stream
$FIXEDRAM extract -q --physical=virt.out virt.stream
assert_eq "$(stat -c %s virt.out)" $((1073741824 + 4194304)) "arm virt length"
cmp -i 1073741824:0 virt.out virt.ram/000.ram || fail "--physical: arm virt"

# refusals: unknown layouts and bad command lines leave nothing behind
$MKSTREAM --machine=microvm --blocks=pc.ram:1M micro.stream
expect_code 1 $FIXEDRAM extract --physical=no.out micro.stream 2> e3
assert_grep "^fixedram: micro.stream: the guest-physical layout of machine type 'microvm' is not known" e3
$MKSTREAM --blocks=ram:1M noram.stream
expect_code 1 $FIXEDRAM extract --physical=no.out noram.stream 2> e4
assert_grep "no RAM block 'pc.ram', nor libvirt's NUMA blocks" e4
expect_code 64 $FIXEDRAM extract --physical=no.out --max-ram-below-4g=1G \
    virt.stream 2> e5
assert_grep "applies to x86 machines only" e5
expect_code 64 $FIXEDRAM extract --physical=no.out -o dir s.bin
expect_code 64 $FIXEDRAM extract --physical=no.out -b pc.ram s.bin
expect_code 64 $FIXEDRAM extract -o dir --max-ram-below-4g=1G s.bin
for bad in 0 5G 1X -1 '' 99999999999999999999G; do
    expect_code 64 $FIXEDRAM extract --physical=no.out \
        --max-ram-below-4g="$bad" s.bin 2> e6
    assert_grep "invalid size" e6
done
[ ! -e no.out ] && [ ! -e dir ] || fail "a refused --physical left files"
expect_code 1 $FIXEDRAM extract --physical=phys.out phys.stream 2> e7
assert_grep "output exists" e7
cmp -n 33554432 phys.out phys.ram/000.ram || fail "a refused --physical changed its output"
