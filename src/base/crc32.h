/* CRC-32 (IEEE 802.3, the polynomial of zlib and PNG) used to frame records.
 * zlib's: a pure function over tables in rodata, safe anywhere. */
#ifndef LK_CRC32_H
#define LK_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over n bytes; start with crc = 0. lk_crc32(0, "123456789", 9)
 * is 0xCBF43926. */
uint32_t lk_crc32(uint32_t crc, const void *data, size_t n);

/* From now on lk_crc32 calls fn, zlib's crc32_z as found in libz itself
 * (dlsym on libz's handle), not whatever crc32_z the process resolves
 * first. Before any record is written. */
void lk_crc32_bind(void *fn);

#endif
