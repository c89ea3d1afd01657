/* crossdev-compare drivers: vendor OpenCL runtimes by version, side by
 * side (docs/drivers.md).  `drivers add PKG==VER` installs a PyPI runtime
 * (Intel's CPU runtime, Intel's FPGA emulator, a PoCL build) into a virtual
 * environment of its own under the drivers folder, with a vendors folder of
 * its own: two versions of one runtime cannot share a process (the second
 * library of one soname is never loaded), so each runs in its own, chosen
 * by `--device ID@VER`, and its devices' ids carry the version. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/common.h"

/* The runtimes crossdev knows: the PyPI package, the OpenCL library it
 * ships, and the packages of the same version it needs beside it (the FPGA
 * emulator loads the CPU runtime's compiler, libcommon_clang). */
static const struct {
    const char *package, *library, *companion, *companion2;
} RUNTIMES[] = {
    {"intel-opencl-rt", "libintelocl", "intel-cmplr-lib-rt", NULL},
    {"intel-opencl-fpga-emu-rt", "libintelocl_emu", "intel-cmplr-lib-rt", "intel-opencl-rt"},
    {"pocl-binary-distribution", "libpocl", NULL, NULL},
};
#define NRUNTIMES (sizeof RUNTIMES / sizeof *RUNTIMES)

const char *drivers_dir(void)
{
    const char *d = getenv("XD_DRIVERS_DIR");
    return d && d[0] ? d : XD_DEFAULT_DRIVERS_DIR;
}

static void usage_drivers(void)
{
    printf("usage: %s drivers add PACKAGE==VERSION | list | remove PACKAGE==VERSION\n"
           "Vendor OpenCL runtimes by version, each in a folder of its own under %s\n"
           "(XD_DRIVERS_DIR), from PyPI, no root: intel-opencl-rt, intel-opencl-fpga-emu-rt,\n"
           "pocl-binary-distribution.  Versions crossdev has verified install pinned with hashes\n"
           "(tools/requirements/drivers/); others by name, with a warning.  Then:\n"
           "  %s run --device intel-opencl/amd-epyc@2021.4.0 ...   (that version, its own process)\n"
           "  %s diff TRACE...                                     (classes of bitwise-equal runs)\n",
           prog, drivers_dir(), prog, prog);
}

/* "pkg==ver" into its runtime's index and the version; -1 when not one. */
static int parse_spec_quiet(const char *spec, char *ver, size_t cap)
{
    const char *eq = strstr(spec, "==");
    for (size_t i = 0; eq && i < NRUNTIMES; ++i)
        if (strlen(RUNTIMES[i].package) == (size_t)(eq - spec) && strncmp(spec, RUNTIMES[i].package, eq - spec) == 0) {
            snprintf(ver, cap, "%s", eq + 2);
            int ok = ver[0] && strlen(eq + 2) < cap;
            for (const char *c = ver; ok && *c; ++c)
                ok = (*c >= '0' && *c <= '9') || *c == '.' || (*c >= 'a' && *c <= 'z');
            if (ok) return (int)i;
            break;
        }
    return -1;
}

/* parse_spec_quiet, saying what is wrong. */
static int parse_spec(const char *spec, char *ver, size_t cap)
{
    int rt = parse_spec_quiet(spec, ver, cap);
    if (rt >= 0) return rt;
    fprintf(stderr,
            "%s: drivers: '%s': give PACKAGE==VERSION, PACKAGE one of intel-opencl-rt, "
            "intel-opencl-fpga-emu-rt, pocl-binary-distribution, VERSION digits and dots (e.g. "
            "intel-opencl-rt==2024.2.1)\n",
            prog, spec);
    return -1;
}

/* 1 when file is the library `stem`: stem, an optional "-HASH" (auditwheel's
 * renaming), ".so", an optional version (".2021.12.9.0"); never a
 * "libintelocl.so-gdb.py" or another library sharing the prefix. */
