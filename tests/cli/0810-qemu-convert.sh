#!/bin/sh
# convert, checked by a real QEMU: a paused 128 MiB pc guest with an 8 MiB
# random blob is saved as a classic stream, a mapped-ram image and a
# mapped-ram + multifd image; every conversion (classic -> image -> stream,
# mapped-ram -> stream -> image, both for the multifd save) must restore in
# QEMU to guest RAM byte-identical to the source's dump.  classic -> image
# -> stream gives back QEMU's own file byte for byte; image -> stream ->
# image keeps the inspect figures; a mapped-ram image saved at
# file:PATH,offset=0x1005c converts to a stream QEMU restores.
# Then what a user sees on errors: an existing OUTPUT without --force, a
# missing directory, a bad or truncated input, SIGINT/SIGTERM midway: exit
# status, untouched or no output, and no temporary file left behind.
. "$TESTS_SRCDIR/lib.sh"
use_qemu

BG_PIDS=
end_bg() {
    for _p in $BG_PIDS; do
        kill "$_p" 2> /dev/null || :
    done
    BG_PIDS=
}
trap 'end_bg; cleanup' EXIT

head -c 8388608 /dev/urandom > blob.bin

save() { # MODE OUT: OUT and OUT.src (guest RAM before the save)
    "$PYTHON" "$FRQEMU" save --mode="$1" --out="$2" --dump="$2.src" \
        --blob=blob.bin --blob-addr=0x2000000 --timeout=60 ||
        fail "QEMU save ($1) failed"
}

conv() { # DIRECTION IN OUT
    $FIXEDRAM convert "$1" "$2" "$3" ||
        fail "fixedram convert $1 $2 $3 failed"
}

restore_cmp() { # FILE SOURCE-DUMP: QEMU restores FILE to the same RAM
    qemu_restore_cmp "$2" "$1" --in="$1"
}

layout() { # FILE FORMAT CAPS-JSON: inspect FILE says FORMAT and CAPS
    $FIXEDRAM inspect --output=json "$1" > "$1.json" ||
        fail "fixedram inspect $1 failed"
    assert_eq "$(json_get "$1.json" 'd["format"]')" "$2" "$1: format"
    assert_eq "$(json_get "$1.json" 'json.dumps(d["capabilities"])')" "$3" \
        "$1: capabilities"
}

