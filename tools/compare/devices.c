/* The device helpers the subcommands share: the list, one device picked
 * by a selector, and the fault-injection test hook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

xd_device_list *load_devices(void)
{
    xd_error err;
    xd_device_list *list = NULL;
    xd_status st = xd_device_list_create(&list, &err);
    if (st != XD_OK) {
        fprintf(stderr, "%s: listing OpenCL devices failed: %s\n", prog, err.message);
        return NULL;
    }
    return list;
}

const xd_device_info *pick_one(xd_device_list *list, const char *sel)
{
    size_t n = xd_device_list_count(list);
    size_t *idx = calloc(n ? n : 1, sizeof *idx), cnt = 0;
    xd_error err;
    const xd_device_info *d = NULL;
    if (!idx) return NULL;
    if (xd_device_select(list, sel, idx, &cnt, &err) != XD_OK) {
        fprintf(stderr, "%s: --device: %s\n", prog, err.message);
    } else if (cnt != 1) {
        fprintf(stderr, "%s: --device '%s' matches %zu devices; pick one (e.g. by P:D):", prog, sel, cnt);
        for (size_t i = 0; i < cnt; ++i) fprintf(stderr, " %s", xd_device_list_get(list, idx[i])->id);
        fputc('\n', stderr);
    } else {
        d = xd_device_list_get(list, idx[0]);
    }
    free(idx);
    return d;
}

/* XD_FAULT=abort:SUBSTR|hang:SUBSTR|exit:SUBSTR makes a run or self-test on
 * a device whose id contains SUBSTR crash, hang or fail (returns 1 for
 * "exit": the caller fails). */
int injected_fault(const xd_device_info *dev)
{
    const char *fault = getenv("XD_FAULT");
    const char *colon = fault ? strchr(fault, ':') : NULL;
    if (!colon || !strstr(dev->id, colon + 1)) return 0;
    if (strncmp(fault, "abort:", 6) == 0) abort();
    if (strncmp(fault, "hang:", 5) == 0)
        for (;;) pause();
    if (strncmp(fault, "exit:", 5) != 0) return 0;
    fprintf(stderr, "%s: injected failure on %s (XD_FAULT)\n", prog, dev->id);
    return 1;
}
