"""Drawing a traced network (``helpers.viz.inspect_model.trace_shapes``): the U of resolutions against block
order, with its skip connections and the blocks that receive the time (and class) embedding."""

from __future__ import annotations

import math

import torch

from .inspect_model import embedding_inputs, is_feature_map, shape_dims, skip_connections


def plot_trace(calls: list[dict], ax=None, title: str | None = None):
    """Draw a ``trace_shapes`` result: each block's output resolution (height) in the order the blocks run.

    Feature maps are dots labelled with their channel count, so the encoder goes down and the decoder
    comes back up; blocks whose output is a vector (an embedding [B, D]) are triangles on a row of their
    own, labelled with D. Skips (``skip_connections``) are arcs from the encoder's map to the point where
    they join the decoder's path (solid: added; dashed: concatenated). Where an embedding enters
    (``embedding_inputs``): an arrow from its triangle to the point where it is added to the path, or a
    ring around each block that takes it as an argument. Returns the matplotlib Figure; the skip arcs and
    the embedding arrows carry the gid ``"skip"`` and ``"embedding"``, the rings the gid ``"embedding-ring"``
    (dotted lines lead to them from the embedding row).
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(calls) + 2), 4.2))
    else:
        fig = ax.figure
    dims = {c["block"]: shape_dims(c["out_shape"]) for c in calls}
    step = {c["block"]: c["step"] for c in calls}
    maps = [c for c in calls if is_feature_map(c)]
    xs, hs = [c["step"] for c in maps], [dims[c["block"]][2] for c in maps]
    ax.plot(xs, hs, "-", color="0.75", zorder=1)
    ax.scatter(xs, hs, s=40, color="C0", zorder=3, label="feature map (label: channels)")
    for x, h, c in zip(xs, hs, maps):
        ax.annotate(str(dims[c["block"]][1]), (x, h), textcoords="offset points", xytext=(0, -12), ha="center",
                    fontsize=8, zorder=5, bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none"))
    low = min(hs) if hs else 1
    emb_y = low / 2
    vec = [c for c in calls if len(dims[c["block"]]) == 2]
    if vec:
        ax.scatter([c["step"] for c in vec], [emb_y] * len(vec), marker="^", s=60, color="C3", zorder=3,
                   label="embedding vector (label: size)")
        for c in vec:
            ax.annotate(str(dims[c["block"]][1]), (c["step"], emb_y), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8, color="C3")

    def point(block):
        return step[block], dims[block][2]

    def joint(block):
        """Where something joins the path into ``block``: halfway along the segment from the map before it."""
        i = [c["block"] for c in maps].index(block)
        (x0, h0), (x1, h1) = (point(maps[i - 1]["block"]) if i else (step[block] - 1, dims[block][2])), point(block)
        return (x0 + x1) / 2, (h0 * h1) ** 0.5

    skips = skip_connections(calls)
    spans = [(step[s["from"]], joint(s["to"])[0], dims[s["from"]][2]) for s in skips]
    top = max(hs or [1])
    for s, (x0, x1, h) in zip(skips, spans):
        nested = sum(1 for a, b, g in spans if g == h and x0 < a and b < x1)     # arcs inside this one go lower
        bump = 0.35 + 0.3 * nested                                                # in octaves (log2 of the height)
        (xa, ha), (xb, hb) = point(s["from"]), joint(s["to"])
        u = torch.linspace(0, 1, 41)
        xc = (1 - u) * xa + u * xb
        hc = 2 ** ((1 - u) * math.log2(ha) + u * math.log2(hb) + 4 * bump * u * (1 - u))
        style = "-" if s["via"] == "add" else "--"
        line, = ax.plot(xc.tolist(), hc.tolist(), style, color="C2", lw=1.3, zorder=2)
        line.set_gid("skip")
        ax.annotate("", xy=(xb, hb), xytext=(float(xc[-3]), float(hc[-3])),
                    arrowprops=dict(arrowstyle="-|>", color="C2", lw=1.3, shrinkA=0, shrinkB=0), zorder=2)
        top = max(top, float(hc.max()))

    entries = embedding_inputs(calls)
    added = [e for e in entries if e["via"] != "argument"]
    for e in added:
        # along the embedding row, then straight up to the joint: not through the blocks in between
        arrow = ax.annotate("", xy=joint(e["to"]), xytext=(step[e["from"]], emb_y),
                            arrowprops=dict(arrowstyle="-|>", color="C3", lw=1.3, shrinkA=5, shrinkB=0,
                                            connectionstyle="angle,angleA=0,angleB=90,rad=0"), zorder=2)
        arrow.set_gid("embedding")
    for block in dict.fromkeys(e["to"] for e in added):
        x, h = joint(block)
        ax.annotate("+", (x, h), textcoords="offset points", xytext=(7, -4), fontsize=11, color="C3",
                    fontweight="bold")
    told = list(dict.fromkeys(e["to"] for e in entries if e["via"] == "argument"))
    if told:
        rings = ax.scatter([step[b] for b in told], [dims[b][2] for b in told], s=150, facecolors="none",
                           edgecolors="C3", linewidths=1.5, zorder=4, label="block told the embedding (an argument)")
        rings.set_gid("embedding-ring")
        sources = [step[e["from"]] for e in entries if e["via"] == "argument"]
        ax.plot([min(sources), max(step[b] for b in told)], [emb_y, emb_y], ":", color="C3", lw=0.9, zorder=1)
        for b in told:                       # a dotted line from the embedding row up to each block told it
            ax.plot([step[b], step[b]], [emb_y, dims[b][2]], ":", color="C3", lw=0.9, zorder=1)

    handles, labels = ax.get_legend_handles_labels()
    for via, text in (("add", "skip, added"), ("cat", "skip, concatenated")):
        if any(s["via"] == via for s in skips):
            handles.append(Line2D([], [], color="C2", ls="-" if via == "add" else "--"))
            labels.append(text)
    if added:
        handles.append(Line2D([], [], color="C3", marker=">", markersize=5))
        labels.append("embedding added to the path")
    ax.set_yscale("log", base=2)
    ticks = sorted(set(hs) | ({emb_y} if vec else set()))
    ax.set_yticks(ticks)
    ax.set_yticklabels([("emb" if vec and h == emb_y else f"{h:g}") for h in ticks])
    ax.minorticks_off()
    ax.set_ylim((emb_y if vec else low) / 1.6, top * 1.25)
    ax.set_xlim(-0.7, len(calls) - 0.3)
    ax.set_xticks([c["step"] for c in calls])
    ax.set_xticklabels([c["block"] for c in calls], rotation=90, fontsize=8)
    ax.set_xlabel("block, in the order the blocks run")
    ax.set_ylabel("height of the output (pixels)")
    ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
