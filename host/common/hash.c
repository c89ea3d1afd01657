/* Hashes of tensors and data: XXH3-64 (libxxhash). */
#include <stdio.h>
#include <xxhash.h>

#include "common.h"

uint64_t xd_hash_bytes(const void *p, size_t n) { return XXH3_64bits(p, n); }

void xd_hash_hex(uint64_t h, char out[24]) { snprintf(out, 24, "xxh3:%016llx", (unsigned long long)h); }

/* xd_hasher is libxxhash's streaming state under another name. */
xd_hasher *xd_hasher_create(void)
{
    XXH3_state_t *s = XXH3_createState();
    if (s) XXH3_64bits_reset(s);
    return (xd_hasher *)s;
}

void xd_hasher_reset(xd_hasher *h) { XXH3_64bits_reset((XXH3_state_t *)h); }

void xd_hasher_update(xd_hasher *h, const void *p, size_t n) { XXH3_64bits_update((XXH3_state_t *)h, p, n); }

uint64_t xd_hasher_digest(const xd_hasher *h) { return XXH3_64bits_digest((const XXH3_state_t *)h); }

void xd_hasher_destroy(xd_hasher *h) { XXH3_freeState((XXH3_state_t *)h); }