# same_figures A.json B.json: the RAM and device figures agree.
same_figures() {
    python3 - "$1" "$2" <<'PY' || fail "inspect figures of $2 differ from $1"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
def key(d):
    return {"machine": d["machine"], "capabilities": d["capabilities"],
            "format": d["format"], "ram_total": d["ram_total"],
            "ramblocks": [(x["name"], x["length"], x["present"], x["zero"],
                           x["absent"]) for x in d["ramblocks"]],
            "devices": [(x["name"], x["instance"], x["version"], x["size"])
                        for x in d["devices"]]}
ka, kb = key(a), key(b)
bad = [k for k in ka if ka[k] != kb[k]]
for k in bad:
    print("%s: %r != %r" % (k, ka[k], kb[k]), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

save classic classic.bin
save mapped-ram mapped.bin
save mapped-ram-multifd mfd.bin

# ---- classic -> image -> stream
conv stream-to-image classic.bin classic.img
layout classic.img mapped-ram '["mapped-ram"]'
restore_cmp classic.img classic.bin.src
conv image-to-stream classic.img classic.img.bin
layout classic.img.bin stream '[]'
cmp classic.bin classic.img.bin ||
    fail "classic -> image -> stream is not QEMU's original classic file"
restore_cmp classic.img.bin classic.bin.src
# -S writes short zero runs between data as zeros: the same bytes
$FIXEDRAM convert -q -S 64K stream-to-image classic.bin classic-s.img
cmp classic.img classic-s.img ||
    fail "convert -S 64K: not the bytes of the default conversion"
restore_cmp classic-s.img classic.bin.src

# ---- mapped-ram (with and without multifd) -> stream -> image
for f in mapped mfd; do
    layout $f.bin mapped-ram '["mapped-ram"]'
    conv image-to-stream $f.bin $f.stream
    layout $f.stream stream '[]'
    restore_cmp $f.stream $f.bin.src
    conv stream-to-image $f.stream $f.stream.img
    layout $f.stream.img mapped-ram '["mapped-ram"]'
    same_figures $f.bin.json $f.stream.img.json
    restore_cmp $f.stream.img $f.bin.src
done

# ---- a mapped-ram image written at file:PATH,offset=0x1005c (the stream
# starts there; its offsets are absolute) converts to a stream QEMU loads
"$PYTHON" "$FRQEMU" save --mode=mapped-ram --offset=0x1005c --out=offset.bin \
    --dump=offset.bin.src --blob=blob.bin --blob-addr=0x2000000 --timeout=60 ||
    fail "QEMU save (mapped-ram, offset=0x1005c) failed"
conv image-to-stream offset.bin offset.stream
layout offset.stream stream '[]'
restore_cmp offset.stream offset.bin.src
rm -f ./*.src

# ---- errors a user sees --------------------------------------------------

no_tmp() { # DIR...: no temporary file left
    for _d in "$@"; do
        if ls -a "$_d" | grep '^\.fixedram-tmp' > /dev/null; then
            ls -la "$_d" >&2
            fail "a temporary file was left in $_d"
        fi
    done
}

# An existing output is not overwritten without --force ...
printf 'precious\n' > exists.img
sum0=$(cksum < exists.img)
expect_code 1 $FIXEDRAM convert stream-to-image classic.bin exists.img \
    2> exists.err
assert_grep 'exists' exists.err
assert_eq "$(cksum < exists.img)" "$sum0" "exists.img after convert without --force"
no_tmp .
# ... and is with --force (-f too).
$FIXEDRAM convert --force stream-to-image classic.bin exists.img ||
    fail "convert --force failed"
cmp classic.img exists.img || fail "convert --force did not write the image"
printf 'precious\n' > exists.bin
$FIXEDRAM convert -f image-to-stream classic.img exists.bin ||
    fail "convert -f failed"
cmp classic.bin exists.bin || fail "convert -f did not write the stream"

# A directory that does not exist.
expect_code 1 $FIXEDRAM convert stream-to-image classic.bin no-such-dir/out.img \
    2> nodir.err
assert_grep 'no-such-dir/out.img' nodir.err
[ ! -e no-such-dir ] || fail "convert created no-such-dir"
no_tmp .

# Not a migration file, and a truncated one: exit 1, no output, no temp.
printf 'hello world, not a stream\n' > text.txt
expect_code 1 $FIXEDRAM convert stream-to-image text.txt text.img 2> text.err
assert_grep '^fixedram: text.txt: ' text.err
[ ! -e text.img ] || fail "a failed conversion left text.img"
head -c 5000000 classic.bin > trunc.bin
expect_code 1 $FIXEDRAM convert stream-to-image trunc.bin trunc.img 2> trunc.err
assert_grep '^fixedram: trunc.bin: ' trunc.err
[ ! -e trunc.img ] || fail "a failed conversion left trunc.img"
head -c 70000000 mapped.bin > trunc-m.bin
expect_code 1 $FIXEDRAM convert image-to-stream trunc-m.bin trunc-m.stream \
    2> trunc-m.err
[ ! -e trunc-m.stream ] || fail "a failed conversion left trunc-m.stream"
no_tmp .

# Killed midway: the input stops after 4 MB (the writer then waits for
# "stop"), the signal arrives while fixedram waits for more data: it must
# die with the signal's status and leave no output and no temporary file.
kill_midway() { # SIGNAL EXPECTED-STATUS
    mkdir "kill-$1"
    mkfifo "kill-$1/in.fifo"
    { head -c 4000000 classic.bin; : > "kill-$1/written"
      while [ ! -e "kill-$1/stop" ]; do sleep 0.05; done; } \
        > "kill-$1/in.fifo" &
    _w=$!
    BG_PIDS="$BG_PIDS $_w"
    $FIXEDRAM convert stream-to-image - "kill-$1/out.img" < "kill-$1/in.fifo" &
    _c=$!
    BG_PIDS="$BG_PIDS $_c"
    _i=0
    until [ -e "kill-$1/written" ] &&
          ls -a "kill-$1" | grep '^\.fixedram-tmp' > /dev/null; do
        _i=$((_i + 1))
        [ $_i -le 400 ] || fail "SIG$1: conversion did not start in 20 s"
        kill -0 $_c 2> /dev/null || fail "SIG$1: fixedram exited early"
        sleep 0.05
    done
    kill -"$1" $_c
    _rc=0
    { wait $_c; } 2> /dev/null || _rc=$?   # no "Terminated" from the shell
    : > "kill-$1/stop"
    wait $_w || fail "SIG$1: the writer failed"
    BG_PIDS=
    assert_eq "$_rc" "$2" "exit status of fixedram after SIG$1"
    [ ! -e "kill-$1/out.img" ] || fail "SIG$1 left the output"
    no_tmp "kill-$1"
}
kill_midway INT 130
kill_midway TERM 143
exit 0
