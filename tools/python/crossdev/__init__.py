"""crossdev's Python side: write crossdev traces from PyTorch and Keras runs,
and replay crossdev traces in those frameworks, so that `crossdev-compare
diff` finds where two runs part (README, "Your framework's runs").

    crossdev.trace     TraceWriter: trace format v1, byte for byte as the C writer
    crossdev.torch     Recorder for a PyTorch training loop (imports torch)
    crossdev.keras     TraceCallback for Keras's model.fit (imports keras)
    crossdev.replay    python3 -m crossdev.replay TRACE --framework torch|keras --out DIR
    crossdev.record    python -m crossdev.record --out DIR -- script.py ARGS: an unchanged script's Model.fit recorded
    crossdev.layout    Keras <-> crossdev names and layouts
    crossdev.philox    crossdev's Philox stream and dropout masks, in numpy
    crossdev.data      the IDX or .npz data a trace names, decoded as crossdev decodes it
    crossdev.spec      crossdev's model spec of a Keras model; the shapes of a spec's layers
    crossdev.seeding   what the random generators held when a recording began (producer.seeding)

Hard dependencies: numpy and xxhash; torch and keras only in their modules.
"""
__version__ = "0.2.0"