static int is_library(const char *file, const char *stem)
{
    size_t n = strlen(stem);
    if (strncmp(file, stem, n) != 0) return 0;
    const char *p = file + n;
    if (*p == '-')
        for (++p; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');) ++p;
    if (strncmp(p, ".so", 3) != 0) return 0;
    for (p += 3; *p; ++p)
        if (!((*p >= '0' && *p <= '9') || *p == '.')) return 0;
    return 1;
}

/* The first library `name` (is_library) under dir, `depth` folders down
 * (PoCL's wheel: lib/python3.11/site-packages/pyopencl/.libs). */
static int find_library(const char *dir, const char *name, int depth, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (S_ISREG(sb.st_mode) && is_library(e->d_name, name)) {
            snprintf(out, cap, "%s", path);
            found = 1;
        } else if (S_ISDIR(sb.st_mode) && depth > 0) {
            found = find_library(path, name, depth - 1, out, cap);
        }
    }
    closedir(d);
    return found;
}

/* pip into a fresh virtual environment at tmp: the pinned set when crossdev
 * has one, else the package (and its companion) by name. */
static int install(int rt, const char *ver, const char *tmp, const char *log)
{
    char req[4096], venv_py[4096], pkg[256], comp[256], comp2[256];
    snprintf(req, sizeof req, "%s/%s-%s.txt", XD_DRIVER_REQUIREMENTS_DIR, RUNTIMES[rt].package, ver);
    snprintf(venv_py, sizeof venv_py, "%s/bin/python", tmp);
    const char *venv[] = {"/usr/bin/python3", "-m", "venv", tmp, NULL};
    proc_result r;
    if (proc_exec(venv, log, &r) != 0 || r.exit_status != 0) return 0;
    struct stat sb;
    if (stat(req, &sb) == 0) {
        printf("%s: drivers: %s==%s from %s (pinned with hashes)\n", prog, RUNTIMES[rt].package, ver, req);
        const char *pip[] = {
            venv_py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--require-hashes",
            "-r",    req,  NULL};
        return proc_exec(pip, log, &r) == 0 && r.exit_status == 0;
    }
    fprintf(stderr,
            "%s: drivers: WARNING: %s==%s is not a version crossdev has verified (no %s): fetched from PyPI by "
            "name, without hashes\n",
            prog, RUNTIMES[rt].package, ver, req);
    snprintf(pkg, sizeof pkg, "%s==%s", RUNTIMES[rt].package, ver);
    snprintf(comp, sizeof comp, "%s==%s", RUNTIMES[rt].companion ? RUNTIMES[rt].companion : "", ver);
    snprintf(comp2, sizeof comp2, "%s==%s", RUNTIMES[rt].companion2 ? RUNTIMES[rt].companion2 : "", ver);
    const char *pip[] = {venv_py,
                         "-m",
                         "pip",
                         "install",
                         "-q",
                         "--disable-pip-version-check",
                         "--no-deps",
                         pkg,
                         RUNTIMES[rt].companion ? comp : NULL,
                         RUNTIMES[rt].companion2 ? comp2 : NULL,
                         NULL};
    return proc_exec(pip, log, &r) == 0 && r.exit_status == 0;
}

/* The devices a driver folder gives, one id per line, from a child with its
 * vendors folder (the parent never loads OpenCL here). */
static int driver_devices(const char *dir, const char *spec, char *out, size_t cap)
{
    char vendors[4096], msg[256];
    snprintf(vendors, sizeof vendors, "%s/vendors", dir);
    const char *env = getenv("OCL_ICD_VENDORS");
    char *old = env ? strdup(env) : NULL;
    setenv("OCL_ICD_VENDORS", vendors, 1);
    setenv("XD_DRIVER_PACKAGE", spec, 1);
    const char *args[] = {prog, "list", "--ids", NULL};
    proc_result r;
    int timed_out = 0;
    int rc = proc_capture(args, 300, out, cap, &r, &timed_out, msg, sizeof msg);
    if (old) setenv("OCL_ICD_VENDORS", old, 1);
    else unsetenv("OCL_ICD_VENDORS");
    unsetenv("XD_DRIVER_PACKAGE");
    free(old);
    return rc == 0 && !timed_out && r.exit_status == 0 && out[0];
}

/* The PyPI package that ships a library Intel's runtimes load, or the
 * runtime's companion; NULL when unknown. */
