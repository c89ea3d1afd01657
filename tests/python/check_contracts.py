"""The Python twins against the golden files of tests/fixtures/contracts
(tests/test_contracts.c holds the C side to the same files):

- crossdev.philox: Random123's Philox4x32-10 known answers, crossdev's
  streams word by word, the dropout keep threshold, and every dropout mask
  (its stream from the layer and the step, the mask bit for bit);
- crossdev.schedule: every snapshot schedule, planned ahead
  (snapshot_schedule) and asked step by step (Schedule.wants), and the
  refusals;
- crossdev.spec: the model_spec of every valid Keras fixture
  (tests/fixtures/keras/manifest.json) as keras_spec makes it, in the text
  crossdev's trace writer gives it (crossdev.jsontext), against the golden
  spec's.  keras_spec reads a live model; here it gets a stand-in that
  answers from the fixture's saved config (what model.get_config() and the
  compiled optimizer's get_config() return) and Keras's own output shape
  (the manifest's), under a `keras` module saying the JAX backend the
  fixtures were made with: no Keras needed.

philox.json's init_* draws have no Python twin (the package takes initial
weights from traces) and are the C side's alone.
usage: check_contracts.py CONTRACTS_DIR KERAS_FIXTURES_DIR   (exit 1 on any failure)
"""
import difflib
import json
import os
import struct
import sys
import types
import zipfile

import numpy as np

from crossdev import jsontext
from crossdev.philox import dropout_keep, dropout_scale, dropout_stream, philox4x32_10, philox_words
from crossdev.schedule import Schedule, snapshot_schedule
from crossdev.spec import keras_spec

PASSED, FAILED = [0], [0]


def check(ok: bool, what: str) -> bool:
    if ok:
        PASSED[0] += 1
    else:
        FAILED[0] += 1
        print("FAIL:", what)
    return ok


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def hexes(values) -> list:
    return [int(v, 16) for v in values]


def float_bits(x) -> int:
    return struct.unpack("<I", struct.pack("<f", float(x)))[0]


# ---- Philox ------------------------------------------------------------------------------
def check_philox(dir_: str) -> None:
    for i, v in enumerate(load(os.path.join(dir_, "philox-kat.json"))["vectors"]):
        got = [int(w) for w in philox4x32_10(hexes(v["counter"]), hexes(v["key"]))[0]]
        check(got == hexes(v["out"]), f"philox KAT {i}: got {[hex(w) for w in got]}, Random123 says {v['out']}")
    doc = load(os.path.join(dir_, "philox.json"))
    for s in doc["streams"]:
        want = hexes(s["words"])
        got = [int(w) for w in philox_words(int(s["seed"], 16), int(s["stream"], 16), len(want))]
        check(got == want, f"philox.json: seed {s['seed']} stream {s['stream']}: words {[hex(w) for w in got]}")
    for k in doc["keep_scale"]:
        got = float_bits(dropout_scale(k["rate"]))
        check(got == int(k["keep"], 16), f"philox.json: dropout_scale({k['rate']!r}) = {got:#010x}, C {k['keep']}")


def check_dropout(dir_: str) -> None:
    for c in load(os.path.join(dir_, "dropout.json"))["cases"]:
        seed, layer, step, n, rate = int(c["seed"], 16), c["layer"], c["step"], c["n"], c["rate"]
        what = f"dropout.json: seed {c['seed']} layer {layer} step {step}"
        check(dropout_stream(layer, step) == int(c["stream"], 16),
              f"{what}: stream {dropout_stream(layer, step):#x}, C {c['stream']}")
        check(float_bits(dropout_scale(rate)) == int(c["keep"], 16), f"{what}: keep threshold")
        keep = dropout_keep(seed, layer, step, n, rate)
        mask = np.packbits(keep, bitorder="little").tobytes().hex()
        if not check(mask == c["mask"] and int(keep.sum()) == c["kept"],
                     f"{what}: mask of {n} ({int(keep.sum())} kept, C {c['kept']})"):
            want = np.unpackbits(np.frombuffer(bytes.fromhex(c["mask"]), np.uint8), bitorder="little")[:n]
            print("  first elements that differ:", np.flatnonzero(want != keep)[:10].tolist())


