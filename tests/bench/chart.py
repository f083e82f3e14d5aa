#!/usr/bin/env python3
"""Draw the chart of the benchmark suite (tests/bench/bench-suite.sh) as a
self-contained SVG, with nothing but the standard library.

    chart.py [--machine TEXT] [--date TEXT] [--source TEXT] RESULTS.csv OUT.svg

Three panels, from the rows of results.csv:
  (a) throughput (MB/s, log scale) of every command and data path against
      guest size: fixedram with its default options, realistic inputs,
      warm cache; the baselines of the same bytes in grey;
  (b) throughput against --threads=N (the thread-scaling rows);
  (c) fixedram's time over its baseline's (cp+fsync, cp, cat or
      xxh128sum) at the largest guest: below 1.0 is faster.
The machine and date go into the title.
"""
import argparse
import csv
import math
import sys

WIDTH = 1280
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939",
    "#7b4173", "#3182bd", "#e6550d", "#31a354",
]
MARKERS = {"stream": "circle", "pipe": "circle", "image": "square"}
GREYS = [("cp+fsync", "#555555", "6,3"), ("cp", "#888888", "2,3"),
         ("cat", "#aaaaaa", "8,3,2,3"), ("xxh128sum", "#777777", "1,2")]


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


class Svg:
    def __init__(self):
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=12, anchor="start", weight="normal",
             fill="#222", rotate=None):
        tr = ' transform="rotate(%d %.1f %.1f)"' % (rotate, x, y) \
            if rotate else ""
        self.add('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" '
                 'font-weight="%s" fill="%s"%s>%s</text>'
                 % (x, y, size, anchor, weight, fill, tr, esc(s)))

    def line(self, x1, y1, x2, y2, stroke="#000", width=1, dash=None):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                 'stroke="%s" stroke-width="%.1f"%s/>'
                 % (x1, y1, x2, y2, stroke, width, d))

    def polyline(self, pts, stroke, width=2, dash=None):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        self.add('<polyline fill="none" stroke="%s" stroke-width="%.1f"%s '
                 'points="%s"/>' % (stroke, width, d, " ".join(
                     "%.1f,%.1f" % p for p in pts)))

    def marker(self, x, y, kind, fill):
        if kind == "square":
            self.add('<rect x="%.1f" y="%.1f" width="7" height="7" '
                     'fill="%s"/>' % (x - 3.5, y - 3.5, fill))
        elif kind == "diamond":
            self.add('<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f '
                     '%.1f,%.1f" fill="%s"/>'
                     % (x, y - 5, x + 5, y, x, y + 5, x - 5, y, fill))
        else:
            self.add('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>'
                     % (x, y, fill))

    def rect(self, x, y, w, h, fill, stroke="none"):
        self.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                 'fill="%s" stroke="%s"/>' % (x, y, w, h, fill, stroke))

    def render(self, height):
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<svg xmlns="http://www.w3.org/2000/svg" width="%d" '
                'height="%d" viewBox="0 0 %d %d" '
                'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\n'
                '<rect width="100%%" height="100%%" fill="white"/>\n%s\n'
                '</svg>\n' % (WIDTH, height, WIDTH, height,
                              "\n".join(self.parts)))


def log_ticks(lo, hi):
    """1-2-5 ticks covering [lo, hi]; returns (lo, hi, ticks)."""
    lo = 10 ** math.floor(math.log10(lo))
    hi = 10 ** math.ceil(math.log10(hi))
    ticks, d = [], lo
    while d <= hi:
        for m in (1, 2, 5):
            if lo <= d * m <= hi:
                ticks.append(d * m)
        d *= 10
    return lo, hi, ticks


def fmt_mbs(v):
    return "%g" % v if v < 1000 else "%gk" % (v / 1000)


def fmt_size(b):
    for unit, n in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20)):
        if b >= n:
            return "%g %siB" % (b / n, unit)
    return "%d B" % b


