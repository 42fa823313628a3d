"""Draws the NLL-against-training-time curves that `bench_likelihood.py --curve-every N` printed.

    python benchmarks/bench_likelihood.py --binarization dynamic --rows iaf --curve-every 20 > dynamic.txt
    python benchmarks/bench_likelihood.py --binarization static --rows iwae_iaf --curve-every 20 > static.txt
    python benchmarks/plot_likelihood_curve.py dynamic.txt static.txt --out docs/images/likelihood_curve.png

Reads the printed output (one or more files), finds each row's curve (minutes,
-log p(x) with k = 100 on 1,000 test images) and its final figure (k and the
number of test images as the run printed them), and draws one line per row
and binarisation, with the published targets (86.76 and 82.90 nats dynamic,
87.10 static) as dotted lines, once per binarisation. Needs matplotlib
(`pip install -e ".[docs]"`).
"""

import argparse
import io
import re

from bench_likelihood import TARGETS

ROW = re.compile(r"^(dynamic|static) (.+): ([\d.]+) \+- ([\d.]+) nats after ([\d.]+) epochs \(([\d.]+) min")
POINT = re.compile(r"^\s+([\d.]+) min\s+([\d.]+) \(k = 100")
HEADER = re.compile(r"IW bound with k = (\d+) on (\d+) test images")


def read_curves(paths):
    """[(binarization, name, [(minutes, nll)], final_nll, minutes, k, examples)] in the order printed."""
    rows = []
    for path in paths:
        k = examples = None
        with open(path) as f:
            for line in f:
                if m := HEADER.search(line):
                    k, examples = int(m.group(1)), int(m.group(2))
                elif m := ROW.match(line):
                    rows.append([m.group(1), m.group(2), [], float(m.group(3)), float(m.group(6)), k, examples])
                elif (m := POINT.match(line)) and rows:
                    rows[-1][2].append((float(m.group(1)), float(m.group(2))))
    return [tuple(r) for r in rows if r[2]]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outputs", nargs="+", help="files holding bench_likelihood.py's printed output")
    p.add_argument("--out", required=True, help="the PNG to write")
    a = p.parse_args(argv)
    curves = read_curves(a.outputs)
    if not curves:
        raise SystemExit(f"no curves in {a.outputs}: run bench_likelihood.py with --curve-every N")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    ends, targets_drawn = [], set()
    for binarization, name, points, final, minutes, _, _ in curves:
        line, = ax.plot([t for t, _ in points], [v for _, v in points], "-", label=f"{binarization}: {name}")
        ax.plot([minutes], [final], "o", color=line.get_color())
        ends.append((final, minutes, line.get_color()))
        if binarization in targets_drawn:  # two rows of one binarisation share its targets
            continue
        targets_drawn.add(binarization)
        for target in TARGETS[binarization]:
            ax.axhline(target, color=line.get_color(), linestyle=":", linewidth=0.8)
            # Static targets labelled above their line, dynamic ones below, so that close targets stay legible.
            above = binarization == "static"
            ax.annotate(f"{binarization} target {target}", (0.01, target), xycoords=ax.get_yaxis_transform(),
                        xytext=(0, 2 if above else -2), textcoords="offset points", va="bottom" if above else "top",
                        fontsize=7, color=line.get_color())
    values = [v for c in curves for _, v in c[2]] + [c[3] for c in curves]
    ax.set_ylim(min(values + [82.9]) - 1, min(max(values), 110) + 1)
    ax.set_xlim(0, max(c[4] for c in curves) * 1.25)
    ax.set_xlabel("training time, minutes", fontsize=8)
    ax.set_ylabel("-log p(x), nats", fontsize=8)
    finals = sorted({(c[5], c[6]) for c in curves})
    ax.set_title("lines: k = 100 on 1,000 test images during training; dots: "
                 + ", ".join(f"k = {k:,} on {n:,}" for k, n in finals) + " at the end", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    figure.tight_layout()
    # Each final figure's label sits right of its point, in the room the widened x axis leaves; labels closer
    # than a line of text are pushed apart upwards (the points stay where they are),
    # measured in the laid-out figure.
    figure.canvas.draw()
    lowest_free = -float("inf")
    for final, minutes, colour in sorted(ends):
        y = ax.transData.transform((minutes, final))[1]
        placed = max(y, lowest_free)
        lowest_free = placed + 9 * figure.dpi / 72
        ax.annotate(f"{final:.2f}", (minutes, final), fontsize=7, xytext=(5, (placed - y) * 72 / figure.dpi),
                    textcoords="offset points", ha="left", va="center", color=colour)
    from tfvae._io import write_atomically

    png = io.BytesIO()
    figure.savefig(png, format="png")
    plt.close(figure)
    write_atomically(a.out, png.getvalue())
    print("wrote", a.out)


if __name__ == "__main__":
    main()
