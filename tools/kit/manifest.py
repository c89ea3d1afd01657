#!/usr/bin/env python3
"""The field kit's test manifest, from ctest's own description of the tests.

    ctest --show-only=json-v1 -L device:ID | manifest.py ID BUILD SOURCE MANIFEST COPYLIST

Runs where the kit is built (not on the target, which needs no Python).
Each test registered for device ID becomes one line of MANIFEST:
name, timeout, skip code, fail regex, will-fail, environment and command
(items separated by \\037), with the device id, the build and source paths
replaced by @DEVICE@, @KIT@ and @VENDORS@ placeholders that check fills in.
COPYLIST gets "SOURCE-PATH<TAB>KIT-PATH" for every file the tests need.
A path into the build or source tree that the kit does not map is an
error naming the test, so a new kind of test cannot leave the kit broken.
"""
import json
import os
import sys


def main():
    device, build, source, manifest_path, copy_path = sys.argv[1:6]
    tests = json.load(sys.stdin)["tests"]
    # (path, placeholder, how): where the kit puts what the tests use; "exact"
    # a path mapped as it is, "file" a file under path copied, "folder" a
    # script copied with every file beside it (the helpers it sources)
    mapping = [
        (os.path.join(build, "crossdev-compare"), "@KIT@/bin/crossdev-compare", "exact"),
        (os.path.join(build, "crossdev-bench"), "@KIT@/bin/crossdev-bench", "exact"),
        (os.path.join(build, "vendors"), "@VENDORS@", "exact"),
        # the tests' kernel-binary cache: a folder of the kit's own on the target, made on first use
        (os.path.join(build, "kernel-cache"), "@KIT@/kernel-cache", "exact"),
        (os.path.join(build, "tests"), "@KIT@/tests", "file"),
        (os.path.join(source, "tests"), "@KIT@/tests", "folder"),
    ]
    copies = {}
    lines = []
    # files the scripts read beside themselves (not named on their command
    # lines): test_train.sh trains the Keras model with every layer, the
    # same built with the functional API, a residual model (and one with
    # L2 regularizers and a learning-rate schedule), a Dropout before views and every activation
    script_data = ["fixtures/keras/all-layers.keras", "fixtures/keras/all-layers-functional.keras",
                   "fixtures/keras/residual.keras", "fixtures/keras/dropout-view.json",
                   "fixtures/keras/residual-l2-schedule.keras", "fixtures/keras/activations.keras"]

    def map_path(p):
        for path, repl, kind in mapping:
            if kind == "exact" and p == path:
                return repl
            if kind != "exact" and p.startswith(path + "/"):
                rel = os.path.relpath(p, path)
                if kind == "folder":
                    folder = os.path.dirname(p)
                    for f in sorted(os.listdir(folder)):
                        if os.path.isfile(os.path.join(folder, f)):
                            copies[os.path.join(folder, f)] = "tests/" + os.path.relpath(os.path.join(folder, f), path)
                    for d in script_data:
                        copies[os.path.join(path, d)] = "tests/" + d
                else:
                    copies[p] = "tests/" + rel
                return repl + "/" + rel
        return p

    for t in tests:
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        name = t["name"]

        def convert(text, what):
            if what == "environment" and "=" in text:
                key, value = text.split("=", 1)
                text = key + "=" + map_path(value)
            else:
                text = map_path(text)
            if build in text or source in text:
                sys.exit("manifest.py: test %s: %s '%s' points into the build or source tree where the kit "
                         "does not map it" % (name, what, text))
            return text.replace(device, "@DEVICE@")

        env = [convert(e, "environment") for e in props.get("ENVIRONMENT", [])]
        cmd = [convert(c, "command argument") for c in t["command"]]
        fields = [name.replace(device, "@DEVICE@"), str(int(props.get("TIMEOUT", 0))),
                  str(props.get("SKIP_RETURN_CODE", "")),
                  "|".join(props.get("FAIL_REGULAR_EXPRESSION", [])),
                  "1" if props.get("WILL_FAIL") else "0", "\037".join(env), "\037".join(cmd)]
        if any("\t" in f or "\n" in f for f in fields):
            sys.exit("manifest.py: test %s: a tab or newline in its properties" % name)
        lines.append("\t".join(fields))
    if not lines:
        sys.exit("manifest.py: no test carries the label device:%s" % device)
    with open(manifest_path, "w") as f:
        f.write("# name\ttimeout\tskip\tfail-regex\twill-fail\tenvironment\tcommand "
                "(made by tools/kit/manifest.py from ctest --show-only=json-v1)\n")
        f.write("\n".join(lines) + "\n")
    with open(copy_path, "w") as f:
        for src, dst in sorted(copies.items()):
            f.write("%s\t%s\n" % (src, dst))


if __name__ == "__main__":
    main()
