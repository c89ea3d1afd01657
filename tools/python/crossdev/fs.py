"""Publishing a trace as the C writer does (host/common/fs.c): it is built
in OUT.tmp-PID/ and renamed to OUT only when complete, never replacing
anything that appeared at OUT meanwhile.

Python's os.rename replaces an empty directory silently and os.replace
likewise, so the rename is renameat2(RENAME_NOREPLACE) itself, called
through ctypes (glibc >= 2.28 has the wrapper; older ones get the raw
system call): the kernel checks and renames in one step, so there is no
window between a test for OUT and the rename.  A filesystem without
RENAME_NOREPLACE (EINVAL) is refused rather than published racily.
"""
import ctypes
import errno
import os
import platform
import shutil

__all__ = ["temp_dir_for", "make_temp_dir", "rename_noreplace", "remove_tree"]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "ppc64le": 357, "s390x": 347}

_libc = ctypes.CDLL(None, use_errno=True)


def temp_dir_for(out: str) -> str:
    return f"{out}.tmp-{os.getpid()}"


def make_temp_dir(out: str) -> str:
    """OUT.tmp-PID, made new (an existing one is an error); its parent must exist."""
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"{out}: the parent folder {parent} does not exist")
    if os.path.lexists(out):
        raise FileExistsError(f"{out}: exists already (a trace is never written over)")
    tmp = temp_dir_for(out)
    os.mkdir(tmp)
    return tmp


def _renameat2(src: bytes, dst: bytes) -> int:
    fn = getattr(_libc, "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        return fn(_AT_FDCWD, src, _AT_FDCWD, dst, _RENAME_NOREPLACE)
    nr = _SYS_RENAMEAT2.get(platform.machine())
    if nr is None:
        ctypes.set_errno(errno.ENOSYS)
        return -1
    _libc.syscall.restype = ctypes.c_long
    return _libc.syscall(ctypes.c_long(nr), ctypes.c_int(_AT_FDCWD), ctypes.c_char_p(src), ctypes.c_int(_AT_FDCWD),
                         ctypes.c_char_p(dst), ctypes.c_uint(_RENAME_NOREPLACE))


def rename_noreplace(src: str, dst: str) -> None:
    """Renames src to dst unless dst exists (FileExistsError), atomically."""
    if _renameat2(os.fsencode(src), os.fsencode(dst)) == 0:
        return
    e = ctypes.get_errno()
    if e == errno.EEXIST:
        raise FileExistsError(e, f"{dst}: cannot publish the trace: it exists already")
    raise OSError(e, f"{dst}: cannot publish the trace: {os.strerror(e)}")


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
