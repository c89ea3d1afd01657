/* The one place the OpenCL headers are included from, with the API version
 * fixed: crossdev targets OpenCL 1.2 so Oclgrind (1.2) and every newer
 * driver run the same code. */
#ifndef XD_HOST_CL_H
#define XD_HOST_CL_H
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <CL/cl_ext.h> /* CL_PLATFORM_NOT_FOUND_KHR */
#endif
