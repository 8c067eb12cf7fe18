"""A batch's drift as a page a person reads: per drifted feature, the training data's share of rows in each bin
of the reference profile beside the batch's, as bars (inline SVG: the page stands alone, in a browser or as an
MLflow artifact, with no script and nothing fetched).

Written here rather than with a drift library: the bins and shares are the ones PSI was computed from (the
profile registered with the model), so the picture and the verdict cannot disagree.
"""

from __future__ import annotations

import html

from cleargate.evaluation.drift import DriftReport

WIDTH, HEIGHT, PAD = 560, 180, 28
COLOURS = {"reference": "#8c8c8c", "batch": "#e4572e"}


def _label(edges: list[float], i: int) -> str:
    """Bin i of a profile: below the first edge, between two edges, or from the last edge up."""
    if i == 0:
        return f"< {edges[0]:.3g}"
    if i == len(edges):
        return f">= {edges[-1]:.3g}"
    return f"{edges[i - 1]:.3g}-{edges[i]:.3g}"


def _chart(name: str, psi: float, histogram: dict[str, list[float]]) -> str:
    expected, actual, edges = histogram["expected"], histogram["actual"], histogram["edges"]
    bins = len(expected)
    top = max([*expected, *actual, 1e-9])
    slot = (WIDTH - 2 * PAD) / bins
    bars = []
    for i, (ref, got) in enumerate(zip(expected, actual, strict=True)):
        for j, (value, colour) in enumerate(((ref, COLOURS["reference"]), (got, COLOURS["batch"]))):
            h = (HEIGHT - 2 * PAD) * value / top
            x = PAD + i * slot + j * slot * 0.45 + slot * 0.05
            bars.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{slot * 0.42:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{_label(edges, i)}: {value:.1%}</title></rect>')
        bars.append(f'<text x="{PAD + (i + 0.5) * slot:.1f}" y="{HEIGHT - 8}" font-size="8" text-anchor="middle">'
                    f'{html.escape(_label(edges, i))}</text>')
    rows = "".join(f"<tr><td>{html.escape(_label(edges, i))}</td><td>{r:.1%}</td><td>{a:.1%}</td></tr>"
                   for i, (r, a) in enumerate(zip(expected, actual, strict=True)))
    return (f'<section><h2>{html.escape(name)} <small>PSI {psi:.3f}</small></h2>'
            f'<svg width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{html.escape(name)}">{"".join(bars)}</svg>'
            f"<details><summary>shares</summary><table><tr><th>bin</th><th>reference</th><th>batch</th></tr>{rows}"
            "</table></details></section>")


def drift_html(title: str, report: DriftReport) -> str:
    """The page: the verdict, then one chart per drifted feature (the highest PSI first)."""
    verdict = "DRIFTED" if report.is_drifted else "within limits"
    charts = [_chart(name, report.drifted[name], report.histograms[name])
              for name in sorted(report.histograms, key=lambda n: -report.drifted.get(n, 0.0))]
    more = len(report.drifted) - len(charts)
    legend = " ".join(f'<span style="color:{c}">&#9632; {k}</span>' for k, c in COLOURS.items())
    body = charts or ["<p>No feature drifted: nothing to draw.</p>"]
    if more > 0:
        body.append(f"<p>... and {more} more drifted feature(s): see report.json.</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}section{margin-bottom:1.5em}td,th{padding:0 .6em}"
            "</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{verdict}: {html.escape(report.summary())}; highest PSI "
            f"{report.psi_max:.3f}. Reference: the training data's profile registered with the model. {legend}</p>"
            + "".join(body) + "</body></html>\n")