static const char *library_package(const char *lib, const char *companion)
{
    static const struct {
        const char *prefix, *package;
    } KNOWN[] = {{"libimf", "intel-cmplr-lib-rt"},
                 {"libsvml", "intel-cmplr-lib-rt"},
                 {"libirng", "intel-cmplr-lib-rt"},
                 {"libintlc", "intel-cmplr-lib-rt"},
                 {"libcommon_clang", "intel-opencl-rt"},
                 {"libOclCpuBackEnd", "intel-opencl-rt"},
                 {"libtbb", "tbb"},
                 {"libtcm", "tcmlib"}};
    for (size_t i = 0; i < sizeof KNOWN / sizeof *KNOWN; ++i)
        if (strncmp(lib, KNOWN[i].prefix, strlen(KNOWN[i].prefix)) == 0) return KNOWN[i].package;
    return companion;
}

/* Why the library does not load: the libraries ldd cannot find, each named
 * with the package that has it. */
static void diagnose(const char *lib, int rt, const char *ver, const char *log)
{
    const char *ldd[] = {"ldd", lib, NULL};
    char out[8192], msg[256];
    proc_result r;
    int timed_out = 0;
    if (proc_capture_program(ldd, 60, out, sizeof out, &r, &timed_out, msg, sizeof msg) != 0) return;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, "not found")) continue;
        while (*line == ' ' || *line == '\t') ++line;
        char name[256], fix[320] = "";
        snprintf(name, sizeof name, "%.*s", (int)strcspn(line, " ="), line);
        const char *from = library_package(name, RUNTIMES[rt].companion);
        if (from)
            snprintf(fix, sizeof fix, ": it comes with %s (of the version this runtime was built with, e.g. %s==%s)",
                     from, from, ver);
        fprintf(stderr, "%s: drivers: %s not found (needed by %s)%s\n", prog, name, lib, fix);
    }
    if (RUNTIMES[rt].companion && strcmp(RUNTIMES[rt].companion, "intel-cmplr-lib-rt") == 0)
        fprintf(stderr,
                "%s: drivers: Intel's runtimes from 2025 on also load oneTBB and TCM newer than Debian 12's "
                "libtbb12 (ldd then names nothing missing): PyPI's tbb and tcmlib, as "
                "tools/requirements/drivers/intel-opencl-rt-2025.3.3.txt pins them\n",
                prog);
    fprintf(stderr, "%s: drivers: the install's log: %s\n", prog, log);
}

/* Installs, registers (vendors/PKG.icd naming the library where it will
 * live), publishes under its final name, and checks that it gives a device;
 * what fails leaves nothing behind. */
static int drivers_add(const char *spec)
{
    char ver[64], dir[4096], tmp[4200], log[4300], lib[4096], icd[4300], final_lib[8400], ids[4096];
    int rt = parse_spec(spec, ver, sizeof ver);
    if (rt < 0) return EXIT_USAGE;
    snprintf(dir, sizeof dir, "%s/%s-%s", drivers_dir(), RUNTIMES[rt].package, ver);
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        int any = driver_devices(dir, spec, ids, sizeof ids);
        printf("%s: drivers: %s already added (%s); its devices:\n%s", prog, spec, dir, any ? ids : "(none)\n");
        return any ? 0 : EXIT_USAGE;
    }
    mkdir(drivers_dir(), 0777);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dir, (long)getpid());
    snprintf(log, sizeof log, "%s/%s-%s.log", drivers_dir(), RUNTIMES[rt].package, ver);
    int ok = install(rt, ver, tmp, log);
    if (!ok) fprintf(stderr, "%s: drivers: %s: pip failed (is the version on PyPI?); its log: %s\n", prog, spec, log);
    if (ok && !(ok = find_library(tmp, RUNTIMES[rt].library, 6, lib, sizeof lib)))
        fprintf(stderr, "%s: drivers: %s installed no %s\n", prog, spec, RUNTIMES[rt].library);
    if (ok) {
        snprintf(final_lib, sizeof final_lib, "%s%s", dir, lib + strlen(tmp));
        snprintf(icd, sizeof icd, "%s/vendors", tmp);
        mkdir(icd, 0777);
        snprintf(icd, sizeof icd, "%s/vendors/%s.icd", tmp, RUNTIMES[rt].package);
        FILE *f = fopen(icd, "w");
        ok = f && fprintf(f, "%s\n", final_lib) > 0;
        if (f && fclose(f) != 0) ok = 0;
    }
    if (ok && rename(tmp, dir) != 0) ok = 0;
    if (ok && !(ok = driver_devices(dir, spec, ids, sizeof ids))) {
        fprintf(stderr, "%s: drivers: %s gives no OpenCL device\n", prog, spec);
        diagnose(final_lib, rt, ver, log);
    }
    if (!ok) {
        const char *rm1[] = {"rm", "-rf", tmp, NULL}, *rm2[] = {"rm", "-rf", dir, NULL};
        proc_result r;
        proc_exec(rm1, NULL, &r);
        if (stat(dir, &sb) == 0) proc_exec(rm2, NULL, &r);
        return EXIT_USAGE;
    }
    unlink(log); /* what pip said matters only when it failed */
    printf("%s: drivers: added %s in %s; its devices:\n%s", prog, spec, dir, ids);
    return 0;
}

