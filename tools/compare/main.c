/* crossdev-compare: the command-line face of libcrossdev.  It parses
 * arguments, calls the library and prints; all the work is in host/.
 * One file per subcommand (list.c, run.c, diff.c, compare.c with its
 * scheduler.c), the options they share (options.c, devices.c) and the
 * platform calls (proc.c); this file dispatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const char *const prog = "crossdev-compare";

static void usage_main(FILE *out)
{
    fprintf(out,
            "usage: %s [--version] [--help] <command> [options]\n"
            "\n"
            "Runs the same seeded training on several OpenCL devices and reports where\n"
            "their numbers part.\n"
            "\n"
            "commands:\n"
            "  list       the OpenCL devices found, with ids and fp capabilities\n"
            "  run        one seeded training on one device, written as a trace\n"
            "  diff       compare traces (from any machine) against the first\n"
            "  compare    run on every selected device and mode, each in its own process,\n"
            "             then diff and report (the default command)\n"
            "  drivers    vendor runtimes by version, side by side: drivers add intel-opencl-rt==2021.4.0,\n"
            "             then run --device ID@2021.4.0 (docs/drivers.md)\n"
            "\n"
            "Device selectors: 'all', 'P:D' (platform and device index) or a\n"
            "case-insensitive substring of the id; several separated by commas.\n"
            "\n"
            "Environment: OCL_ICD_VENDORS (defaults to crossdev's vendors folder, which\n"
            "adds Oclgrind), POCL_DEVICES (defaults to \"%s\").\n"
            "\n"
            "exit status: 0 all pairs within tolerance and reproducible pairs identical,\n"
            "1 some pair beyond tolerance or a reproducible pair not identical, 2 usage\n"
            "or run errors (a device that failed is reported, the others still compared).\n"
            "With no command, runs 'compare' with its defaults.\n",
            prog, XD_DEFAULT_POCL_DEVICES);
}

/* Make every device reachable without the user editing /etc: the build's
 * (or the installed) vendors folder holds the system ICDs plus Oclgrind.
 * An environment the user set wins. */
static void default_environment(void)
{
    struct stat sb;
    if (!getenv("OCL_ICD_VENDORS")) {
        if (stat(XD_DEFAULT_VENDORS_DIR, &sb) == 0 && S_ISDIR(sb.st_mode))
            setenv("OCL_ICD_VENDORS", XD_DEFAULT_VENDORS_DIR, 0);
        else if (stat(XD_INSTALLED_VENDORS_DIR, &sb) == 0 && S_ISDIR(sb.st_mode))
            setenv("OCL_ICD_VENDORS", XD_INSTALLED_VENDORS_DIR, 0);
    }
    if (!getenv("POCL_DEVICES")) setenv("POCL_DEVICES", XD_DEFAULT_POCL_DEVICES, 0);
}

int main(int argc, char **argv)
{
    proc_ignore_file_size_limit();
    default_environment();
    if (argc < 2) return cmd_compare(argc, argv); /* the default command */
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("crossdev-compare %s\n", xd_version_string());
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(cmd, "drivers") == 0) return cmd_drivers(argc - 1, argv + 1);
    if ((strcmp(cmd, "list") == 0 || strcmp(cmd, "run") == 0 || strcmp(cmd, "__probe") == 0) &&
        drivers_select(argc - 1, argv + 1) != CLI_GO_ON)
        return EXIT_USAGE;
    if (strcmp(cmd, "list") == 0) return cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "__probe") == 0) return cmd_probe_one(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "diff") == 0) return cmd_diff(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n", prog, cmd, prog);
    return EXIT_USAGE;
}
