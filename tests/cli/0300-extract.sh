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