/* "intel-opencl-rt==2024.2.1" of a driver folder's name (PKG-VER). */
static void spec_of(const char *name, char *spec, size_t cap)
{
    const char *dash = strrchr(name, '-');
    snprintf(spec, cap, "%.*s==%s", (int)(dash - name), name, dash + 1);
}

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

/* The folders of the added drivers (PKG-VER of a runtime crossdev knows;
 * not a temporary folder or a log), sorted by name: up to cap into names. */
#define XD_MAX_DRIVERS 64
static size_t added_drivers(char (*names)[256], size_t cap)
{
    DIR *d = opendir(drivers_dir());
    struct dirent *e;
    size_t n = 0;
    while (d && n < cap && (e = readdir(d))) {
        char spec[300], ver[64];
        if (!strrchr(e->d_name, '-') || strstr(e->d_name, ".tmp-") || strstr(e->d_name, ".log") ||
            strlen(e->d_name) >= sizeof *names)
            continue;
        spec_of(e->d_name, spec, sizeof spec);
        if (parse_spec_quiet(spec, ver, sizeof ver) >= 0) snprintf(names[n++], sizeof *names, "%s", e->d_name);
    }
    if (d) closedir(d);
    qsort(names, n, sizeof *names, by_name);
    return n;
}

void drivers_print_added(FILE *out)
{
    char names[XD_MAX_DRIVERS][256];
    size_t n = added_drivers(names, XD_MAX_DRIVERS);
    if (n) fprintf(out, "\nDrivers added (%s drivers add), each run in its own process:\n", prog);
    for (size_t i = 0; i < n; ++i) {
        char dir[4096], ids[4096], spec[300];
        spec_of(names[i], spec, sizeof spec);
        snprintf(dir, sizeof dir, "%s/%s", drivers_dir(), names[i]);
        if (!driver_devices(dir, spec, ids, sizeof ids)) snprintf(ids, sizeof ids, "(no device: see drivers add)\n");
        for (char *line = strtok(ids, "\n"); line; line = strtok(NULL, "\n")) fprintf(out, "  %-52s %s\n", line, spec);
    }
}

/* The folder of the added driver of version ver (PKG-VER), into found; 0
 * (said) when none is, or when two packages of that version are. */
static int driver_of_version(const char *opt, const char *ver, char *found, size_t cap)
{
    char names[XD_MAX_DRIVERS][256];
    size_t n = added_drivers(names, XD_MAX_DRIVERS), hits = 0, m = strlen(ver);
    for (size_t i = 0; i < n; ++i) {
        size_t len = strlen(names[i]);
        if (len > m + 1 && strcmp(names[i] + len - m, ver) == 0 && names[i][len - m - 1] == '-') {
            if (hits++)
                fprintf(stderr, "%s: %s: two drivers of version %s are added: %s and %s\n", prog, opt, ver, found,
                        names[i]);
            snprintf(found, cap, "%s", names[i]);
        }
    }
    if (!hits) fprintf(stderr, "%s: %s: no driver of version %s added (see '%s drivers list')\n", prog, opt, ver, prog);
    return hits == 1;
}

