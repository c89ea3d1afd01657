/* Selector parsing on a fake device list: index, substring, list, all, no
 * match, malformed.  Needs no OpenCL device. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static xd_device_info fake(unsigned p, unsigned d, const char *id)
{
    xd_device_info info;
    memset(&info, 0, sizeof info);
    info.platform_index = p;
    info.device_index = d;
    snprintf(info.id, sizeof info.id, "%s", id);
    return info;
}

int main(void)
{
    xdt t = {.name = "test_selector"};
    xd_device_info infos[] = {fake(0, 0, "oclgrind/oclgrind-simulator"), fake(1, 0, "pocl/basic-skylake"),
                              fake(1, 1, "pocl/pthread-skylake"), fake(2, 0, "nvidia-cuda/nvidia-h100")};
    xd_device_list *list = NULL;
    xd_error err;
    xdt_check(&t, xd_device_list_from_infos(infos, 4, &list, &err) == XD_OK && !err.message[0], "list from infos");
    size_t idx[5], n = 99;

    static const struct {
        const char *sel;
        xd_status st;
        size_t n;
        size_t first;
    } cases[] = {
        {"all", XD_OK, 4, 0},
        {"1:1", XD_OK, 1, 2},
        {"2:0", XD_OK, 1, 3},
        {"pocl", XD_OK, 2, 1},
        {"POCL/PTHREAD", XD_OK, 1, 2},
        {"nvidia,0:0", XD_OK, 2, 0},
        {"pthread, basic", XD_OK, 2, 1},
        {"pocl,pthread", XD_OK, 2, 1}, /* duplicates appear once */
        {"amd", XD_NO_DEVICE, 0, 0},
        {"3:0", XD_NO_DEVICE, 0, 0},
        {"1:", XD_INVALID_ARGUMENT, 0, 0},
        {"1:x", XD_INVALID_ARGUMENT, 0, 0},
        {"1:2:3", XD_INVALID_ARGUMENT, 0, 0},
        {"", XD_INVALID_ARGUMENT, 0, 0},
        {"pocl,,basic", XD_INVALID_ARGUMENT, 0, 0},
        {",", XD_INVALID_ARGUMENT, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        xd_error_clear(&err);
        xd_status st = xd_device_select(list, cases[i].sel, idx, &n, &err);
        xdt_check(&t, st == cases[i].st, "'%s': status %s, expected %s (%s)", cases[i].sel, xd_status_name(st),
                  xd_status_name(cases[i].st), err.message);
        if (st == XD_OK && cases[i].st == XD_OK) {
            xdt_check(&t, n == cases[i].n, "'%s': %zu devices, expected %zu", cases[i].sel, n, cases[i].n);
            xdt_check(&t, n > 0 && idx[0] == cases[i].first, "'%s': first index %zu, expected %zu", cases[i].sel,
                      n ? idx[0] : 99, cases[i].first);
        } else if (st != XD_OK) {
            xdt_check(&t, err.message[0] != '\0' && err.status == st, "'%s': no error message, or another status",
                      cases[i].sel);
        }
    }
    /* A selector that matches nothing names the devices that exist. */
    xd_device_select(list, "amd", idx, &n, &err);
    xdt_check(&t, strstr(err.message, "pocl/pthread-skylake") && strstr(err.message, "'amd'"), "no-match message: %s",
              err.message);

    /* Empty list: nothing matches, not even "all". */
    xd_device_list *empty = NULL;
    xd_device_list_from_infos(NULL, 0, &empty, NULL);
    xdt_check(&t, xd_device_select(empty, "all", NULL, &n, &err) == XD_NO_DEVICE, "all on empty list");

    /* Slugs: (R)/(TM) dropped, punctuation collapsed. */
    char slug[64];
    xd_slugify("Intel(R) Xeon(R) Processor  @ 2.0GHz", slug, sizeof slug);
    xdt_check(&t, strcmp(slug, "intel-xeon-processor-2.0ghz") == 0, "slug '%s'", slug);
    xd_slugify("NVIDIA H100 80GB HBM3", slug, sizeof slug);
    xdt_check(&t, strcmp(slug, "nvidia-h100-80gb-hbm3") == 0, "slug '%s'", slug);
    xd_slugify("a very long name that will not fit", slug, 8);
    xdt_check(&t, strlen(slug) < 8, "slug truncated to the buffer");

    /* Types and vendors (issue 13): the fleet examples' `--device gpu`.
     * Oclgrind reports a GPU but is a simulator: `gpu` means hardware. */
    xd_device_info typed[] = {fake(0, 0, "oclgrind/oclgrind-simulator"), fake(1, 0, "pocl/pthread-skylake"),
                              fake(2, 0, "nvidia-cuda/nvidia-h100"), fake(3, 0, "amd-accelerated-parallel/gfx90a"),
                              fake(4, 0, "intel-fpga/emulator")};
    static const xd_device_type types[] = {XD_DEVICE_GPU, XD_DEVICE_CPU, XD_DEVICE_GPU, XD_DEVICE_GPU,
                                           XD_DEVICE_ACCELERATOR};
    static const char *const vendors[][3] = {
        {"Oclgrind", "Oclgrind", "Oclgrind"},
        {"AuthenticAMD", "The pocl project", "Portable Computing Language"},
        {"NVIDIA Corporation", "NVIDIA Corporation", "NVIDIA CUDA"},
        {"Advanced Micro Devices, Inc.", "Advanced Micro Devices, Inc.", "AMD Accelerated Parallel Processing"},
        {"Intel(R) Corporation", "Intel(R) Corporation", "Intel(R) FPGA"}};
    for (int i = 0; i < 5; ++i) {
        typed[i].type = types[i];
        snprintf(typed[i].vendor, sizeof typed[i].vendor, "%s", vendors[i][0]);
        snprintf(typed[i].platform_vendor, sizeof typed[i].platform_vendor, "%s", vendors[i][1]);
        snprintf(typed[i].platform_name, sizeof typed[i].platform_name, "%s", vendors[i][2]);
    }
    xd_device_list *tl = NULL;
    xd_device_list_from_infos(typed, 5, &tl, NULL);
    /* A bad call says why, as every function without a context does. */
    xd_device_list *none = NULL;
    xdt_check(&t,
              xd_device_list_from_infos(NULL, 2, &none, &err) == XD_INVALID_ARGUMENT &&
                  err.status == XD_INVALID_ARGUMENT && strstr(err.message, "NULL infos") && !none,
              "NULL infos with a count: %s", err.message);
    static const struct {
        const char *sel;
        xd_status st;
        size_t n, first;
    } tcases[] = {
        {"gpu", XD_OK, 2, 2}, /* the H100 and the AMD GPU, not Oclgrind */
        {"GPU", XD_OK, 2, 2}, /* case-insensitive */
        {"cpu", XD_OK, 1, 1},
        {"accelerator", XD_OK, 1, 4},
        {"vendor:nvidia", XD_OK, 1, 2},
        {"vendor:amd", XD_OK, 2, 1},  /* AuthenticAMD's CPU and Advanced Micro Devices' GPU */
        {"vendor:pocl", XD_OK, 1, 1}, /* the platform's vendor */
        {"vendor:intel", XD_OK, 1, 4},
        {"vendor:oclgrind", XD_OK, 1, 0},
        {"gpu,cpu", XD_OK, 3, 1},
        {"vendor:", XD_NO_DEVICE, 0, 0},
        {"vendor:arm", XD_NO_DEVICE, 0, 0},
        {"oclgrind", XD_OK, 1, 0}, /* a simulator stays selectable by its id */
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; ++i) {
        xd_error_clear(&err);
        xd_status st = xd_device_select(tl, tcases[i].sel, idx, &n, &err);
        xdt_check(&t, st == tcases[i].st, "'%s': status %s, expected %s (%s)", tcases[i].sel, xd_status_name(st),
                  xd_status_name(tcases[i].st), err.message);
        if (st == XD_OK && tcases[i].st == XD_OK)
            xdt_check(&t, n == tcases[i].n && idx[0] == tcases[i].first,
                      "'%s': %zu devices from %zu, expected %zu from %zu", tcases[i].sel, n, n ? idx[0] : 99,
                      tcases[i].n, tcases[i].first);
    }
    xd_device_list_destroy(tl);

    /* Status names come from the one list. */
    xdt_check(&t, strcmp(xd_status_name(XD_BUILD_FAILED), "XD_BUILD_FAILED") == 0, "status name");
    xdt_check(&t, strcmp(xd_status_name((xd_status)999), "XD_UNKNOWN_STATUS") == 0, "unknown status name");
    xdt_check(&t, strlen(xd_status_string(XD_NO_DEVICE)) > 0, "status string");

    xd_device_list_destroy(list);
    xd_device_list_destroy(empty);
    return xdt_finish(&t);
}
