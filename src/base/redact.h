/* Redaction of likely secrets in a block's first bytes before a reachability
 * scan puts them in a recording (docs/SCAN.md, "Content and redaction"). A
 * pure function: no allocation, no state, no I/O; used by the agent's
 * scanner and by its unit test. */
#ifndef LK_REDACT_H
#define LK_REDACT_H

#include <stddef.h>
#include <stdint.h>

/* Shortest run of token characters [A-Za-z0-9+/=_-] that is judged as a
 * possible secret (when it also mixes character classes and has high
 * entropy). */
#define LK_REDACT_TOKEN_MIN 20

/* Zeroes the bytes of buf[0, n) that look secret and sets their bits in
 * mask ((n + 7) / 8 bytes, least significant bit first; cleared first):
 * - values after password / passwd / secret / token / api_key / apikey
 *   followed by '=' or ':' (quotes and spaces allowed around them), up to
 *   the next space, quote, '&', ';', ',' or line end;
 * - the rest of the line after "Authorization:", "Cookie:", "Set-Cookie:"
 *   and "Proxy-Authorization:", and the token after "Bearer ";
 * - PEM blocks, "-----BEGIN" through the end of the matching "-----END ...-----"
 *   line (or the end of the buffer);
 * - runs of at least LK_REDACT_TOKEN_MIN token characters that mix at least
 *   two of lower case, upper case and digits and carry at least 3 bits of
 *   entropy per character (keys, session ids, base64 and hex secrets).
 * Matching is case-insensitive. Returns the number of bytes redacted. */
size_t lk_redact(uint8_t *buf, size_t n, uint8_t *mask);

#endif
