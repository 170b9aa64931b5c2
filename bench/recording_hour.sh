#!/usr/bin/env bash
# Recording size of a steady server over real time: redis-server under
# `leakscope run` (full tracking unless LEAKSCOPE_SAMPLE is set, default
# period and thinning) for DURATION seconds (default 3600), fed by
# redis-benchmark bursts of BURST requests every 2 s over loopback. Prints
# the recording's size every 5 minutes and at the end, in bytes.
#   bench/recording_hour.sh BUILD_DIR OUT_DIR [DURATION] [BURST]
set -u
build=$1 out=$2 dur=${3:-3600} burst=${4:-20000}
mkdir -p "$out"
port=$((20000 + RANDOM % 20000))
rec="$out/redis-hour.lsr"
rm -f "$rec"
"$build/leakscope" run --quiet --no-report -o "$rec" -- \
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$out/redis.log" 2>&1 &
srv=$!
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
start=$(date +%s) next=$((start + 300))
while :; do
    now=$(date +%s)
    [ $((now - start)) -ge "$dur" ] && break
    timeout 60 redis-benchmark -p "$port" -n "$burst" -c 4 -r 10000 -t set,get,lpush,lpop,hset -q \
        >/dev/null 2>&1
    if [ "$now" -ge "$next" ]; then
        echo "$((now - start)) s: $(stat -c %s "$rec") bytes"
        next=$((next + 300))
    fi
    sleep 2
done
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
wait "$srv"
echo "end $(($(date +%s) - start)) s: $(stat -c %s "$rec") bytes"
"$build/leakscope" report "$rec" | head -5