/* Appends each id of one driver folder to *out. */
static int append_devices(const char *name, xd_device_info **out, size_t *n)
{
    char dir[4096], spec[300], ids[4096];
    snprintf(dir, sizeof dir, "%s/%s", drivers_dir(), name);
    spec_of(name, spec, sizeof spec);
    if (!driver_devices(dir, spec, ids, sizeof ids)) {
        fprintf(stderr, "%s: --drivers: %s gives no OpenCL device (see '%s drivers list')\n", prog, spec, prog);
        return 0;
    }
    for (char *line = strtok(ids, "\n"); line; line = strtok(NULL, "\n")) {
        xd_device_info *grown = realloc(*out, (*n + 1) * sizeof **out);
        if (!grown) return 0;
        *out = grown;
        memset(&grown[*n], 0, sizeof *grown);
        snprintf(grown[*n].id, sizeof grown[*n].id, "%s", line);
        grown[*n].platform_index = grown[*n].device_index = UINT_MAX;
        ++*n;
    }
    return 1;
}

int drivers_devices(const char *which, xd_device_info **out, size_t *n)
{
    size_t nitems = 0;
    char **items = xd_split_commas(which, 1, &nitems);
    int ok = items != NULL;
    for (size_t k = 0; ok && k < nitems; ++k) {
        char found[256];
        if (strcmp(items[k], "all") == 0) {
            char names[XD_MAX_DRIVERS][256];
            size_t nd = added_drivers(names, XD_MAX_DRIVERS);
            for (size_t i = 0; ok && i < nd; ++i) ok = append_devices(names[i], out, n);
        } else {
            ok = driver_of_version("--drivers", items[k], found, sizeof found) && append_devices(found, out, n);
        }
    }
    free(items);
    return ok;
}

static int drivers_remove(const char *spec)
{
    char ver[64], dir[4096];
    int rt = parse_spec(spec, ver, sizeof ver);
    if (rt < 0) return EXIT_USAGE;
    snprintf(dir, sizeof dir, "%s/%s-%s", drivers_dir(), RUNTIMES[rt].package, ver);
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        fprintf(stderr, "%s: drivers: %s was not added (no %s)\n", prog, spec, dir);
        return EXIT_USAGE;
    }
    const char *rm[] = {"rm", "-rf", dir, NULL};
    proc_result r;
    return proc_exec(rm, NULL, &r) == 0 && r.exit_status == 0 ? 0 : EXIT_USAGE;
}

int cmd_drivers(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        drivers_print_added(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "add") == 0) return drivers_add(argv[2]);
    if (argc == 3 && strcmp(argv[1], "remove") == 0) return drivers_remove(argv[2]);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage_drivers();
        return 0;
    }
    usage_drivers();
    return EXIT_USAGE;
}

/* --device SEL@VER (run, list, __probe): the driver of that version, alone
 * in this process: its vendors folder, and its package named for the ids
 * (the library appends @VER to every device id).  SEL keeps the rest. */
int drivers_select(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        if (!argv[i]) continue;
        char *v = strncmp(argv[i], "--device=", 9) == 0              ? argv[i] + 9
                  : strcmp(argv[i], "--device") == 0 && i + 1 < argc ? argv[i + 1]
                                                                     : NULL;
        char *at = v ? strchr(v, '@') : NULL;
        if (!at) continue;
        char found[256], opt[512], vendors[4096], spec[300];
        snprintf(opt, sizeof opt, "--device %s", v);
        if (!driver_of_version(opt, at + 1, found, sizeof found)) return EXIT_USAGE;
        snprintf(vendors, sizeof vendors, "%s/%s/vendors", drivers_dir(), found);
        spec_of(found, spec, sizeof spec);
        setenv("OCL_ICD_VENDORS", vendors, 1);
        setenv("XD_DRIVER_PACKAGE", spec, 1);
        *at = '\0';
    }
    return CLI_GO_ON;
}
