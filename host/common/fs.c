/* Files, the one place: atomic writes, whole-file reads, folders, paths.
 * (libuv's src/unix/fs.c: platform calls behind one small file.) */
#define _GNU_SOURCE /* renameat2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

xd_status xd_path(char *out, size_t cap, xd_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < cap) return XD_OK;
    if (cap) out[0] = '\0';
    return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "a path built from '%s' is longer than %zu bytes", fmt, cap - 1);
}

xd_status xd_read_file(const char *path, char **data, size_t *len, xd_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return xd_error_set(err, XD_IO, 0, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 16384;
            char *g = realloc(buf, cap);
            if (!g) {
                free(buf);
                fclose(f);
                return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory reading it", path);
            }
            buf = g;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r < 4096) break;
    }
    int bad = ferror(f);
    int e = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return xd_error_set(err, XD_IO, 0, "%s: read failed: %s", path, strerror(e));
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return XD_OK;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) { /* should not happen for regular files; avoid spinning */
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void xd_sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[XD_PATH_MAX];
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) return;
    if (n == 0) {
        snprintf(dir, sizeof dir, ".");
    } else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

xd_status xd_write_file_staged(const char *path, const void *const *parts, const size_t *sizes, size_t nparts,
                               xd_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return xd_error_set(err, XD_IO, 0, "%s: cannot create it: %s", path, strerror(errno));
    for (size_t i = 0; i < nparts; ++i)
        if (write_all(fd, parts[i], sizes[i]) != 0) {
            int e = errno;
            close(fd);
            return xd_error_set(err, XD_IO, 0, "%s: write failed: %s", path, strerror(e));
        }
    if (close(fd) != 0) return xd_error_set(err, XD_IO, 0, "%s: close failed: %s", path, strerror(errno));
    return XD_OK;
}

xd_status xd_sync_fs(const char *path, xd_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return xd_error_set(err, XD_IO, 0, "%s: cannot open it to sync: %s", path, strerror(errno));
    int rc = syncfs(fd), e = errno;
    close(fd);
    return rc == 0 ? XD_OK : xd_error_set(err, XD_IO, 0, "%s: syncfs failed: %s", path, strerror(e));
}

xd_status xd_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, size_t nparts,
                               xd_error *err)
{
    char tmp[XD_PATH_MAX];
    xd_status st = xd_path(tmp, sizeof tmp, err, "%s.tmp.%ld", path, (long)getpid());
    if (st != XD_OK) return st;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    /* the temporary name is ours, not the user's: the message names the path asked for */
    if (fd < 0) return xd_error_set(err, XD_IO, 0, "%s: cannot create it: %s", path, strerror(errno));
    const char *what = "write";
    for (size_t i = 0; i < nparts; ++i)
        if (write_all(fd, parts[i], sizes[i]) != 0) goto fail;
    what = "fsync";
    if (fsync(fd) != 0) goto fail;
    what = "close";
    int rc = close(fd);
    fd = -1;
    if (rc != 0) goto fail;
    what = "rename";
    if (rename(tmp, path) != 0) goto fail;
    xd_sync_parent_dir(path);
    return XD_OK;
fail:
    st = xd_error_set(err, XD_IO, 0, "%s: %s failed: %s", path, what, strerror(errno));
    if (fd >= 0) close(fd);
    unlink(tmp);
    return st;
}

/* Writes the parts to an open descriptor that is not a regular file. */
static xd_status write_through(int fd, const char *path, const void *const *parts, const size_t *sizes, size_t nparts,
                               xd_error *err)
{
    for (size_t i = 0; i < nparts; ++i)
        if (write_all(fd, parts[i], sizes[i]) != 0)
            return xd_error_set(err, XD_IO, 0, "%s: write failed: %s", path, strerror(errno));
    return XD_OK;
}

xd_status xd_write_file_user(const char *path, const void *const *parts, const size_t *sizes, size_t nparts,
                             xd_error *err)
{
    if (strcmp(path, "-") == 0) {
        fflush(stdout); /* whatever the caller printed comes first */
        return write_through(STDOUT_FILENO, "standard output", parts, sizes, nparts, err);
    }
    struct stat sb, lsb;
    if (stat(path, &sb) != 0 || lstat(path, &lsb) != 0) return xd_write_file_atomic(path, parts, sizes, nparts, err);
    if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        /* a FIFO, a terminal, /dev/stdout: renaming over it would replace the device with a file */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return xd_error_set(err, XD_IO, 0, "%s: cannot open it for writing: %s", path, strerror(errno));
        xd_status st = write_through(fd, path, parts, sizes, nparts, err);
        if (close(fd) != 0 && st == XD_OK)
            st = xd_error_set(err, XD_IO, 0, "%s: close failed: %s", path, strerror(errno));
        return st;
    }
    if (S_ISLNK(lsb.st_mode) && S_ISREG(sb.st_mode)) {
        /* the link stays a link: its target is what gets replaced */
        char *target = realpath(path, NULL);
        if (!target) return xd_error_set(err, XD_IO, 0, "%s: cannot resolve the link: %s", path, strerror(errno));
        xd_status st = xd_write_file_atomic(target, parts, sizes, nparts, err);
        free(target);
        return st;
    }
    return xd_write_file_atomic(path, parts, sizes, nparts, err);
}

xd_status xd_mkdir_new(const char *path, xd_error *err)
{
    if (mkdir(path, 0777) == 0) return XD_OK;
    return xd_error_set(err, errno == EEXIST ? XD_EXISTS : XD_IO, 0, "%s: cannot create directory: %s", path,
                        strerror(errno));
}

xd_status xd_rename_noreplace(const char *from, const char *to, xd_error *err)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return XD_OK;
    return xd_error_set(err, errno == EEXIST ? XD_EXISTS : XD_IO, 0, "%s: cannot publish the trace: %s", to,
                        strerror(errno));
}

void xd_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char sub[XD_PATH_MAX];
            if (xd_path(sub, sizeof sub, NULL, "%s/%s", path, e->d_name) != XD_OK) continue;
            struct stat sb;
            if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) xd_remove_tree(sub);
            else unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

int xd_path_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}
