"""A network's anatomy: which blocks run, in what order, with what output shapes and how many parameters.

``trace_shapes`` runs one forward pass with a forward hook on every block and records each call;
``parameter_table`` counts the parameters block by block; ``format_table`` prints either as text;
``source_lines`` finds the lines of a function's source that mention a name (where t and y enter);
``plot_trace`` draws a trace as the letter U: resolution against the order the blocks run in;
``blocks_changed`` runs a model on two inputs and says which blocks' outputs differ (where t and y enter).
A *block* is a direct child of the model, with ``nn.ModuleList`` containers opened one level
(``down_convs.0``, ``down_convs.1``, …), so the names match the attributes in the model's source.
"""

from __future__ import annotations

import inspect
import re

import torch
from torch import nn

from .unet import count_parameters


def model_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's blocks as ``(name, module)``, in registration order; ``nn.ModuleList`` is opened."""
    blocks = []
    for name, child in model.named_children():
        if isinstance(child, nn.ModuleList):
            blocks += [(f"{name}.{i}", m) for i, m in enumerate(child)]
        else:
            blocks.append((name, child))
    return blocks


def _shape(x) -> str:
    if isinstance(x, torch.Tensor):
        return "[" + ", ".join(str(s) for s in x.shape) + "]"
    if isinstance(x, (tuple, list)) and x:
        return _shape(x[0])
    return "-"


def trace_shapes(model: nn.Module, *args, keep_outputs: bool = False, **kwargs) -> list[dict]:
    """Run ``model(*args, **kwargs)`` once (no gradients) and record every block call, in call order.

    Returns one dict per call: ``step`` (0, 1, …), ``block`` (its name), ``type`` (its class name),
    ``in_shape`` (of the first tensor argument), ``out_shape`` and ``params`` (the block's own count);
    with ``keep_outputs=True`` also ``output``, a detached copy of the block's output tensor.
    The hooks are removed afterwards, even if the forward pass fails; a block that is not called
    (an unused class embedding, say) does not appear.
    """
    calls = []
    handles = []

    def make_hook(name):
        def hook(module, inputs, output):
            row = {"step": len(calls), "block": name, "type": type(module).__name__,
                   "in_shape": _shape(inputs), "out_shape": _shape(output), "params": count_parameters(module)}
            if keep_outputs:
                row["output"] = output.detach().clone() if isinstance(output, torch.Tensor) else output
            calls.append(row)
        return hook

    try:
        for name, module in model_blocks(model):
            handles.append(module.register_forward_hook(make_hook(name)))
        with torch.no_grad():
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return calls


def parameter_table(model: nn.Module, order=None) -> list[dict]:
    """Trainable parameters per block, plus a last row ``total``.

    Each row: ``block``, ``type``, ``params``, ``share`` (fraction of the total, rounded to 3 places).
    Rows come in registration order, or in ``order`` (block names, or a ``trace_shapes`` result: the order
    the blocks run in; blocks it does not name follow, in registration order). Parameters registered on the
    model itself, outside any block, are listed as ``(model)``.
    """
    total = count_parameters(model)
    rows = [{"block": name, "type": type(m).__name__, "params": count_parameters(m)} for name, m in model_blocks(model)]
    if order is not None:
        names = [o["block"] if isinstance(o, dict) else o for o in order]
        rank = {name: i for i, name in reversed(list(enumerate(names)))}
        rows.sort(key=lambda r: rank.get(r["block"], len(rank)))   # stable: unnamed blocks keep their order
    own = sum(p.numel() for p in model.parameters(recurse=False) if p.requires_grad)
    if own:
        rows.append({"block": "(model)", "type": type(model).__name__, "params": own})
    for r in rows:
        r["share"] = round(r["params"] / total, 3) if total else 0.0
    rows.append({"block": "total", "type": "", "params": total, "share": 1.0})
    return rows


