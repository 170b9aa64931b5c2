# The README's first command, `make demo`, must print a LEAK verdict whose
# first suspect is the demo server's leaking function. Same program, same
# run, judged from the JSON report.
. "$(dirname "$0")/../lib.sh"

cc -g -O1 -fno-omit-frame-pointer -pthread "$LK_SRC/examples/demo_server.c" -o "$T/demo_server" ||
    { fail "cannot build examples/demo_server.c"; finish; }
"$LEAKSCOPE" run --quiet --no-report -o "$T/demo.lsr" -- "$T/demo_server" 10 >/dev/null ||
    fail "demo_server under leakscope run failed"
"$LEAKSCOPE" report --json "$T/demo.lsr" >"$T/demo.json" || fail "report --json failed"
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["sites"][0]; print(d["verdict"], s["verdict"], s["frames"][0]["function"])' "$T/demo.json")
[ "$got" = "LEAK LEAK session_attach_request" ] && ok "demo: LEAK, first suspect session_attach_request" ||
    fail "demo: got '$got', expected 'LEAK LEAK session_attach_request'"
finish
