"""The machine a framework ran on, for trace.json's `device` and `producer`."""
import platform
import re

__all__ = ["cpu_name", "slug"]


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def slug(s: str) -> str:
    """A name as a device id's part: lower case, runs of other characters as '-'."""
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")
