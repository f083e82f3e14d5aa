#!/bin/sh
# Every command answers --help; usage errors exit 64; --version works;
# options after the command go to the command, not the global parser.
. "$TESTS_SRCDIR/lib.sh"

$FIXEDRAM --help > help.out
assert_grep '^Commands:' help.out
$FIXEDRAM --version > version.out
assert_grep '^fixedram [0-9]' version.out

# The command list in --help comes from the table: every listed command
# must answer --help itself.
cmds=$(sed -n '/^Commands:/,/^$/p' help.out | awk 'NF && !/^Commands:/ {print $1}')
[ -n "$cmds" ] || fail "no commands listed"
for c in $cmds; do
    $FIXEDRAM "$c" --help > "cmd-$c.out" || fail "'$c --help' failed"
    assert_grep "Usage: fixedram $c" "cmd-$c.out"
    assert_grep 'Exit status' "cmd-$c.out"
    expect_code 64 $FIXEDRAM "$c" --no-such-option
done

expect_code 64 $FIXEDRAM
expect_code 64 $FIXEDRAM no-such-command
expect_code 64 $FIXEDRAM --no-such-global
expect_code 64 $FIXEDRAM inspect
expect_code 64 $FIXEDRAM inspect a b
expect_code 64 $FIXEDRAM inspect --output=xml x
$FIXEDRAM no-such-command 2> unknown.err || true
assert_grep "unknown command 'no-such-command'" unknown.err

# A global option before the command, a command option after it.
$MKSTREAM --seed=3 s.bin
$FIXEDRAM -q inspect --output=json s.bin > s.json
json_get s.json 'd["format"]' > fmt
assert_eq "$(cat fmt)" stream "format via -q inspect --output=json"

# Results go to stdout: a full stdout is an error, not silence.
if [ -w /dev/full ]; then
    expect_code 1 $FIXEDRAM inspect s.bin > /dev/full
fi
