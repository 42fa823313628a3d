"""Runs every benchmark, one after another, and writes `benchmarks/RESULTS.md`.

    python benchmarks/run_all.py                      # all: hours on 2 CPUs (CIFAR-10 alone trains 100 minutes)
    python benchmarks/run_all.py --only throughput memory

Each benchmark runs as its own process (`python benchmarks/bench_<name>.py
<arguments>`) with the arguments listed in `BENCHMARKS`: shorter than the
scripts' own defaults where a short run still says something; the CIFAR-10
and sample-quality runs keep their lengths, and the likelihood records
(`bench_likelihood.py`, an hour per row) are not part of it. RESULTS.md
records the machine, the package versions, the git commit, every command with
its wall time, and what it printed (tables, figures and ratios). It is
rewritten after each benchmark, atomically, so an interrupted run leaves the
benchmarks done so far and never a half-written file.
Run it on an otherwise idle machine: throughput and latency share the CPUs.
Data come from TFDS as usual; `TFDS_DATA_DIR` and `TFVAE_DATA_DIR` default to
`../shared/tensorflow_datasets` and `../shared/raw` when those exist, as in CI.
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

# name -> (arguments, what it measures)
BENCHMARKS = {
    "throughput": ([], "training throughput of every model with and without XLA; input pipelines against the model"),
    "prior": ([], "prior quality, and sampling speed: ours with and without XLA, naive, keras.io style"),
    "memory": ([], "peak resident memory of training epochs and of log_likelihood(k=1000) on 1,000 test images"),
    "vae": (["--epochs", "3", "--iw-examples", "1000"], "Gaussian VAE quality and throughput (short run)"),
    "vqvae": (["--configs", "small", "--epochs", "3"], "VQ-VAE quality and throughput (short run)"),
    "export": (["--runs", "100"], "single-image latency and size: Keras, SavedModel, TFLite"),
    "samples": (["--datasets", "mnist", "--n", "10000"], "sample quality (FD, KID, precision/recall) of every model"),
    "quantizers": (["--steps", "600", "--prior-steps", "300", "--test-examples", "5000"],
                   "every quantizer on equal terms: reconstruction, usage, prior NLL, two-stage bits/dim, step time"),
    "cifar10": ([], "CIFAR-10 bits/dim within budgets of 60 + 25 + 15 minutes: VAE with the logistic mixture, VQ-VAE + prior"),
}


def _read(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _versions():
    from importlib import metadata

    names = ["tensorflow", "keras", "tensorflow-probability", "tf-keras", "tensorflow-datasets", "numpy",
             "ai-edge-litert", "tfvae"]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _git_commit():
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _header(command, started):
    memory_kib = _read("/proc/meminfo", "MemTotal").split()[0]
    memory = f"{int(memory_kib) / 1024 ** 2:.1f} GiB" if memory_kib.isdigit() else "unknown"
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}`, started {started:%Y-%m-%d %H:%M} (local time).",
        "Every figure below was printed by the command above it, in this one run.",
        "",
        "## Machine",
        "",
        f"- CPU: {_read('/proc/cpuinfo', 'model name')}, {os.cpu_count()} logical CPUs, no GPU used",
        f"- Memory: {memory}",
        f"- OS: {platform.platform()}",
        f"- git commit: {_git_commit()}",
        "",
        "## Versions",
        "",
        "| package | version |",
        "|---|---|",
        *[f"| {name} | {version} |" for name, version in _versions().items()],
        "",
    ]
    return lines


def _write(path, lines):
    from tfvae._io import write_atomically

    write_atomically(path, ("\n".join(lines) + "\n").encode())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    p.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    args = p.parse_args(argv)

    env = dict(os.environ)
    shared = os.path.join(ROOT, "..", "shared")
    # As .ci/run does: the prepared data sets beside the checkout, when there.
    for variable, folder in (("TFDS_DATA_DIR", "tensorflow_datasets"), ("TFVAE_DATA_DIR", "raw")):
        if not env.get(variable) and os.path.isdir(os.path.join(shared, folder)):
            env[variable] = os.path.realpath(os.path.join(shared, folder))
    command = "python benchmarks/run_all.py" + (f" --only {' '.join(args.only)}" if args.only else "")
    started = datetime.datetime.now()
    lines = _header(command, started)
    failures = []
    for name in args.only or BENCHMARKS:
        extra, what = BENCHMARKS[name]
        cmd = [sys.executable, os.path.join(HERE, f"bench_{name}.py"), *extra]
        shown = " ".join(["python", f"benchmarks/bench_{name}.py", *extra])
        print(f"[run_all] {shown}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        lines += [f"## bench_{name}: {what}", "", f"`{shown}` ({seconds / 60:.1f} min)", ""]
        if proc.returncode == 0:
            lines += [proc.stdout.rstrip(), ""]
        else:
            failures.append(name)
            lines += [f"**Failed with exit code {proc.returncode}.** Last lines of its error output:", "", "```",
                      *proc.stderr.rstrip().splitlines()[-30:], "```", ""]
        print(proc.stdout, flush=True)
        _write(args.output, lines)
    total = (datetime.datetime.now() - started).total_seconds() / 60
    lines += [f"Whole run: {total:.0f} min."]
    _write(args.output, lines)
    print(f"[run_all] wrote {args.output} ({total:.0f} min)", file=sys.stderr)
    if failures:
        print(f"[run_all] failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
