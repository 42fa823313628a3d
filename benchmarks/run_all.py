"""Runs every benchmark, one after another, and writes `benchmarks/RESULTS.md`.

    python benchmarks/run_all.py                      # all: hours on 2 CPUs (CIFAR-10 alone trains 100 minutes)
    python benchmarks/run_all.py --only throughput memory

Each benchmark runs as its own process (`python benchmarks/bench_<name>.py
<arguments>`) with the arguments listed in `BENCHMARKS`: shorter than the
scripts' own defaults where a short run still says something; the CIFAR-10
and sample-quality runs keep their lengths, and the likelihood records
(`bench_likelihood.py`, an hour per row) are not part of it. RESULTS.md
records the machine, the package versions, and for each benchmark its command,
wall time, date, git commit and what it printed (tables, figures and ratios).
`--only` reruns some benchmarks and keeps the other sections of RESULTS.md,
so that a full set can be made over several sittings; it refuses to merge
with a file written on another CPU or with other package versions, whose
figures would not compare. The file is rewritten after each benchmark,
atomically, so an interrupted run leaves the benchmarks done so far and never
a half-written file.
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
    "mixture_prior": ([], "the mixture (VampPrior) log-density: float64 matmuls against the broadcast, speed and error"),
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


MARKER = "Each section names the command, date and git commit that made it"


def _machine():
    memory_kib = _read("/proc/meminfo", "MemTotal").split()[0]
    memory = f"{int(memory_kib) / 1024 ** 2:.1f} GiB" if memory_kib.isdigit() else "unknown"
    return {"CPU": f"{_read('/proc/cpuinfo', 'model name')}, {os.cpu_count()} logical CPUs, no GPU used",
            "Memory": memory, "OS": platform.platform()}


def _header(machine, versions, missing):
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/run_all.py` (`--only NAME ...` reruns some and keeps the others).",
        f"{MARKER}; every figure in a section was printed by that command in that run.",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        "",
        "## Versions",
        "",
        "| package | version |",
        "|---|---|",
        *[f"| {name} | {version} |" for name, version in versions.items()],
        "",
    ]
    if missing:
        lines += [f"Not run yet for this file: {', '.join(missing)} "
                  f"(`python benchmarks/run_all.py --only {' '.join(missing)}`).", ""]
    return lines


def _parse(text):
    """Splits a RESULTS.md into its machine, versions and sections (name -> lines)."""
    machine, versions, sections, current = {}, {}, {}, None
    for line in text.splitlines():
        if line.startswith("Not run yet for this file:"):
            continue  # rewritten from the sections present
        if line.startswith("## bench_"):
            current = line[len("## bench_"):].split(":", 1)[0]
            sections[current] = []
        if current is not None:
            sections[current].append(line)
        elif line.startswith("- ") and ": " in line:
            key, value = line[2:].split(": ", 1)
            machine[key] = value
        elif line.startswith("| ") and not line.startswith(("| package", "|---")):
            name, version = [cell.strip() for cell in line.strip("|").split("|")]
            versions[name] = version
    return machine, versions, {name: _trim(lines) for name, lines in sections.items()}


def _trim(lines):
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _kept_sections(path, machine, versions):
    """The sections of an existing RESULTS.md that `--only` keeps; refuses files whose figures would not compare."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        text = f.read()
    if MARKER not in text:
        raise SystemExit(f"run_all: {path} was written by an older run_all, with one commit for the whole file; "
                         "run every benchmark (no --only) or write elsewhere with --output.")
    old_machine, old_versions, sections = _parse(text)
    differences = [f"{key}: {old_machine.get(key)} here {machine[key]}" for key in ("CPU", "Memory")
                   if old_machine.get(key) != machine[key]]
    differences += [f"{name} {old_versions.get(name)} here {version}" for name, version in versions.items()
                    if old_versions.get(name) != version]
    if differences:
        raise SystemExit(f"run_all: {path} was measured elsewhere ({'; '.join(differences)}): its figures would not "
                         "compare with new ones; run every benchmark (no --only) or write elsewhere with --output.")
    return sections


def _write(path, machine, versions, sections):
    from tfvae._io import write_atomically

    lines = _header(machine, versions, [name for name in BENCHMARKS if name not in sections])
    for name in BENCHMARKS:  # always in the same order, whichever ran last
        if name in sections:
            lines += [*sections[name], ""]
    write_atomically(path, ("\n".join(lines) + "\n").encode())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these; keep the file's others")
    p.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    args = p.parse_args(argv)

    env = dict(os.environ)
    shared = os.path.join(ROOT, "..", "shared")
    # As .ci/run does: the prepared data sets beside the checkout, when there.
    for variable, folder in (("TFDS_DATA_DIR", "tensorflow_datasets"), ("TFVAE_DATA_DIR", "raw")):
        if not env.get(variable) and os.path.isdir(os.path.join(shared, folder)):
            env[variable] = os.path.realpath(os.path.join(shared, folder))
    machine, versions = _machine(), _versions()
    sections = _kept_sections(args.output, machine, versions) if args.only else {}
    commit = _git_commit()
    started = datetime.datetime.now()
    failures = []
    for name in args.only or BENCHMARKS:
        extra, what = BENCHMARKS[name]
        cmd = [sys.executable, os.path.join(HERE, f"bench_{name}.py"), *extra]
        shown = " ".join(["python", f"benchmarks/bench_{name}.py", *extra])
        print(f"[run_all] {shown}", file=sys.stderr, flush=True)
        began = datetime.datetime.now()
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        lines = [f"## bench_{name}: {what}", "",
                 f"`{shown}` ({seconds / 60:.1f} min; started {began:%Y-%m-%d %H:%M}, commit {commit})", ""]
        if proc.returncode == 0:
            lines += [proc.stdout.rstrip()]
        else:
            failures.append(name)
            lines += [f"**Failed with exit code {proc.returncode}.** Last lines of its error output:", "", "```",
                      *proc.stderr.rstrip().splitlines()[-30:], "```"]
        print(proc.stdout, flush=True)
        sections[name] = lines
        _write(args.output, machine, versions, sections)
    total = (datetime.datetime.now() - started).total_seconds() / 60
    print(f"[run_all] wrote {args.output} ({total:.0f} min)", file=sys.stderr)
    if failures:
        print(f"[run_all] failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
