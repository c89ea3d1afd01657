/* crossdev — symbol visibility. */
#ifndef CROSSDEV_EXPORT_H
#define CROSSDEV_EXPORT_H

#if defined(XD_STATIC)
#define XD_API
#elif defined(_WIN32)
#ifdef XD_BUILDING_LIBRARY
#define XD_API __declspec(dllexport)
#else
#define XD_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define XD_API __attribute__((visibility("default")))
#else
#define XD_API
#endif

#endif
