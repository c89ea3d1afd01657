/* The kernel-binary cache's entry format (host/core/program_cache.c keeps
 * the entries; docs/drivers.md): bytes only, no OpenCL, so that the reader
 * of a file another process wrote can be fuzzed (tests/fuzz).  All integers
 * little-endian:
 *   0  magic "XDKCACHE"     8  format version (u32), 0 (u32)
 *   16 key (16 bytes)
 *   32 binary size (u64)    40 XXH3-64 of the binary (u64)     48 binary */
#include <string.h>

#include "common.h"

static const unsigned char kc_magic[8] = {'X', 'D', 'K', 'C', 'A', 'C', 'H', 'E'};

void xd_put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; ++i) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

void xd_kcache_entry_header(unsigned char head[XD_KCACHE_HEADER], const unsigned char key[16], const void *bin,
                            size_t size)
{
    memset(head, 0, XD_KCACHE_HEADER);
    memcpy(head, kc_magic, sizeof kc_magic);
    xd_put_le(head + 8, XD_KCACHE_VERSION, 4);
    memcpy(head + 16, key, 16);
    xd_put_le(head + 32, (uint64_t)size, 8);
    xd_put_le(head + 40, xd_hash_bytes(bin, size), 8);
}

const char *xd_kcache_entry_parse(const unsigned char *data, size_t len, const unsigned char key[16],
                                  const unsigned char **bin, size_t *size)
{
    if (len < XD_KCACHE_HEADER) return "entry shorter than its header";
    if (memcmp(data, kc_magic, sizeof kc_magic) != 0) return "not a crossdev cache entry";
    if (get_le(data + 8, 4) != XD_KCACHE_VERSION) return "another entry format version";
    if (memcmp(data + 16, key, 16) != 0) return "the entry's key differs from its name";
    uint64_t n = get_le(data + 32, 8);
    if (n == 0 || n != len - XD_KCACHE_HEADER) return "the binary's size differs from the entry's";
    if (xd_hash_bytes(data + XD_KCACHE_HEADER, (size_t)n) != get_le(data + 40, 8))
        return "the binary's checksum differs";
    *bin = data + XD_KCACHE_HEADER;
    *size = (size_t)n;
    return NULL;
}
