/* Small helpers: message formatting, OpenCL error names, versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void xd_format(char *buf, size_t cap, const char *fmt, ...)
{
    if (!buf || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

char *xd_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

const char *xd_cl_error_name(cl_int code)
{
    switch (code) {
#define XD_CL_ERR_(c) case c: return #c;
    XD_CL_ERR_(CL_SUCCESS) XD_CL_ERR_(CL_DEVICE_NOT_FOUND) XD_CL_ERR_(CL_DEVICE_NOT_AVAILABLE)
    XD_CL_ERR_(CL_COMPILER_NOT_AVAILABLE) XD_CL_ERR_(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    XD_CL_ERR_(CL_OUT_OF_RESOURCES) XD_CL_ERR_(CL_OUT_OF_HOST_MEMORY)
    XD_CL_ERR_(CL_PROFILING_INFO_NOT_AVAILABLE) XD_CL_ERR_(CL_BUILD_PROGRAM_FAILURE)
    XD_CL_ERR_(CL_INVALID_VALUE) XD_CL_ERR_(CL_INVALID_DEVICE_TYPE) XD_CL_ERR_(CL_INVALID_PLATFORM)
    XD_CL_ERR_(CL_INVALID_DEVICE) XD_CL_ERR_(CL_INVALID_CONTEXT) XD_CL_ERR_(CL_INVALID_QUEUE_PROPERTIES)
    XD_CL_ERR_(CL_INVALID_COMMAND_QUEUE) XD_CL_ERR_(CL_INVALID_MEM_OBJECT)
    XD_CL_ERR_(CL_INVALID_BUILD_OPTIONS) XD_CL_ERR_(CL_INVALID_PROGRAM)
    XD_CL_ERR_(CL_INVALID_PROGRAM_EXECUTABLE) XD_CL_ERR_(CL_INVALID_KERNEL_NAME)
    XD_CL_ERR_(CL_INVALID_KERNEL) XD_CL_ERR_(CL_INVALID_ARG_INDEX) XD_CL_ERR_(CL_INVALID_ARG_VALUE)
    XD_CL_ERR_(CL_INVALID_ARG_SIZE) XD_CL_ERR_(CL_INVALID_KERNEL_ARGS)
    XD_CL_ERR_(CL_INVALID_WORK_DIMENSION) XD_CL_ERR_(CL_INVALID_WORK_GROUP_SIZE)
    XD_CL_ERR_(CL_INVALID_WORK_ITEM_SIZE) XD_CL_ERR_(CL_INVALID_GLOBAL_OFFSET)
    XD_CL_ERR_(CL_INVALID_EVENT_WAIT_LIST) XD_CL_ERR_(CL_INVALID_OPERATION)
    XD_CL_ERR_(CL_INVALID_BUFFER_SIZE) XD_CL_ERR_(CL_INVALID_GLOBAL_WORK_SIZE)
    XD_CL_ERR_(CL_PLATFORM_NOT_FOUND_KHR)
#undef XD_CL_ERR_
    default: return "CL_UNKNOWN_ERROR";
    }
}

const char *xd_version_string(void) { return XD_VERSION_STRING; }
int xd_version_number(void) { return XD_VERSION_MAJOR * 10000 + XD_VERSION_MINOR * 100 + XD_VERSION_PATCH; }