# ---- snapshot schedules --------------------------------------------------------------------------
def check_schedules(dir_: str) -> None:
    for c in load(os.path.join(dir_, "schedules.json"))["cases"]:
        steps, at, every = c["steps"], c["at"], c["every"]
        what = f"schedules.json: {steps} steps, at {at}, every {every}"
        if "refused" in c:
            try:
                snapshot_schedule(steps, at, every)
                check(False, f"{what}: not refused (C: {c['refused']})")
            except ValueError as e:
                check(c["refused"] in str(e), f"{what}: refused with '{e}', C '{c['refused']}'")
            continue
        planned = snapshot_schedule(steps, at, every)
        check(planned == c["schedule"], f"{what}: planned {planned}, C {c['schedule']}")
        sched = Schedule(at, every)
        online = [s for s in range(steps) if sched.wants(s)] + [steps]
        check(online == c["schedule"], f"{what}: step by step {online}, C {c['schedule']}")


# ---- model specs -----------------------------------------------------------------------------------
class _Shaped:
    def __init__(self, shape):
        self.shape = tuple(shape)


class _Loss:
    def __init__(self, from_logits: bool):
        self.from_logits = from_logits


class FixtureModel:
    """What keras_spec asks of a Keras model, answered from a fixture's
    saved config: name, get_config(), inputs/outputs shapes, loss and the
    compiled optimizer (an object of the optimizer's class name whose
    get_config() is the saved one)."""

    def __init__(self, doc: dict, output: list):
        self._config = doc["config"]
        self.name = self._config["name"]
        first = self._config["layers"][0]
        shape = first["config"]["batch_shape"] if first["class_name"] == "InputLayer" else \
            doc["build_config"]["input_shape"]
        self.inputs, self.outputs = [_Shaped(shape)], [_Shaped([None] + list(output))]
        compiled = doc.get("compile_config") or {}
        loss = compiled.get("loss")
        self.loss = _Loss(bool(loss["config"].get("from_logits", False))) if isinstance(loss, dict) else loss
        opt = compiled.get("optimizer")
        if isinstance(opt, dict):
            saved = opt["config"]
            self.optimizer = type(opt["class_name"], (), {"get_config": lambda self: dict(saved)})()
        else:
            self.optimizer = None

    def get_config(self) -> dict:
        return self._config


def fixture_config(path: str) -> dict:
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    return load(path)


def check_model_specs(dir_: str, keras_dir: str) -> None:
    stub = types.ModuleType("keras")  # the fixtures' backend; crossdev's C reads them so
    stub.backend = types.SimpleNamespace(backend=lambda: "jax")
    sys.modules["keras"] = stub
    valid = load(os.path.join(keras_dir, "manifest.json"))["valid"]
    names = set()
    for entry in valid:
        name = os.path.basename(entry["expected"])
        names.add(name + ".json")
        model = FixtureModel(fixture_config(os.path.join(keras_dir, entry["file"])), entry["layers"][-1]["output"])
        check(bool(getattr(model.loss, "from_logits", False)) == entry["from_logits"],
              f"{entry['file']}: the stand-in's loss from_logits is the manifest's")
        mine = jsontext.dumps(keras_spec(model, source=entry["file"]))
        golden = jsontext.dumps(load(os.path.join(dir_, "model_spec", name + ".json")))
        if not check(mine == golden, f"model_spec/{name}.json: keras_spec({entry['file']}) differs"):
            diff = difflib.unified_diff(golden.splitlines(), mine.splitlines(), "C (golden)", "crossdev.spec",
                                        lineterm="", n=2)
            print("\n".join(list(diff)[:40]))
    files = set(os.listdir(os.path.join(dir_, "model_spec")))
    check(files == names, f"model_spec/ holds one spec per valid fixture: extra {sorted(files - names)}, "
          f"missing {sorted(names - files)}")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    dir_, keras_dir = sys.argv[1], sys.argv[2]
    check_philox(dir_)
    check_dropout(dir_)
    check_schedules(dir_)
    check_model_specs(dir_, keras_dir)
    print(f"check_contracts: {PASSED[0]} passed, {FAILED[0]} failed")
    return 1 if FAILED[0] else 0


if __name__ == "__main__":
    sys.exit(main())
