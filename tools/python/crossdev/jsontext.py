"""JSON text exactly as crossdev's C writer makes it (jansson's json_dumps
with JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17), then a
newline), so that the same document gives the same bytes:

- objects and arrays one item a line, indented one space per level; empty
  ones as {} and []; ": " after a key, "," ending a line;
- integers in decimal; reals as C's "%.17g" (enough to read back the same
  double) with ".0" added when that looks like an integer, and the
  exponent without "+" or leading zeros (1e-07 -> 1e-7, 1e+20 -> 1e20);
- strings as UTF-8, escaping only '"', '\\' and control characters (\\b \\f
  \\n \\r \\t, others \\u00XX in capitals); '/' and non-ASCII as they are.

NaN and infinities have no JSON spelling: the caller writes null (the
trace's rule), and dumps() refuses them.

    >>> dumps({"lr": 0.001, "eps": 1e-07, "ok": True})
    '{\\n "lr": 0.001,\\n "eps": 9.9999999999999995e-8,\\n "ok": true\\n}\\n'
"""
import math
import re

__all__ = ["dumps", "real_text"]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def real_text(x: float) -> str:
    """A double as jansson prints it with 17 significant digits."""
    if not math.isfinite(x):
        raise ValueError(f"{x!r} has no JSON spelling (write null)")
    s = "%.17g" % x
    if "." not in s and "e" not in s:
        s += ".0"
    if "e" in s:
        mant, exp = s.split("e")
        sign = "-" if exp.startswith("-") else ""
        s = mant + "e" + sign + (exp.lstrip("+-").lstrip("0") or "0")
    return s


def _string(s: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(), "\\u%04X" % ord(m.group())), s) + '"'


def _dump(v, depth: int, out: list):
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        if not -2 ** 63 <= v < 2 ** 63:
            raise ValueError(f"{v}: beyond a 64-bit signed integer, which readers of traces take (write a string)")
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(real_text(v))
    elif isinstance(v, str):
        out.append(_string(v))
    elif isinstance(v, dict):
        _container("{", "}", [(_string(str(k)) + ": ", x) for k, x in v.items()], depth, out)
    elif isinstance(v, (list, tuple)):
        _container("[", "]", [("", x) for x in v], depth, out)
    else:
        raise TypeError(f"cannot write {type(v).__name__} as JSON")


def _container(open_, close, items, depth, out):
    if not items:
        out.append(open_ + close)
        return
    out.append(open_)
    for i, (prefix, x) in enumerate(items):
        out.append("\n" + " " * (depth + 1) + prefix)
        _dump(x, depth + 1, out)
        if i + 1 < len(items):
            out.append(",")
    out.append("\n" + " " * depth + close)


def dumps(doc) -> str:
    """The document's text as crossdev writes it, newline included."""
    out = []
    _dump(doc, 0, out)
    return "".join(out) + "\n"
