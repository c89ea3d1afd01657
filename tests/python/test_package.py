"""Unit tests of the crossdev package's parts that need no framework
(tests/scripts/test_python_trace.sh runs them with /usr/bin/python3):
the JSON text against libjansson itself (the library the C writer uses),
the .npy header against numpy.save, both XXH3 backends, the snapshot
schedule step by step against the planned one, publication without
replacing, and that an exception publishes nothing."""
import ctypes
import ctypes.util
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from crossdev import fs, hashing, jsontext, npy, schedule
from crossdev.trace import TraceWriter, optimizer_record


class JsonText(unittest.TestCase):
    DOCS = [
        {"a": 0.001, "b": 1e-07, "c": 1e20, "d": -0.0, "e": 3.0, "f": 0.1, "g": 2.5e-05, "h": 1e-300,
         "i": 123456789012345678.0, "j": 5e-324, "k": 1.7976931348623157e308, "l": -12.5},
        {"s": "tab\tnl\ncr\rbs\\q\"sl/\x01\x1f\x7fé€𝄞", "e": [], "o": {}, "n": None, "t": True, "f": False},
        {"nest": [[1, [2, {"x": [-9223372036854775808, 9223372036854775807]}]], {"y": {"z": []}}]},
    ]

    def jansson(self, doc):
        lib = ctypes.CDLL(ctypes.util.find_library("jansson") or "libjansson.so.4")
        lib.json_loads.restype = ctypes.c_void_p
        lib.json_loads.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.json_dumps.restype = ctypes.c_void_p
        lib.json_dumps.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        lib.json_delete.argtypes = [ctypes.c_void_p]
        root = lib.json_loads(json.dumps(doc).encode(), 0, None)
        self.assertTrue(root)
        flags = 1 | 0x100 | (17 << 11)  # JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)
        p = lib.json_dumps(root, flags)
        text = ctypes.string_at(p).decode()
        ctypes.CDLL(None).free(ctypes.c_void_p(p))
        lib.json_delete(ctypes.c_void_p(root))  # refcount 1: json_decref's work
        return text + "\n"

    def test_same_text_as_jansson(self):
        for doc in self.DOCS:
            self.assertEqual(jsontext.dumps(doc), self.jansson(doc))

    def test_refuses_what_has_no_spelling(self):
        for bad in (float("nan"), float("inf"), 2 ** 63):
            with self.assertRaises(ValueError):
                jsontext.dumps({"x": bad})


class Npy(unittest.TestCase):
    def test_same_bytes_as_numpy_save(self):
        for a in (np.zeros((2, 3), np.float32), np.arange(7, dtype=np.int32), np.ones((1, 2, 3, 4), np.float32),
                  np.zeros((123456, 0), np.float32), np.float32(2.5).reshape(())):
            buf = io.BytesIO()
            np.save(buf, a)
            self.assertEqual(npy.npy_bytes(a), buf.getvalue(), a.shape)

    def test_refuses_other_dtypes(self):
        with self.assertRaises(TypeError):
            npy.npy_bytes(np.zeros(2, np.float64))


