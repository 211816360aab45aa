"""The report a person wants to look at: one HTML page with PNG plots and the JSON behind it.

``write_report(out_dir, data)`` writes ``report.json`` (exactly ``data``), three plots and
``index.html`` that shows them with the tables. ``data`` is plain JSON-able::

    {"title": str, "task": str, "metric": "accuracy" | "mse" | ...,
     "steps":  [{"step", "value", "params", "macs", "weight_bytes", "arena_bytes",
                 "instructions": {target: n} | None, "note"}],
     "targets": {target: verify report dict (picoml.flows.verify.VerifyReport.as_dict())},
     "boards":  [{"board", "ram_kb", "flash_kb", "fits", "message", "latency_ms",
                 "ram_headroom_bytes"?, "flash_headroom_bytes"?}],
     "flash":   {target: {"code", "weights", "requantization", "biases_and_tables"}}   (optional)
     "quality": {"task", "samples", "accuracy": {source: v}, "rmse": {source: v}}    (optional)
     "advice":  [{"gain", "kind", "text"}], largest gain first                       (optional)
     "folded":  [str], explicit PADs folded into convolutions in the generated C       (optional)
     "memory":  {"ops": [label], "live_bytes": [n], "arena_bytes", "lower_bound",
                 "buffers": [{"name", "offset", "size", "first", "last"}]}}

Plots (matplotlib, Agg; imported lazily so the core install does not need it):
``accuracy_vs_flash.png`` (one point per pipeline step), ``memory_timeline.png`` (the arena:
every buffer a rectangle from its first to its last op at its planned offset, and the live
bytes per op), ``layer_instructions.png`` (instructions per layer on each emulated core).
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

from picoml.errors import PicomlError
from picoml.outputs import write_tree
from picoml.untrusted import printable


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PicomlError("the report's plots need matplotlib: pip install 'picoml[demo]'") from None
    plt.rcParams.update({"font.size": 10, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 110})
    return plt


def plot_accuracy_vs_flash(steps: list[dict], metric: str, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [s["weight_bytes"] / 1024 for s in steps]
    ys = [100 * s["value"] if metric == "accuracy" else s["value"] for s in steps]
    ax.plot(xs, ys, "-", color="#999999", zorder=1)
    ax.scatter(xs, ys, s=60, c=range(len(steps)), cmap="viridis", zorder=2)
    for x, y, s in zip(xs, ys, steps, strict=True):
        ax.annotate(s["step"], (x, y), textcoords="offset points", xytext=(6, 6), fontsize=9)
    ax.set_xlabel("weights in flash (KB)")
    ax.set_ylabel("test accuracy (%)" if metric == "accuracy" else f"test {metric}")
    ax.set_title("Each pipeline step: quality vs weight flash")
    ax.set_xlim(left=0, right=max(xs) * 1.25 if xs else 1)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def plot_memory_timeline(memory: dict, path: Path) -> None:
    plt = _plt()
    ops = memory["ops"]
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(max(6.4, 0.45 * len(ops) + 2), 6.0), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    cmap = plt.get_cmap("tab20")
    for i, b in enumerate(memory["buffers"]):
        ax.add_patch(
            plt.Rectangle(
                (b["first"] - 0.4, b["offset"]),
                b["last"] - b["first"] + 0.8,
                b["size"],
                facecolor=cmap(i % 20),
                edgecolor="black",
                linewidth=0.5,
                alpha=0.85,
            )
        )
        if b["size"] >= memory["arena_bytes"] * 0.04:
            ax.text(
                (b["first"] + b["last"]) / 2,
                b["offset"] + b["size"] / 2,
                f"b{i}",  # the buffers table of the page names it (a tensor name can be long)
                ha="center",
                va="center",
                fontsize=7,
            )
    ax.axhline(memory["arena_bytes"], color="red", linestyle="--", linewidth=1)
    ax.text(
        len(ops) - 0.5,
        memory["arena_bytes"],
        f" arena {memory['arena_bytes']:,} B",
        color="red",
        va="bottom",
        ha="right",
        fontsize=8,
    )
    ax.set_xlim(-0.6, len(ops) - 0.4)
    ax.set_ylim(0, memory["arena_bytes"] * 1.12 + 1)
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(f"Arena {memory['arena_bytes']:,} B (op-at-a-time bound {memory['lower_bound']:,} B)", fontsize=10)
    ax2.bar(range(len(ops)), memory["live_bytes"], color="#4477aa")
    ax2.set_ylabel("live bytes")
    ax2.set_xticks(range(len(ops)))
    ax2.set_xticklabels([printable(o, 22) for o in ops], rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def plot_layer_instructions(targets: dict, path: Path) -> None:
    plt = _plt()
    names = [  # AVR targets count cycles, not instructions (simavr): not on this chart
        t
        for t, r in targets.items()
        if r.get("layer_instructions") and all(lay["instructions"] is not None for lay in r["layer_instructions"])
    ]
    if not names:
        raise PicomlError("no per-layer instruction counts to plot (verify on an emulated core first)")
    layers = targets[names[0]]["layer_instructions"]
    labels = [f"{i} {printable(lay['op'], 30)}" for i, lay in enumerate(layers)]
    fig, ax = plt.subplots(figsize=(6.8, max(3.0, 0.32 * len(labels) * len(names) + 1.2)))
    h = 0.8 / len(names)
    for k, t in enumerate(names):
        vals = [lay["instructions"] / 1000 for lay in targets[t]["layer_instructions"]]
        ax.barh([i + k * h for i in range(len(vals))], vals, height=h, label=t)
    ax.set_yticks([i + h * (len(names) - 1) / 2 for i in range(len(labels))])
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("thousand instructions per inference")
    ax.set_title("Where the instructions go, per layer")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def _table(rows: list[list[str]], header: list[str]) -> str:
    """A table that scrolls sideways on a narrow screen instead of running off it."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _fmt(v, kind: str = "int") -> str:
    if v is None:
        return "–"
    if kind == "metric":
        return f"{100 * v:.2f} %" if isinstance(v, float) and v <= 1.0 else f"{v:.4g}"
    return f"{v:,}"


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}.scroll{overflow-x:auto;max-width:100%}ol.advice li{margin:0.4em 0}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:0.6em 0}td,th{border:1px solid #ccc;padding:4px 9px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
.ok{color:#0a7a2f;font-weight:600}.no{color:#b00020;font-weight:600}p.note{color:#555}"""


def write_report(
    out_dir: str | Path,
    data: dict,
    force: bool = False,
    protect: tuple[str | Path, ...] = (),
    extra: dict[str, str | bytes] | None = None,
) -> Path:
    """Write report.json, the plots and index.html (and ``extra`` files: name -> content) into
    out_dir as one output (``picoml.outputs.write_tree``: a rerun replaces picoml's own earlier
    files; a file there that the user made or changed is never overwritten unless ``force``, and
    never one in ``protect``); returns the HTML path."""
    out = Path(out_dir)
    files: dict[str, str | bytes] = dict(extra or {})
    files["report.json"] = json.dumps(data, indent=2, default=str) + "\n"
    metric = data.get("metric", "accuracy")
    imgs = []

    def png(name: str, plot, *args) -> None:
        buf = io.BytesIO()
        plot(*args, buf)
        files[name] = buf.getvalue()

    if data.get("steps"):
        png("accuracy_vs_flash.png", plot_accuracy_vs_flash, data["steps"], metric)
        imgs.append(("accuracy_vs_flash.png", "Quality vs weight flash for every pipeline step"))
    if data.get("memory"):
        png("memory_timeline.png", plot_memory_timeline, data["memory"])
        imgs.append(("memory_timeline.png", "The static arena: every activation buffer over its lifetime"))
    if data.get("targets") and any(
        r.get("layer_instructions") and all(lay["instructions"] is not None for lay in r["layer_instructions"])
        for r in data["targets"].values()
    ):
        png("layer_instructions.png", plot_layer_instructions, data["targets"])
        imgs.append(("layer_instructions.png", "Instructions per layer on the emulated cores"))

    parts = [f"<h1>{html.escape(data.get('title', 'picoml report'))}</h1>"]
    if data.get("summary"):
        parts.append(f"<p>{html.escape(data['summary'])}</p>")
    if data.get("steps"):
        targets = sorted({t for s in data["steps"] for t in (s.get("instructions") or {})})
        rows = []
        for s in data["steps"]:
            ins = s.get("instructions") or {}
            rows.append(
                [
                    s["step"],
                    _fmt(s["value"], "metric"),
                    _fmt(s.get("params")),
                    _fmt(s.get("macs")),
                    _fmt(s.get("weight_bytes")),
                    _fmt(s.get("arena_bytes")),
                ]
                + [_fmt(ins.get(t)) for t in targets]
                + [s.get("note", "")]
            )
        header = ["step", metric, "parameters", "MACs", "weight bytes", "arena bytes"]
        header += [f"{t} instructions" for t in targets] + ["note"]
        parts += ["<h2>Pipeline</h2>", _table(rows, header)]
    if data.get("targets"):
        rows = []
        for t, r in data["targets"].items():
            rows.append(
                [
                    t,
                    "yes" if r.get("bit_exact") else "NO",
                    _fmt(r.get("inputs")),
                    _fmt(r.get("instructions")),
                    f"{r['instructions_per_mac']:.2f}" if r.get("instructions_per_mac") else "–",
                    _fmt(r.get("flash_code_bytes")),
                    _fmt(r.get("flash_weights_bytes")),
                    _fmt(r.get("ram_bytes")),
                    _fmt(r.get("stack_bytes")),
                ]
            )
        parts += [
            "<h2>Verified on emulated cores</h2>",
            _table(
                rows,
                [
                    "target",
                    "bit-exact",
                    "inputs",
                    "instructions",
                    "instr/MAC",
                    "code bytes",
                    "weight bytes",
                    "RAM bytes",
                    "stack bytes",
                ],
            ),
        ]
    if data.get("boards"):
        rows = [
            [
                b["board"],
                f"{b['ram_kb']:g}",
                f"{b['flash_kb']:g}",
                "fits" if b["fits"] else "does not fit",
                _fmt(b.get("ram_headroom_bytes")),
                _fmt(b.get("flash_headroom_bytes")),
                f"≥ {b['latency_ms']:.2f}" if b.get("latency_ms") is not None else "–",
                b.get("message", ""),
            ]
            for b in data["boards"]
        ]
        parts += [
            "<h2>Boards</h2>",
            _table(rows, ["board", "RAM KB", "flash KB", "fit", "RAM left B", "flash left B", "latency ms", "detail"]),
            '<p class="note">Latency is instructions ÷ clock: a lower bound (no wait states or stalls).</p>',
        ]
    if data.get("quality"):
        q = data["quality"]
        names = {"c": "int8 (C = reference)", "float": "float model"}
        vals = q.get("accuracy") or q.get("rmse") or {}
        kind = "accuracy" if q.get("accuracy") else "RMSE"
        rows = [[names.get(k, k), _fmt(v, "metric") if kind == "accuracy" else f"{v:.6g}"] for k, v in vals.items()]
        parts += [f"<h2>Quality on your data ({q['samples']:,} samples)</h2>", _table(rows, ["model", kind])]
    if data.get("advice"):
        items = "".join(f"<li><b>{100 * a['gain']:.1f} %</b> — {html.escape(a['text'])}</li>" for a in data["advice"])
        parts += [
            "<h2>What to change, largest measured gain first</h2>",
            f"<ol class='advice'>{items}</ol>",
            '<p class="note">Gain: the share of the instructions the pattern costs on the first target '
            "(for pruning: the share of the flash it would save).</p>",
        ]
    if data.get("folded"):
        items = "".join(f"<li>{html.escape(t)}</li>" for t in data["folded"])
        parts += ["<h2>Folded in the generated C (bit-exact)</h2>", f"<ul>{items}</ul>"]
    if data.get("flash"):
        rows = [
            [t, _fmt(f["code"]), _fmt(f["weights"]), _fmt(f["requantization"]), _fmt(f["biases_and_tables"])]
            for t, f in data["flash"].items()
        ]
        parts += [
            "<h2>Flash</h2>",
            _table(
                rows,
                [
                    "target",
                    "code bytes",
                    "weight bytes",
                    "requantization bytes",
                    "biases, tables, layer parameters bytes",
                ],
            ),
        ]
    for src, cap in imgs:
        parts.append(f"<h2>{html.escape(cap)}</h2><img src='{src}' alt='{html.escape(cap)}'>")
        if src == "memory_timeline.png":
            mem = data["memory"]
            rows = [
                [f"b{i}", b["name"], _fmt(b["size"]), _fmt(b["offset"]), f"{b['first']}–{b['last']}"]
                for i, b in enumerate(mem["buffers"])
            ]
            parts += [
                '<p class="note">Each rectangle is one buffer of the arena from the first to the last layer that '
                "uses it; window ops may write over their dying input, which is how the plan goes below the "
                "op-at-a-time bound.</p>",
                _table(rows, ["buffer", "tensors", "bytes", "offset", "layers"]),
            ]
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(data.get('title', 'picoml report'))}</title><style>{CSS}</style></head><body>"
        + "\n".join(parts)
        + "<p class='note'>Data: <a href='report.json'>report.json</a>. Generated by picoml.</p></body></html>\n"
    )
    files["index.html"] = page
    write_tree(out, files, force=force, protect=protect)
    return out / "index.html"