def format_table(rows: list[dict], columns=None, floatfmt=".3f") -> str:
    """Rows of dicts as an aligned text table (numbers right-aligned, ints with thousands separators).

    ``floatfmt``: a format spec for floats, or a dict column → spec (columns not in it use ".3f").
    """
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def cell(v, col):
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            spec = floatfmt.get(col, ".3f") if isinstance(floatfmt, dict) else floatfmt
            return format(v, spec)
        return str(v)

    cells = [[cell(r.get(c, ""), c) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows)
               for c in columns]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def source_lines(obj, pattern: str) -> list[tuple[int, str]]:
    """Lines of ``obj``'s source (a function, method or class) that match the regex ``pattern``.

    Returns ``(line_number_in_file, stripped_line)`` pairs, so a notebook can point at the exact lines,
    e.g. ``source_lines(SeedUNet.forward, r"\\bemb\\b")``.
    """
    lines, first = inspect.getsourcelines(obj)
    rx = re.compile(pattern)
    return [(first + i, line.strip()) for i, line in enumerate(lines) if rx.search(line)]


def plot_trace(calls: list[dict], ax=None, title: str | None = None):
    """Draw a ``trace_shapes`` result: each block's output resolution (height) in the order the blocks run.

    Feature maps are dots labelled with their channel count, so the encoder goes down and the decoder
    comes back up; blocks whose output is a vector (an embedding [B, D]) are marked with a triangle on
    the bottom edge, labelled with D. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(calls) + 2), 3.6))
    else:
        fig = ax.figure
    maps = [(c["step"], _dims(c["out_shape"])) for c in calls]
    xs = [s for s, d in maps if len(d) == 4]
    hs = [d[2] for s, d in maps if len(d) == 4]
    ax.plot(xs, hs, "-", color="0.75", zorder=1)
    ax.scatter(xs, hs, s=40, color="C0", zorder=2, label="feature map (label: channels)")
    for s, d in maps:
        if len(d) == 4:
            ax.annotate(str(d[1]), (s, d[2]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    low = min(hs) if hs else 1
    vec = [(s, d) for s, d in maps if len(d) == 2]
    if vec:
        y = low / 2
        ax.scatter([s for s, _ in vec], [y] * len(vec), marker="^", s=60, color="C3", zorder=2,
                   label="embedding vector (label: size)")
        for s, d in vec:
            ax.annotate(str(d[1]), (s, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8,
                        color="C3")
    ax.set_yscale("log", base=2)
    ticks = sorted({h for h in hs} | ({low / 2} if vec else set()))
    ax.set_yticks(ticks)
    ax.set_yticklabels([("emb" if vec and h == low / 2 else f"{h:g}") for h in ticks])
    ax.set_ylim(low / 2 / 1.6 if vec else low / 1.6, max(hs or [1]) * 1.6)
    ax.set_xticks([c["step"] for c in calls])
    ax.set_xticklabels([c["block"] for c in calls], rotation=90, fontsize=8)
    ax.set_ylabel("height of the output")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _dims(shape: str) -> tuple:
    """"[1, 32, 28, 28]" → (1, 32, 28, 28); "-" → ()."""
    return tuple(int(v) for v in shape.strip("[]").split(",")) if shape.startswith("[") else ()


def blocks_changed(model: nn.Module, inputs_a: tuple, inputs_b: tuple) -> list[dict]:
    """Run ``model(*inputs_a)`` and ``model(*inputs_b)`` and report, block by block, whether the output changed.

    Use it to find where an input enters: change only ``t`` (or only ``y``) between the two calls, and the
    blocks that do not see it give bit-identical outputs. Returns one dict per block call, in call order:
    ``step``, ``block``, ``type``, ``out_shape``, ``changed`` (bool) and ``max_abs_diff`` (float).
    """
    a = trace_shapes(model, *inputs_a, keep_outputs=True)
    b = trace_shapes(model, *inputs_b, keep_outputs=True)
    if [r["block"] for r in a] != [r["block"] for r in b]:
        raise ValueError("the two calls ran different blocks, so they cannot be compared block by block")
    rows = []
    for ra, rb in zip(a, b):
        diff = (ra["output"].float() - rb["output"].float()).abs().max().item() if ra["output"].numel() else 0.0
        rows.append({"step": ra["step"], "block": ra["block"], "type": ra["type"], "out_shape": ra["out_shape"],
                     "changed": not torch.equal(ra["output"], rb["output"]), "max_abs_diff": diff})
    return rows
