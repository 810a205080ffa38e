"""Render the dashboard's main charts to one PNG, from the dashboard's own queries.

Each panel runs the aggregation of a visualization in `dashboards/colog.ndjson` (translated by
`colog.app.dashboards.saved_objects`) against OpenSearch and draws the result with matplotlib, so the picture
shows exactly what the Dashboards panels show, without a browser.

    .venv/bin/python scripts/render_charts.py                      # -> docs/dashboard.png
    .venv/bin/python scripts/render_charts.py --index logs-demo --out /tmp/dash.png
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or CI
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colog.app.dashboards import saved_objects as so  # noqa: E402
from colog.core.settings import PROJECT_ROOT, get_settings  # noqa: E402

TYPE_COLOURS = {"point": "#d62728", "collective": "#1f77b4", "both": "#9467bd",
                "anomaly": "#d62728", "normal": "#7f7f7f"}
# Candidate `auto` intervals of the time chart, smallest first, with their length in seconds.
INTERVALS = [("1m", 60), ("5m", 300), ("10m", 600), ("30m", 1800), ("1h", 3600),
             ("3h", 10800), ("12h", 43200), ("1d", 86400), ("7d", 604800)]
MAX_TIME_BUCKETS = 60


class Charts:
    def __init__(self, client, bundle, logs_index: str | None, incidents_index: str | None):
        self.client, self.bundle = client, bundle
        self.logs_index, self.incidents_index = logs_index, incidents_index

    def query(self, vis_id: str, **kwargs):
        obj = so.by_id(self.bundle)[vis_id]
        request = so.visualization_request(obj, self.bundle, **kwargs)
        pattern = so.index_pattern_of(obj, self.bundle)["attributes"]["title"]
        override = self.incidents_index if "incident" in pattern else self.logs_index
        answer = self.client.search(index=override or request.index, body=request.body)
        return request, so.rows(request, answer)


def pick_interval(client, index: str) -> str:
    answer = client.search(index=index, body={"size": 0, "aggs": {
        "first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}}})
    first, last = answer["aggregations"]["first"]["value"], answer["aggregations"]["last"]["value"]
    if first is None:
        return "1h"
    span = max(1.0, (last - first) / 1000.0)
    for name, seconds in INTERVALS:
        if span / seconds <= MAX_TIME_BUCKETS:
            return name
    return INTERVALS[-1][0]


def _when(epoch_ms: float) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000.0, tz=timezone.utc)


def over_time(ax, charts: Charts, interval: str) -> None:
    _, rows = charts.query("colog-anomalies-over-time", interval=interval)
    times = sorted({row["2"] for row in rows})
    bottom = {t: 0 for t in times}
    seconds = dict(INTERVALS)[interval] if interval in dict(INTERVALS) else 3600
    width = seconds / 86400 * 0.9  # matplotlib dates are in days
    for kind in ("point", "collective", "both"):
        values = {row["2"]: row["1"] for row in rows if row["3"] == kind}
        heights = [values.get(t, 0) for t in times]
        ax.bar([_when(t) for t in times], heights, width=width,
               bottom=[bottom[t] for t in times], label=kind, color=TYPE_COLOURS[kind],
               align="edge")
        for t, h in zip(times, heights):
            bottom[t] += h
    ax.set_title(f"Anomalies over time (per {interval})")
    ax.set_ylabel("events")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)


def host_heatmap(ax, charts: Charts) -> None:
    _, rows = charts.query("colog-anomalies-host-heatmap")
    hosts = sorted({row["2"] for row in rows})
    kinds = ["point", "collective", "both"]
    grid = [[next((r["1"] for r in rows if r["2"] == h and r["3"] == k), 0) for h in hosts]
            for k in kinds]
    image = ax.imshow(grid, cmap="Reds", aspect="auto")
    ax.set_xticks(range(len(hosts)), hosts, rotation=30, fontsize=7)
    ax.set_yticks(range(len(kinds)), kinds)
    top = max((max(line) for line in grid), default=0) or 1
    for y, line in enumerate(grid):
        for x, value in enumerate(line):
            ax.text(x, y, str(value), ha="center", va="center", fontsize=8,
                    color="white" if value > top / 2 else "black")
    ax.set_title("Anomalies by host and type")
    plt.colorbar(image, ax=ax, fraction=0.046)


def top_templates(ax, charts: Charts) -> None:
    _, rows = charts.query("colog-top-templates")
    rows = rows[::-1]  # largest on top
    names = [(row["2"][:45] + "…") if len(row["2"]) > 46 else row["2"] for row in rows]
    ax.barh(range(len(rows)), [row["1"] for row in rows], color="#d62728")
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    for y, row in enumerate(rows):
        ax.text(row["1"], y, f"  mean {row['3']:.2f}", va="center", fontsize=7)
    ax.set_title("Top anomalous templates (count, mean score)")
    ax.set_xlabel("anomalous events")


def attention(ax, charts: Charts) -> None:
    _, rows = charts.query("colog-modality-attention")
    kinds = [row["3"] for row in rows]
    xs = range(len(kinds))
    ax.bar([x - 0.2 for x in xs], [row["1"] for row in rows], width=0.4, label="semantic",
           color="#2ca02c")
    ax.bar([x + 0.2 for x in xs], [row["2"] for row in rows], width=0.4, label="sequence",
           color="#ff7f0e")
    ax.set_xticks(list(xs), kinds)
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean modality weight")
    ax.set_title("Modality attention of anomalous events")
    ax.legend(fontsize=8)


def score_distribution(ax, charts: Charts) -> None:
    request, rows = charts.query("colog-score-distribution")
    width = next(agg for agg in request.buckets if agg["type"] == "histogram")["params"][
        "interval"]
    keys = sorted({row["2"] for row in rows})
    bottom = {k: 0 for k in keys}
    for label in ("normal", "anomaly"):
        values = {row["2"]: row["1"] for row in rows if row["3"] == label}
        heights = [values.get(k, 0) for k in keys]
        ax.bar(keys, heights, width=width, align="edge", bottom=[bottom[k] for k in keys],
               label=label, color=TYPE_COLOURS[label])
        for k, h in zip(keys, heights):
            bottom[k] += h
    ax.set_yscale("log", nonpositive="clip")  # normal events outnumber anomalies by far
    ax.set_ylim(bottom=0.8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("colog.score")
    ax.set_ylabel("events")
    ax.set_title("Score distribution")
    ax.legend(fontsize=8)


def open_incidents(ax, charts: Charts) -> None:
    _, rows = charts.query("colog-open-incidents")
    ax.axis("off")
    ax.set_title("Open collective incidents")
    if not rows:
        ax.text(0.5, 0.5, "no open incidents", ha="center", va="center")
        return
    cells = [[row["1"][:38], _when(row["4"]).strftime("%m-%d %H:%M"),
              _when(row["5"]).strftime("%m-%d %H:%M"), int(row["2"]), int(row["3"]),
              f"{row['6']:.2f}"] for row in rows[:12]]
    table = ax.table(cellText=cells, loc="upper center", colLabels=[
        "stream", "start", "last", "events", "point", "max score"])
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.auto_set_column_width(list(range(6)))


def render(client, out: Path, logs_index: str | None = None,
           incidents_index: str | None = None, title: str = "CoLog for OpenSearch") -> Path:
    bundle = so.check_bundle()
    settings = get_settings()
    charts = Charts(client, bundle, logs_index, incidents_index)
    interval = pick_interval(client, logs_index or settings.index_pattern)
    figure, axes = plt.subplots(2, 3, figsize=(18, 10))
    over_time(axes[0][0], charts, interval)
    host_heatmap(axes[0][1], charts)
    top_templates(axes[0][2], charts)
    attention(axes[1][0], charts)
    score_distribution(axes[1][1], charts)
    open_incidents(axes[1][2], charts)
    figure.suptitle(title, fontsize=14)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "dashboard.png")
    parser.add_argument("--index", help="log index to read instead of the index pattern")
    parser.add_argument("--incidents-index", help="incidents index instead of the setting")
    parser.add_argument("--title", default="CoLog for OpenSearch: anomalies and incidents")
    args = parser.parse_args(argv)
    from colog.core.engine.opensearch_client import make_client

    client = make_client()
    incidents = args.incidents_index or get_settings().incidents_index
    path = render(client, args.out, args.index, incidents, args.title)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
