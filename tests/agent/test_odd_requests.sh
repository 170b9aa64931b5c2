# Odd and extreme requests (malloc(0), realloc(NULL, n), realloc(p, 0), sizes
# that fail with ENOMEM, posix_memalign with alignments up to 16 MiB and
# invalid ones, aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size
# on tracked blocks, errno after successful calls): every answer the program
# prints is the same with and without the agent, and the recording is
# readable.
. "$(dirname "$0")/../lib.sh"

run_same odd_requests "$LK_PROGS/odd_requests"
grep -q 'malloc_usable_size short on 0 blocks' "$T/odd_requests.out.lk" ||
    fail "malloc_usable_size shorter than asked under the agent"
grep -q 'errno after successful calls: kept' "$T/odd_requests.out.lk" ||
    fail "errno changed by successful calls under the agent"
# The same under sampling, and with the smallest stack depth.
LEAKSCOPE_SAMPLE=1K run_same odd_sampled "$LK_PROGS/odd_requests"
LEAKSCOPE_DEPTH=1 run_same odd_depth1 "$LK_PROGS/odd_requests"
finish
