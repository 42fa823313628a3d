"""The records benchmark runs end to end, its curve is drawn from what it printed, and run_all merges reruns."""

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.helpers import real_data
from tfvae import data


def test_the_likelihood_benchmark_prints_its_table_and_the_curve_is_drawn(tmp_path):
    real_data(data.load_arrays, "binarized_mnist", "test", limit=10)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_likelihood.py"), "--budget-minutes", "0.3",
         "--binarization", "static", "--rows", "plain", "two", "--eval-k", "4", "--eval-examples", "20",
         "--curve-every", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tmp_path / "out.txt").write_text(proc.stdout)
    # 18 s per row: the first epoch (about 3 s on 2 cores) ends inside it, so each row has a curve point.
    assert proc.stdout.count("(k = 100, 1,000 images)") >= 2
    # The IWAE paper's architectures: ours have its parameter counts, plus the one KL weight of the VAE.
    assert "| VAE (ELBO) | 425,285 (425,284; 1.00x) |" in proc.stdout
    assert "| two stochastic layers (100 + 50), KL warm-up | 521,085 (521,084; 1.00x) |" in proc.stdout
    # Active units: one count per stochastic layer, each within its layer's size.
    counts = re.findall(r"active units (\d+) of 50\n|active units (\d+) of 100 and (\d+) of 50\n", proc.stdout)
    assert len(counts) == 2 and int(counts[0][0]) <= 50 and int(counts[1][1]) <= 100 and int(counts[1][2]) <= 50
    assert "| vs 87.10 |" in proc.stdout
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "plot_likelihood_curve.py"), str(tmp_path / "out.txt"),
                    "--out", str(tmp_path / "curve.png")], check=True, timeout=300)
    png = (tmp_path / "curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") > 300


def _run_all_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_all_reruns_some_benchmarks_and_keeps_the_others(tmp_path, monkeypatch):
    run_all = _run_all_module()
    for name, figure in (("first", 1), ("second", 2), ("third", 3)):
        (tmp_path / f"bench_{name}.py").write_text(f"print('| {name} | {figure} |')\n")
    (tmp_path / "bench_broken.py").write_text("import sys\nsys.exit('no data')\n")
    monkeypatch.setattr(run_all, "HERE", str(tmp_path))
    monkeypatch.setattr(run_all, "BENCHMARKS", {name: ([], f"what {name} measures")
                                                for name in ("first", "second", "third", "broken")})
    out = tmp_path / "RESULTS.md"
    assert run_all.main(["--only", "second", "first", "--output", str(out)]) == 0
    text = out.read_text()
    # Sections in the table's order, whichever ran first; each with its own command, date and commit.
    assert text.index("## bench_first") < text.index("## bench_second")
    assert text.count("; started ") == 2 and text.count(", commit ") == 2
    assert "Not run yet for this file: third, broken" in text

    (tmp_path / "bench_first.py").write_text("print('| first | 10 |')\n")
    assert run_all.main(["--only", "first", "broken", "--output", str(out)]) == 1  # broken fails, and says so
    text = out.read_text()
    assert "| first | 10 |" in text and "| first | 1 |" not in text
    assert "| second | 2 |" in text  # kept
    assert "**Failed with exit code 1.**" in text and "no data" in text
    assert "Not run yet for this file: third (" in text
    assert text.count("## bench_") == 3

    # Figures from other package versions would not compare: refused, the file untouched.
    monkeypatch.setattr(run_all, "_versions", lambda: {"keras": "9.9.9"})
    with pytest.raises(SystemExit, match=r"measured elsewhere \(keras .* here 9\.9\.9\)"):
        run_all.main(["--only", "third", "--output", str(out)])
    assert out.read_text() == text

    # A file of the older run_all (one commit for the whole file) is not merged with.
    old = tmp_path / "OLD.md"
    old.write_text("# Benchmark results\n\n- git commit: ac41c8f\n\n## bench_first: x\n\nold figures\n")
    with pytest.raises(SystemExit, match="older run_all"):
        run_all.main(["--only", "third", "--output", str(old)])
