# The recording file and the host's stderr. The recording is created with
# O_EXCL|O_NOFOLLOW and mode 0600: a symlink planted at its name is refused
# and never followed (its target stays untouched), an existing file is never
# overwritten; an unwritable directory, a full disk (a small tmpfs, or the
# agent's LEAKSCOPE_FAULT_WRITE fault injection where mounting is not
# allowed), a recording deleted during the run and a descriptor closed by
# the program are each reported once on stderr, and the host's output and
# status never change. The agent writes to the host's stderr its opening
# line and its errors only, and LEAKSCOPE_QUIET=1/2 silence them.
. "$(dirname "$0")/../lib.sh"
cd "$T/work"
prog="$LK_PROGS/steady"
"$prog" 1 >"$T/plain.out" 2>"$T/plain.err"
plain_rc=$?

# agent OUT [ENV...] -- runs steady 1 with the agent; stdout and
# stderr in $T/a.out, $T/a.err; status in $rc.
agent() {
    local out=$1
    shift
    env LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$out" LEAKSCOPE_PERIOD_MS=50 "$@" "$prog" 1 \
        >"$T/a.out" 2>"$T/a.err"
    rc=$?
}
host_same() {
    [ "$rc" = "$plain_rc" ] || fail "$1: status $rc, $plain_rc without the agent"
    cmp -s "$T/plain.out" "$T/a.out" || fail "$1: stdout changed"
    [ -z "$(grep -v '^leakscope\[' "$T/a.err")" ] || fail "$1: stderr has foreign lines: $(head -2 "$T/a.err")"
}
lines() { grep -c '^leakscope\[' "$T/a.err"; }

# A planted symlink, dangling or to a file: never followed, target
# untouched; the agent records beside it to NAME.PID, a file of its own
# (README: an existing name that belongs to no live process).
echo precious >"$T/target"
ln -s "$T/target" "$T/work/link.lsr"
ln -s "$T/work/nowhere" "$T/work/dangling.lsr"
for l in link dangling; do
    agent "$T/work/$l.lsr" LEAKSCOPE_QUIET=1
    host_same "symlink ($l)"
    alt=$(ls "$T/work" | grep "^$l\.lsr\.[0-9]*\$")
    if [ -n "$alt" ] && [ ! -L "$T/work/$alt" ] && [ "$(stat -c %a "$T/work/$alt")" = 600 ]; then
        ok "symlink ($l): not followed; recorded to $alt (0600)"
    else
        fail "symlink ($l): expected a regular file $l.lsr.PID; have: $(ls -l "$T/work")"
    fi
done
[ "$(cat "$T/target")" = precious ] || fail "symlink: its target was written"
[ -e "$T/work/nowhere" ] && fail "symlink: a dangling symlink was followed"
[ -L "$T/work/link.lsr" ] || fail "symlink: the link itself was replaced"
"$LEAKSCOPE" run -o "$T/work/link.lsr" -- "$prog" 1 >/dev/null 2>"$T/run.err"
[ $? = 2 ] && ok "run refuses an existing symlink: $(cat "$T/run.err")" || fail "run did not refuse a symlink"
[ "$(cat "$T/target")" = precious ] || fail "run: the symlink's target was written"

# Mode 0600 whatever the umask.
(umask 000 && agent "$T/work/mode.lsr" LEAKSCOPE_QUIET=1)
m=$(stat -c %a "$T/work/mode.lsr")
[ "$m" = 600 ] && ok "recording mode 0600 under umask 000" || fail "recording mode $m"