def line_panel(svg, x0, y0, w, h, title, xlabel, series, xticks, xfmt,
               colors):
    """series: list of (key, path, points[(x, y)], baseline-style or None)"""
    svg.text(x0 + w / 2, y0 - 12, title, size=14, anchor="middle",
             weight="bold")
    ys = [p[1] for s in series for p in s[2] if p[1] > 0]
    if not ys:
        svg.text(x0 + w / 2, y0 + h / 2, "no data", anchor="middle")
        return
    lo, hi, ticks = log_ticks(min(ys), max(ys))
    xs = [t for t in xticks]
    xmin, xmax = min(xs), max(xs)
    if xmin == xmax:
        xmin, xmax = xmin * 0.5, xmax * 1.5
    pad = (xmax - xmin) * 0.06
    xmin, xmax = xmin - pad, xmax + pad

    def px(x):
        return x0 + (x - xmin) / (xmax - xmin) * w

    def py(y):
        return y0 + h - (math.log10(y) - math.log10(lo)) / \
            (math.log10(hi) - math.log10(lo)) * h

    svg.rect(x0, y0, w, h, "#fafafa", "#999")
    for t in ticks:
        svg.line(x0, py(t), x0 + w, py(t), "#e0e0e0")
        svg.text(x0 - 6, py(t) + 4, fmt_mbs(t), size=11, anchor="end")
    for t in xticks:
        svg.line(px(t), y0 + h, px(t), y0 + h + 5, "#666")
        svg.text(px(t), y0 + h + 18, xfmt(t), size=11, anchor="middle")
    svg.text(x0 + w / 2, y0 + h + 36, xlabel, size=12, anchor="middle")
    svg.text(x0 - 48, y0 + h / 2, "MB/s (log scale)", size=12,
             anchor="middle", rotate=-90)
    for key, path, pts, grey in series:
        pts = sorted(p for p in pts if p[1] > 0)
        if not pts:
            continue
        xy = [(px(x), py(y)) for x, y in pts]
        if grey:
            svg.polyline(xy, grey[0], 1.5, grey[1])
            continue
        svg.polyline(xy, colors[key], 2)
        for x, y in xy:
            svg.marker(x, y, MARKERS.get(path, "diamond"), colors[key])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--machine", default="")
    ap.add_argument("--date", default="")
    ap.add_argument("--source", default="")
    ap.add_argument("csv")
    ap.add_argument("svg")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.csv)))
    real = [r for r in rows if r["scenario"] == "realistic"]
    cache = "warm" if any(r["cache"] == "warm" for r in real) else "cold"
    # fixedram against cp of its own output is in the tables, not drawn
    main_rows = [r for r in real if r["cache"] == cache and not r["threads"]
                 and not r["baseline"].startswith("cp-output")]
    thr_rows = [r for r in real if r["threads"]]

    keys = []
    for r in main_rows + thr_rows:
        k = (r["command"], r["path"])
        if r["tool"] == "fixedram" and k not in keys:
            keys.append(k)
    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}

    svg = Svg()
    svg.text(WIDTH / 2, 30, "fixedram benchmark suite: throughput by guest "
             "size and thread count", size=18, anchor="middle",
             weight="bold")
    cap = a.machine + ("; " + a.date if a.date else "") + \
        ("; source " + a.source if a.source else "")
    svg.text(WIDTH / 2, 52, cap, size=12, anchor="middle", fill="#444")

    # (a) throughput against guest size
    series = []
    grey_path = {}
    for k in keys:
        pts = [(int(r["guest_bytes"]), float(r["mb_s"])) for r in main_rows
               if (r["command"], r["path"]) == k and
               r["tool"] == "fixedram" and r["variant"] == "default"]
        series.append((k, k[1], pts, None))
    for tool, col, dash in GREYS:
        # the baseline on the stream of the first case that has it
        for k in keys:
            pts = [(int(r["guest_bytes"]), float(r["mb_s"]))
                   for r in main_rows if r["tool"] == tool and
                   (r["command"], r["path"]) == k]
            if pts:
                series.append(((tool,), k[1], pts, (col, dash)))
                grey_path[tool] = k[1]
                break
    sizes = sorted({int(r["guest_bytes"]) for r in main_rows})
    line_panel(svg, 110, 100, 480, 330,
               "(a) throughput against guest size (%s cache)" % cache,
               "guest RAM", series, sizes or [1], fmt_size, colors)

    # (b) throughput against thread count
    series = []
    for k in keys:
        pts = [(int(r["threads"]), float(r["mb_s"])) for r in thr_rows
               if (r["command"], r["path"]) == k]
        if pts:
            series.append((k, k[1], pts, None))
    counts = sorted({int(r["threads"]) for r in thr_rows})
    guest = ", guest %s" % thr_rows[0]["guest"] if thr_rows else ""
    line_panel(svg, 750, 100, 480, 330,
               "(b) throughput against --threads%s" % guest,
               "--threads=N", series, counts or [1], lambda t: "%d" % t,
               colors)

    # legend
    y = 490
    items = [(k, "%s (%s)" % k) for k in keys]
    col_w = (WIDTH - 80) / 4
    for i, (k, label) in enumerate(items):
        x = 40 + (i % 4) * col_w
        yy = y + (i // 4) * 20
        svg.line(x, yy - 4, x + 26, yy - 4, colors[k], 2)
        svg.marker(x + 13, yy - 4, MARKERS.get(k[1], "diamond"), colors[k])
        svg.text(x + 32, yy, label, size=12)
    y += ((len(items) + 3) // 4) * 20
    x = 40
    for tool, col, dash in GREYS:
        if tool not in grey_path:
            continue
        svg.line(x, y - 4, x + 26, y - 4, col, 1.5, dash)
        svg.text(x + 32, y, "%s of the %s (baseline)"
                 % (tool, grey_path[tool]), size=12, fill="#555")
        x += col_w
    y += 16
    svg.text(40, y + 6, "circle: stream input (file or pipe); square: "
             "mapped-ram image input; diamond: both (diff). MB/s = apparent "
             "input bytes (image holes included) / median seconds.",
             size=11, fill="#555")

    # (c) ratio against the baseline at the largest guest
    y0 = y + 60
    big = max(sizes) if sizes else 0
    bars = [r for r in main_rows if r["tool"] == "fixedram" and
            int(r["guest_bytes"]) == big and r["ratio"]]
    svg.text(WIDTH / 2, y0 - 16, "(c) fixedram time / baseline time, guest "
             "%s, %s cache (below 1.0 is faster; checksum target 1.5)"
             % (fmt_size(big), cache), size=14, anchor="middle",
             weight="bold")
    bx, bw, bh = 420, 760, 18
    rmax = max([float(r["ratio"]) for r in bars] + [2.0])
    rmax = math.ceil(rmax * 2) / 2

    def rx(v):
        return bx + v / rmax * bw

    height = y0 + len(bars) * (bh + 4) + 50
    svg.rect(bx, y0, bw, len(bars) * (bh + 4) + 4, "#fafafa", "#999")
    step = 0.5 if rmax <= 5 else math.ceil(rmax / 10)
    t = 0.0
    while t <= rmax + 1e-9:
        svg.line(rx(t), y0, rx(t), y0 + len(bars) * (bh + 4) + 4,
                 "#e0e0e0")
        svg.text(rx(t), y0 + len(bars) * (bh + 4) + 20, "%gx" % t,
                 size=11, anchor="middle")
        t += step
    for i, r in enumerate(bars):
        k = (r["command"], r["path"])
        ratio = float(r["ratio"])
        limit = 1.5 if r["baseline"] == "xxh128sum" else 1.0
        yy = y0 + 4 + i * (bh + 4)
        fill = "#4c9a4c" if ratio <= limit else "#d62728"
        svg.rect(bx, yy, rx(ratio) - bx, bh, fill)
        svg.text(bx - 8, yy + 13, "%s (%s) %s vs %s" % (
            r["command"], r["path"], r["variant"], r["baseline"]),
            size=12, anchor="end")
        svg.text(rx(ratio) + 4, yy + 13, "%.2fx" % ratio, size=11)
    svg.line(rx(1.0), y0, rx(1.0), y0 + len(bars) * (bh + 4) + 4,
             "#000", 1.5, "5,3")
    svg.text(bx, height - 8, "green: within the target of issue 6 (1.0x "
             "the baseline, 1.5x xxh128sum for checksum); red: slower",
             size=11, fill="#555")

    with open(a.svg, "w") as f:
        f.write(svg.render(height))


if __name__ == "__main__":
    sys.exit(main())
