/* Hashes of tensors and data: XXH3-64 (libxxhash). */
#include <stdio.h>
#include <xxhash.h>

#include "common.h"

uint64_t xd_hash_bytes(const void *p, size_t n) { return XXH3_64bits(p, n); }

void xd_hash_hex(uint64_t h, char out[24]) { snprintf(out, 24, "xxh3:%016llx", (unsigned long long)h); }