# An unwritable directory. root ignores permissions: run as nobody then.
mkdir "$T/ro" && chmod 555 "$T/ro"
chmod 755 "$T" "$T/work"
asuser=()
if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null && asuser=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
if [ "$(id -u)" != 0 ] || [ ${#asuser[@]} -gt 0 ]; then
    "${asuser[@]}" env LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/ro/x.lsr" LEAKSCOPE_QUIET=1 \
        "$prog" 1 >"$T/a.out" 2>"$T/a.err"
    rc=$?
    host_same "unwritable directory"
    [ "$(lines)" = 1 ] && grep -q 'ermission denied' "$T/a.err" &&
        ok "unwritable directory: said once: $(cat "$T/a.err")" ||
        fail "unwritable directory: expected one line, got: $(cat "$T/a.err")"
else
    echo "skip: unwritable directory (root without setpriv)"
fi

# A full disk: a 64 KiB tmpfs when we may mount one, else injected ENOSPC.
full_checked=0
if [ "$(id -u)" = 0 ] && mkdir "$T/full" && mount -t tmpfs -o size=64k lktest "$T/full" 2>/dev/null; then
    dd if=/dev/zero of="$T/full/fill" bs=4k count=15 2>/dev/null
    env LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/full/r.lsr" LEAKSCOPE_PERIOD_MS=20 \
        "$prog" 2 >"$T/a.out" 2>"$T/a.err"
    rc=$?
    cmp -s "$T/plain.out" "$T/a.out" || fail "full tmpfs: stdout changed"
    [ "$rc" = 0 ] || fail "full tmpfs: status $rc"
    n=$(grep -c 'cannot write the recording' "$T/a.err")
    [ "$n" = 1 ] && ok "full tmpfs: ENOSPC said once: $(grep 'cannot write' "$T/a.err")" ||
        fail "full tmpfs: $n 'cannot write' lines: $(cat "$T/a.err")"
    "$LEAKSCOPE" dump "$T/full/r.lsr" >/dev/null 2>&1 || fail "full tmpfs: what was written is unreadable"
    umount "$T/full"
    full_checked=1
fi
for n in 1 2 3 5; do
    agent "$T/work/fault$n.lsr" LEAKSCOPE_QUIET=1 LEAKSCOPE_FAULT_WRITE=$n
    host_same "injected ENOSPC at write $n"
    [ "$(grep -c 'cannot write the recording' "$T/a.err")" = 1 ] ||
        fail "injected ENOSPC at write $n: not said exactly once: $(cat "$T/a.err")"
    "$LEAKSCOPE" dump "$T/work/fault$n.lsr" >/dev/null 2>"$T/d.err"
    drc=$?
    # The first write is the file header: without it the file is empty,
    # which dump must call so in one sentence (exit 2).
    if [ $n = 1 ]; then
        [ $drc = 2 ] && [ "$(wc -l <"$T/d.err")" = 1 ] ||
            fail "injected ENOSPC at write 1: dump exit $drc: $(cat "$T/d.err")"
    else
        [ $drc = 0 ] || fail "injected ENOSPC at write $n: recording unreadable: $(cat "$T/d.err")"
    fi
done
ok "injected ENOSPC at writes 1, 2, 3, 5: host unchanged$([ $full_checked = 1 ] && echo ', and on a real full tmpfs')"

# Deleted during the run: the host runs on; the agent says so once.
env LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/work/del.lsr" LEAKSCOPE_PERIOD_MS=20 LEAKSCOPE_QUIET=1 \
    "$prog" 2 >"$T/a.out" 2>"$T/a.err" &
pid=$!
for i in $(seq 50); do [ -e "$T/work/del.lsr" ] && break; sleep 0.05; done
sleep 0.3
rm -f "$T/work/del.lsr"
wait $pid
rc=$?
cmp -s "$T/plain.out" "$T/a.out" && [ "$rc" = 0 ] || fail "deleted recording: host output or status changed"
[ -e "$T/work/del.lsr" ] && fail "deleted recording: the agent created it again"
n=$(grep -c '^leakscope\[' "$T/a.err")
[ "$n" = 1 ] && ok "deleted recording: said once: $(cat "$T/a.err")" ||
    fail "deleted recording: expected one line on stderr, got $n: $(cat "$T/a.err")"

# The program closes every descriptor and opens 200 files of its own: the
# agent must notice, say so once, and never write into the program's files.
mkdir "$T/files"
env LD_PRELOAD="$LK_AGENT" LEAKSCOPE_OUT="$T/work/fdc.lsr" LEAKSCOPE_PERIOD_MS=10 LEAKSCOPE_QUIET=1 \
    "$LK_PROGS/fd_closer" "$T/files" >"$T/a.out" 2>"$T/a.err"
rc=$?
[ "$rc" = 0 ] && grep -q 'foreign bytes: 0' "$T/a.out" && ok "descriptor closed by the program: its files intact" ||
    fail "descriptor closed by the program: status $rc, $(cat "$T/a.out")"
[ "$(grep -c 'closed by the program' "$T/a.err")" = 1 ] || fail "closed descriptor: not said once: $(cat "$T/a.err")"

# stderr: one opening line by default, none with QUIET=1 (errors still),
# nothing at all with QUIET=2. stdout: never.
agent "$T/work/q0.lsr"
host_same "QUIET unset"
[ "$(lines)" = 1 ] && grep -q 'recording to' "$T/a.err" || fail "QUIET unset: expected the opening line only: $(cat "$T/a.err")"
agent "$T/work/q1.lsr" LEAKSCOPE_QUIET=1
[ -s "$T/a.err" ] && fail "QUIET=1: stderr not empty: $(cat "$T/a.err")"
agent "$T/work/q1.lsr" LEAKSCOPE_QUIET=1 LEAKSCOPE_OUT="$T/no/such/dir/x.lsr"
[ "$(lines)" = 1 ] || fail "QUIET=1: an error should still be said once: $(cat "$T/a.err")"
agent "$T/work/q2.lsr" LEAKSCOPE_QUIET=2 LEAKSCOPE_OUT="$T/no/such/dir/x.lsr"
host_same "QUIET=2"
[ -s "$T/a.err" ] && fail "QUIET=2: stderr not empty: $(cat "$T/a.err")"
agent "$T/work/q3.lsr" LEAKSCOPE_QUIET=2 LEAKSCOPE_FAULT_WRITE=2
[ -s "$T/a.err" ] && fail "QUIET=2 with a failing write: stderr not empty: $(cat "$T/a.err")"
ok "stderr: opening line, errors, and QUIET=1/2 as documented"
finish