class Hashing(unittest.TestCase):
    def test_backends_agree(self):
        rng = np.random.default_rng(1)
        arrays = [rng.standard_normal(n).astype(np.float32) for n in (0, 1, 7, 1000, 65537)]
        code = ("import sys, numpy as np; from crossdev import hashing; "
                "a = np.load(sys.argv[1]); print(hashing.backend(), hashing.tensor_hash(a))")
        for a in arrays:
            with tempfile.NamedTemporaryFile(suffix=".npy") as f:
                np.save(f.name, a)
                env = dict(os.environ, CROSSDEV_HASH_BACKEND="libxxhash")
                out = subprocess.run([sys.executable, "-c", code, f.name], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()
            self.assertEqual(out[0], "libxxhash")
            self.assertEqual(int(out[1]), hashing.tensor_hash(a))

    def test_stream_is_the_concatenation(self):
        s = hashing.Xxh3Stream()
        s.update(b"abc")
        s.update(np.arange(3, dtype=np.int32))
        self.assertEqual(s.intdigest(), hashing.xxh3_64(b"abc" + np.arange(3, dtype=np.int32).tobytes()))


class BatchHash(unittest.TestCase):
    """crossdev.hashing.batch_hash: the same bytes however a framework holds the batch."""

    def setUp(self):
        rng = np.random.default_rng(5)
        self.x = rng.random((4, 3, 2, 2), np.float32)  # N, H, W, C
        self.y = np.array([3, 0, 9, 3])

    def test_definition(self):
        h = hashing.Xxh3Stream()
        h.update(np.ascontiguousarray(self.x, "<f4"))
        h.update(self.y.astype("<i4"))
        self.assertEqual(hashing.batch_hash(self.x, self.y), h.intdigest())

    def test_layouts_and_label_forms_agree(self):
        want = hashing.batch_hash(self.x, self.y)
        self.assertEqual(hashing.batch_hash(self.x.transpose(0, 3, 1, 2).copy(), self.y, "NCHW"), want)
        self.assertEqual(hashing.batch_hash(self.x.astype(np.float64), self.y.astype(np.uint8)), want)
        self.assertEqual(hashing.batch_hash(self.x, np.eye(10)[self.y]), want)  # one-hot
        self.assertEqual(hashing.batch_hash(self.x, self.y.astype(np.float32).reshape(-1, 1)), want)

    def test_what_differs(self):
        want = hashing.batch_hash(self.x, self.y)
        self.assertNotEqual(hashing.batch_hash(self.x[::-1], self.y[::-1]), want)  # another order
        self.assertNotEqual(hashing.batch_hash(self.x * 255, self.y), want)  # other scaling
        soft = np.full((4, 10), 0.1)
        self.assertEqual(hashing.batch_labels(soft).dtype, np.dtype("<f4"))  # soft labels stay values
        with self.assertRaises(ValueError):
            hashing.batch_hash(self.x, self.y, "CHWN")


class Schedule(unittest.TestCase):
    def test_step_by_step_equals_planned(self):
        for total in list(range(0, 40)) + [99, 100, 101, 102, 499, 500, 501, 502, 1000, 1001, 1875, 2001]:
            for at, every in ((None, 0), (None, 7), ([4, 9], 0), ([4, 9], 3)):
                if at and max(at) > total:
                    continue
                s = schedule.Schedule(at, every)
                online = sorted({k for k in range(total + 1) if s.wants(k)} | {total})
                self.assertEqual(online, schedule.snapshot_schedule(total, at, every), (total, at, every))

    def test_documented_default(self):
        self.assertEqual(schedule.snapshot_schedule(1001), [0, 1, 2, 3, 5, 10, 20, 50, 100, 101, 500, 501, 1000, 1001])


class Publication(unittest.TestCase):
    def writer(self, out):
        return TraceWriter(out, model="m", seed=1, batch=2, tensors=["w"],
                           optimizer=optimizer_record("sgd-pytorch", lr=0.1), data={"name": "d", "synthetic": True},
                           device={"id": "test/cpu"})

    def test_never_replaces(self):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "b"))
            os.mkdir(os.path.join(d, "a"))
            with self.assertRaises(FileExistsError):
                fs.rename_noreplace(os.path.join(d, "a"), os.path.join(d, "b"))
            out = os.path.join(d, "t")
            w = self.writer(out)
            w.init({"w": np.zeros(3, np.float32)})
            os.mkdir(out)  # appears while the run trains
            with self.assertRaises(FileExistsError):
                w.close()
            self.assertEqual(sorted(os.listdir(d)), ["a", "b", "t"])
            self.assertEqual(os.listdir(out), [])

    def test_exception_publishes_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "t")
            with self.assertRaises(RuntimeError):
                with self.writer(out) as w:
                    w.init({"w": np.zeros(3, np.float32)})
                    w.step(0.5, {"w": np.ones(3, np.float32)}, [0, 1])
                    raise RuntimeError("training failed")
            self.assertEqual(os.listdir(d), [])

    def test_published(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "t")
            with self.writer(out) as w:
                w.init({"w": np.zeros(3, np.float32)})
                w.step(float("nan"), {"w": np.ones(3, np.float32)}, [0, 1])
            with open(os.path.join(out, "trace.json")) as f:
                t = json.load(f)
            self.assertEqual((t["steps"], t["loss"], t["snapshots"], t["mode"]), (1, [None], [0, 1], "fast"))
            self.assertEqual(np.load(os.path.join(out, "batches.npy")).tolist(), [[0, 1]])


if __name__ == "__main__":
    unittest.main(verbosity=1)
