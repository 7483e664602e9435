#!/usr/bin/env python3
"""Mutation checks: does the test suite notice when a key check breaks?

Reads a list of mutations (tools/mutations.txt by default), each a precise
edit of one source file. For each: applies it to a scratch copy of the tree
(never to this working tree), builds only the targets the mutation names,
runs the CTest tests it names, records whether they failed ("killed") or
passed ("survived"), and puts the file back. A mutation that survives is a
promise no test holds; add a test until it is killed.

Run by hand, not in CI (a full run builds and runs for a while), at a low
priority when others use the machine:

    nice -n 19 tools/mutate.py -j2       # every mutation on the list
    tools/mutate.py rate.send-unchecked  # only these (names or prefixes)
    tools/mutate.py --check              # only validate the list

The scratch copy lives beside the repository (<repo>-mutate) unless
--scratch or KITH_MUTATE_DIR says otherwise. It is synced from the working
tree on every run (tracked and new files, uncommitted edits included), and
its build folder is kept, so later runs rebuild only what changed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class Mutation:
    def __init__(self, name, line):
        self.name = name
        self.line = line
        self.what = ""
        self.file = ""
        self.edits = []  # (before, after)
        self.targets = []
        self.tests = []


def unescape(text):
    """'\\n' is a newline and '\\\\' a backslash; everything else as written."""
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "n\\":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse(path):
    mutations = []
    current = None
    pending_before = None
    errors = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line.startswith("== "):
                if current and pending_before is not None:
                    errors.append(f"{path}:{current.line}: {current.name}: 'replace' without 'with'")
                current = Mutation(line[3:].strip(), number)
                mutations.append(current)
                pending_before = None
                continue
            key, sep, value = line.partition(":")
            if not sep or current is None:
                errors.append(f"{path}:{number}: expected '== name' or 'key: value'")
                continue
            # One space after the colon separates; the rest is the text, as is.
            value = value[1:] if value.startswith(" ") else value
            key = key.strip()
            if key == "what":
                current.what = value.strip()
            elif key == "file":
                current.file = value.strip()
            elif key == "replace":
                if pending_before is not None:
                    errors.append(f"{path}:{number}: two 'replace' lines in a row")
                pending_before = unescape(value)
            elif key == "with":
                if pending_before is None:
                    errors.append(f"{path}:{number}: 'with' without 'replace'")
                    continue
                current.edits.append((pending_before, unescape(value)))
                pending_before = None
            elif key == "targets":
                current.targets = value.split()
            elif key == "tests":
                current.tests = value.split()
            else:
                errors.append(f"{path}:{number}: unknown key '{key}'")
    if current and pending_before is not None:
        errors.append(f"{path}:{current.line}: {current.name}: 'replace' without 'with'")
    names = set()
    for m in mutations:
        where = f"{path}:{m.line}: {m.name}"
        if m.name in names:
            errors.append(f"{where}: the name is used twice")
        names.add(m.name)
        if not m.file:
            errors.append(f"{where}: no file")
        if not m.edits:
            errors.append(f"{where}: no replace/with")
        if not m.targets:
            errors.append(f"{where}: no targets")
        if not m.tests:
            errors.append(f"{where}: no tests")
        for before, after in m.edits:
            if before == after:
                errors.append(f"{where}: a replacement that changes nothing")
    return mutations, errors


def apply_edits(text, mutation):
    """The mutated text, or an error when a 'replace' is not found exactly once."""
    for before, after in mutation.edits:
        count = text.count(before)
        if count != 1:
            first = before.splitlines()[0] if before else before
            return None, f"'{first}' found {count} times in {mutation.file} (must be once)"
        text = text.replace(before, after, 1)
    return text, None


def tracked_files():
    out = subprocess.run(
        ["git", "-C", REPO, "ls-files", "-co", "--exclude-standard", "-z"],
        check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


def sync_scratch(scratch):
    """Makes the scratch tree's sources equal to the working tree's. Files
    that did not change keep their times, so ninja rebuilds only the rest."""
    manifest = os.path.join(scratch, ".mutate-files")
    previous = set()
    if os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as f:
            previous = set(f.read().split("\0")) - {""}
    files = tracked_files()
    copied = 0
    for rel in files:
        src = os.path.join(REPO, rel)
        dst = os.path.join(scratch, rel)
        if not os.path.isfile(src) or os.path.islink(src):
            continue
        with open(src, "rb") as f:
            data = f.read()
        if os.path.isfile(dst):
            with open(dst, "rb") as f:
                if f.read() == data:
                    continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(data)
        shutil.copymode(src, dst)
        copied += 1
    for rel in previous - set(files):
        gone = os.path.join(scratch, rel)
        if os.path.isfile(gone):
            os.remove(gone)
    with open(manifest, "w", encoding="utf-8") as f:
        f.write("\0".join(files))
    return copied


def run(cmd, log, cwd=None, timeout=None):
    with open(log, "ab") as out:
        out.write(("\n$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        try:
            return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            out.write(b"\n(timed out)\n")
            return 124


def configure(scratch, build, log):
    if os.path.exists(os.path.join(build, "build.ninja")):
        return True
    cmd = ["cmake", "-S", scratch, "-B", build, "-G", "Ninja",
           "-DCMAKE_BUILD_TYPE=RelWithDebInfo"]
    if shutil.which("ccache"):
        cmd.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    return run(cmd, log) == 0


def build_targets(build, targets, log, jobs):
    cmd = ["cmake", "--build", build, "--target", *targets]
    if jobs:
        cmd += ["-j", str(jobs)]
    return run(cmd, log) == 0


def run_tests(build, tests, log, timeout):
    regex = "^(" + "|".join(re.escape(t) for t in tests) + ")$"
    cmd = ["ctest", "--test-dir", build, "-R", regex, "--output-on-failure",
           "--no-tests=error", "--timeout", str(timeout)]
    return run(cmd, log)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutations to run (names or name prefixes)")
    parser.add_argument("--list", default=os.path.join(REPO, "tools", "mutations.txt"))
    parser.add_argument("--scratch", default=os.environ.get("KITH_MUTATE_DIR",
                                                             REPO.rstrip("/") + "-mutate"))
    parser.add_argument("--check", action="store_true", help="validate the list and stop")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip building and running the unmutated tests first")
    parser.add_argument("--report", help="also write the results as a Markdown table here")
    parser.add_argument("--timeout", type=int, default=600, help="per test, in seconds")
    parser.add_argument("-j", "--jobs", type=int, default=0, help="build jobs (ninja's default)")
    args = parser.parse_args()

    mutations, errors = parse(args.list)
    if args.names:
        chosen = [m for m in mutations if any(m.name == n or m.name.startswith(n)
                                              for n in args.names)]
        if not chosen:
            errors.append("no mutation matches " + " ".join(args.names))
        mutations = chosen
    scratch = os.path.abspath(args.scratch)
    if scratch == REPO or scratch.startswith(REPO + os.sep):
        errors.append("the scratch copy must be outside the working tree")
    # Each edit must apply to the working tree's file as it is now.
    for m in mutations:
        path = os.path.join(REPO, m.file)
        if not os.path.isfile(path):
            errors.append(f"{m.name}: no file {m.file}")
            continue
        with open(path, encoding="utf-8") as f:
            _, problem = apply_edits(f.read(), m)
        if problem:
            errors.append(f"{m.name}: {problem}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 2
    if args.check:
        print(f"{len(mutations)} mutations, all apply")
        return 0

    os.makedirs(scratch, exist_ok=True)
    build = os.path.join(scratch, "build")
    logs = os.path.join(scratch, "mutate-logs")
    os.makedirs(logs, exist_ok=True)
    copied = sync_scratch(scratch)
    print(f"scratch copy: {scratch} ({copied} files updated)")
    setup_log = os.path.join(logs, "setup.log")
    open(setup_log, "w").close()
    if not configure(scratch, build, setup_log):
        print(f"configuring the scratch build failed; see {setup_log}", file=sys.stderr)
        return 2

    if not args.no_baseline:
        targets = sorted({t for m in mutations for t in m.targets})
        tests = sorted({t for m in mutations for t in m.tests})
        print(f"baseline: building {len(targets)} targets, running {len(tests)} tests unmutated")
        if not build_targets(build, targets, setup_log, args.jobs):
            print(f"the unmutated build failed; see {setup_log}", file=sys.stderr)
            return 2
        if run_tests(build, tests, setup_log, args.timeout) != 0:
            print(f"the unmutated tests fail; see {setup_log}", file=sys.stderr)
            return 2

    results = []
    for index, m in enumerate(mutations, 1):
        path = os.path.join(scratch, m.file)
        with open(path, encoding="utf-8") as f:
            original = f.read()
        mutated, problem = apply_edits(original, m)
        log = os.path.join(logs, m.name + ".log")
        open(log, "w").close()
        started = time.monotonic()
        print(f"[{index}/{len(mutations)}] {m.name} ... ", end="", flush=True)
        if problem:
            outcome = "not applied"
        else:
            try:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(mutated)
                if not build_targets(build, m.targets, log, args.jobs):
                    outcome = "does not build"
                else:
                    outcome = "killed" if run_tests(build, m.tests, log, args.timeout) else "SURVIVED"
            finally:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(original)
        print(f"{outcome} ({time.monotonic() - started:.0f} s)", flush=True)
        results.append((m, outcome))

    # The restored files leave the scratch build ready for the next run.
    survivors = [m for m, outcome in results if outcome != "killed"]
    print()
    print(f"{len(results) - len(survivors)} of {len(results)} mutations killed")
    for m, outcome in results:
        if outcome != "killed":
            print(f"  {outcome}: {m.name} ({m.file}; tests: {' '.join(m.tests)}); "
                  f"log: {os.path.join(logs, m.name + '.log')}")
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write("| mutation | what breaks | tests | result |\n|---|---|---|---|\n")
            for m, outcome in results:
                f.write(f"| `{m.name}` | {m.what} | {', '.join(m.tests)} | {outcome} |\n")
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
