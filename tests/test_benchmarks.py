"""The records benchmark runs end to end in seconds, and its curve is drawn from what it printed."""

import subprocess
import sys

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
    assert "| two stochastic layers (100 + 50) | 521,085 (521,084; 1.00x) |" in proc.stdout
    assert "| vs 87.10 |" in proc.stdout
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "plot_likelihood_curve.py"), str(tmp_path / "out.txt"),
                    "--out", str(tmp_path / "curve.png")], check=True, timeout=300)
    png = (tmp_path / "curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") > 300
