/* libFuzzer target: the kernel cache's entry reader (host/common/
 * kcache_entry.c), which reads files in a folder other processes write.
 * The key is taken from the input's own bytes 16..31, so that inputs get
 * past the key check; a valid entry must give back exactly its binary, and
 * an entry rebuilt from any input's bytes must read back as written. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char key[16] = {0};
    if (size >= 32) memcpy(key, data + 16, 16);
    const unsigned char *bin = NULL;
    size_t n = 0;
    if (!xd_kcache_entry_parse(data, size, key, &bin, &n) &&
        (bin != data + XD_KCACHE_HEADER || n != size - XD_KCACHE_HEADER))
        abort();
    /* round trip: the input as a binary */
    if (size == 0) return 0;
    unsigned char *entry = malloc(XD_KCACHE_HEADER + size);
    if (!entry) return 0;
    xd_kcache_entry_header(entry, key, data, size);
    memcpy(entry + XD_KCACHE_HEADER, data, size);
    if (xd_kcache_entry_parse(entry, XD_KCACHE_HEADER + size, key, &bin, &n) || n != size ||
        memcmp(bin, data, size) != 0)
        abort();
    free(entry);
    return 0;
}
