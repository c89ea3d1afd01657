"""Records the training of an unchanged script as crossdev traces.

    python -m crossdev.record --out DIR [--seed S] [--data-name NAME] [--snapshot-every K] -- script.py ARGS...

Runs script.py as `python script.py ARGS...` would (its own __main__,
argv and exit status), with Keras's Model.fit recording itself: every fit
gets a crossdev.keras.TraceCallback, the first writing DIR, the next
DIR-fit2, DIR-fit3, ...; fit's validation_data, when given, is evaluated at
the end (test loss and accuracy compared by diff).  Keras on any backend,
tf.keras included (it is Keras 3 from TensorFlow 2.16 on).  Each step's
batch is recorded by content (batch_hashes: what it trained on, fit's own
shuffle included) and, where fit was given arrays, by its training-set
indices (found by content); each layer's output and weight gradient are
hashed per step (op_hashes; --no-ops leaves them out), so that diff names
the first op where two runs part.

PyTorch: a training loop has no fit to hook; PyTorch 2.0 and later let an
optimizer report its steps (Optimizer.register_step_post_hook), older ones
do not, and crossdev.record says so: record such a loop with
crossdev.torch.Recorder.

Exit status: the script's; 2 when it trained nothing this could record.
"""
import argparse
import importlib.abc
import importlib.util
import os
import runpy
import sys
from typing import Callable, List

__all__ = ["main"]


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Calls patch(module) right after `name` is first imported, whoever
    imports it (the script, or TensorFlow for tf.keras)."""

    def __init__(self, name: str, patch: Callable):
        self.name, self.patch, self.busy = name, patch, False

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.busy = False
        if spec is None or spec.loader is None:
            return spec
        loader, patch = spec.loader, self.patch

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                patch(module)

        spec.loader = Loader()
        return spec


def _arrays(args, kwargs):
    """fit's (x, y) when both are arrays (numpy's or a framework's that
    numpy reads), else None: datasets and generators have no indices."""
    x = args[0] if args else kwargs.get("x")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if x is None or y is None or not hasattr(x, "shape") or not hasattr(y, "shape") or len(x) != len(y):
        return None
    return x, y


class _Recording:
    def __init__(self, args):
        self.args, self.outs = args, []  # type: List[str]

    def out_dir(self) -> str:
        n = len(self.outs) + 1
        return self.args.out if n == 1 else f"{self.args.out}-fit{n}"

    def patch_keras(self, keras_module) -> None:
        model_cls = keras_module.Model
        fit, rec = model_cls.fit, self

        def recorded_fit(model, *a, **kw):
            from .keras import TraceCallback
            out = rec.out_dir()
            val = kw.get("validation_data")
            cb = TraceCallback(out, seed=rec.args.seed, data_name=rec.args.data_name,
                               snapshot_every=rec.args.snapshot_every, ops=not rec.args.no_ops,
                               evaluate=tuple(val[:2]) if isinstance(val, (tuple, list)) and len(val) >= 2 else None,
                               train_data=_arrays(a, kw))
            kw["callbacks"] = list(kw.get("callbacks") or []) + [cb]
            history = fit(model, *a, **kw)
            rec.outs.append(out)
            print(f"crossdev.record: model.fit -> {out}", file=sys.stderr)
            return history

        model_cls.fit = recorded_fit

    def patch_torch(self, torch_module) -> None:
        if not hasattr(torch_module.optim.Optimizer, "register_step_post_hook"):
            print(f"crossdev.record: PyTorch {torch_module.__version__} has no Optimizer.register_step_post_hook "
                  f"(PyTorch 2.0 and later): a PyTorch loop is not recorded here; record it with "
                  f"crossdev.torch.Recorder (README, \"Your framework's runs\")", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crossdev.record", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Then: crossdev-compare diff DIR-A DIR-B")
    ap.add_argument("--out", required=True, help="the first fit's trace (later fits: OUT-fit2, ...)")
    ap.add_argument("--seed", type=int, default=None,
                    help="the seed the script uses, recorded (default: Keras's global seed if set, else none)")
    ap.add_argument("--data-name", default="model.fit data", help="what the data is (trace.json's data.name)")
    ap.add_argument("--snapshot-every", type=int, default=0, help="snapshots every K steps (besides the default)")
    ap.add_argument("--no-ops", action="store_true",
                    help="no per-op hashes (layer outputs and weight gradients: op_hashes; on by default)")
    ap.add_argument("script", help="the training script, as you run it")
    ap.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")
    args = ap.parse_args(argv)
    if os.path.exists(args.out):
        print(f"crossdev.record: --out {args.out}: exists (a trace is never overwritten)", file=sys.stderr)
        return 2
    rec = _Recording(args)
    sys.meta_path.insert(0, _PatchOnImport("keras", rec.patch_keras))
    sys.meta_path.insert(0, _PatchOnImport("torch", rec.patch_torch))
    for name, patch in (("keras", rec.patch_keras), ("torch", rec.patch_torch)):
        if name in sys.modules:  # imported before us (sitecustomize): patched now
            patch(sys.modules[name])
    sys.argv = [args.script] + args.script_args
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
    code = 0
    try:
        runpy.run_path(args.script, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if code == 0 and not rec.outs:
        print(f"crossdev.record: {args.script} ran no Model.fit: nothing recorded", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
