"""A network's anatomy: which blocks run, in what order, with what output shapes and how many parameters.

``trace_shapes`` runs one forward pass with a forward hook on every block and records each call, with the
earlier blocks its inputs come from (``DataFlow``); ``skip_connections`` and ``embedding_inputs`` read the
skips and the places where an embedding enters off such a trace; ``parameter_table`` counts the parameters
block by block; ``format_table`` prints either as text; ``source_lines`` finds the lines of a function's
source that mention a name (where t and y enter); ``plot_trace`` draws a trace as the letter U (resolution
against the order the blocks run in) with its skips and embedding inputs; ``blocks_changed`` runs a model on
two inputs and says which blocks' outputs differ (where t and y enter).
A *block* is a direct child of the model, with ``nn.ModuleList`` containers opened one level
(``down_convs.0``, ``down_convs.1``, …), so the names match the attributes in the model's source.
"""

from __future__ import annotations

import inspect
import re

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..unet import count_parameters


def model_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's blocks as ``(name, module)``, in registration order; ``nn.ModuleList`` is opened."""
    blocks = []
    for name, child in model.named_children():
        if isinstance(child, nn.ModuleList):
            blocks += [(f"{name}.{i}", m) for i, m in enumerate(child)]
        else:
            blocks.append((name, child))
    return blocks


def shape_text(x) -> str:
    """A tensor's shape as "[1, 32, 28, 28]" (of a tuple's or list's first item); "-" for anything else."""
    if isinstance(x, torch.Tensor):
        return "[" + ", ".join(str(s) for s in x.shape) + "]"
    if isinstance(x, (tuple, list)) and x:
        return shape_text(x[0])
    return "-"


MERGES = {"add": "add", "add_": "add", "__add__": "add", "__radd__": "add", "__iadd__": "add",
          "cat": "cat", "concat": "cat", "concatenate": "cat"}


class DataFlow(TorchFunctionMode):
    """Follow, between the blocks, which block outputs each tensor is made from, and how they were merged.

    Inside ``with DataFlow() as flow:``, every torch operation that runs outside the blocks (none of those
    running inside a block, between ``flow.start()`` and ``flow.end(name, output)``) hands its inputs'
    origins on to its output. An operation that combines tensors of different origins is a *merge*, named
    ``"add"`` (``+``) or ``"cat"`` (``torch.cat``); the origins it combines keep that name. ``flow.start(args)``
    returns where a block's arguments come from: one ``{"block": name, "via": how}`` per earlier block, where
    ``how`` is the merge that brought it into the first argument, ``"input"`` if it arrived there unmerged,
    or ``"argument"`` if it came as another argument (the modern blocks' ``emb``). The model's own inputs
    count as the block ``"(input)"``.
    """

    def __init__(self):
        super().__init__()
        self.depth = 0          # > 0 while a block runs: what happens inside it is the block's own business
        self.origin = {}        # id(tensor) → {block name: how it was merged, or None}
        self.alive = []         # every tensor in ``origin``, kept alive so that no other tensor reuses its id

    def tag(self, tensor, origin):
        if isinstance(tensor, torch.Tensor):
            self.origin[id(tensor)] = dict(origin)
            self.alive.append(tensor)
        elif isinstance(tensor, (tuple, list)):
            for item in tensor:
                self.tag(item, origin)

    def origins(self, value) -> list[dict]:
        """The origins of every tensor in ``value`` (a tensor, or nested tuples, lists and dicts of them)."""
        if isinstance(value, torch.Tensor):
            return [self.origin[id(value)]] if id(value) in self.origin else []
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (tuple, list)):
            return [o for item in value for o in self.origins(item)]
        return []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.depth == 0:
            found = [o for o in self.origins((args, kwargs)) if o]
            merged = {}
            how = MERGES.get(getattr(func, "__name__", ""), getattr(func, "__name__", "op"))
            distinct = len({tuple(sorted(o)) for o in found}) > 1
            for o in found:
                for block, via in o.items():
                    merged.setdefault(block, via or (how if distinct else None))
            if merged:
                self.tag(out, merged)
        return out

    def start(self, args) -> list[dict]:
        """A block is called with ``args``: where they come from (see the class docstring)."""
        sources = {}
        if self.depth == 0:
            for position, arg in enumerate(args):
                for o in self.origins(arg):
                    for block, via in o.items():
                        sources.setdefault(block, (via or "input") if position == 0 else "argument")
        self.depth += 1
        return [{"block": block, "via": via} for block, via in sources.items()]

    def end(self, name, output):
        """The block ``name`` returned ``output``: from here on, that tensor comes from ``name``."""
        self.depth -= 1
        if self.depth == 0:
            self.tag(output, {name: None})


def trace_shapes(model: nn.Module, *args, keep_outputs: bool = False, **kwargs) -> list[dict]:
    """Run ``model(*args, **kwargs)`` once (no gradients) and record every block call, in call order.

    Returns one dict per call: ``step`` (0, 1, …), ``block`` (its name), ``type`` (its class name),
    ``in_shape`` (of the first tensor argument), ``out_shape``, ``params`` (the block's own count) and
    ``sources`` (the earlier blocks its arguments come from, and how: see ``DataFlow``); with
    ``keep_outputs=True`` also ``output``, a detached copy of the block's output tensor.
    The hooks are removed afterwards, even if the forward pass fails; a block that is not called
    (an unused class embedding, say) does not appear.
    """
    calls, handles, flow, started = [], [], DataFlow(), []

    def before(module, inputs):
        started.append(flow.start(inputs))

    def make_hook(name):
        def after(module, inputs, output):
            row = {"step": len(calls), "block": name, "type": type(module).__name__,
                   "in_shape": shape_text(inputs), "out_shape": shape_text(output), "params": count_parameters(module),
                   "sources": started.pop()}
            if keep_outputs:
                row["output"] = output.detach().clone() if isinstance(output, torch.Tensor) else output
            calls.append(row)
            flow.end(name, output)
        return after

    try:
        for name, module in model_blocks(model):
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(make_hook(name)))
        with torch.no_grad(), flow:
            flow.tag(list(args) + list(kwargs.values()), {"(input)": None})
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return calls


def is_feature_map(call) -> bool:
    return len(shape_dims(call["out_shape"])) == 4


def skip_connections(calls: list[dict]) -> list[dict]:
    """The skips in a ``trace_shapes`` result: feature maps that reach a later block other than by the main path.

    The main path into a block is the feature map computed just before it; any other earlier feature map
    among its ``sources`` is a skip. Returns ``{"from": block, "to": block, "via": "add" | "cat" | …}`` in
    call order: the seed U-Net's skips are added, the modern one's concatenated.
    """
    skips, previous = [], None
    for call in calls:
        maps = {c["block"] for c in calls[: call["step"]] if is_feature_map(c)}
        for source in call.get("sources", []):
            if source["block"] in maps and source["block"] != previous:
                skips.append({"from": source["block"], "to": call["block"], "via": source["via"]})
        if is_feature_map(call):
            previous = call["block"]
    return skips


def embedding_inputs(calls: list[dict]) -> list[dict]:
    """Where embeddings enter, in a ``trace_shapes`` result: a block whose output is a vector [B, D] (the time or
    class embedding) among the sources of a block that outputs a feature map.

    Returns ``{"from": embedding block, "to": block, "via": how}``: ``"add"`` when the vector is added to the
    feature map on its way into the block (the seed U-Net, once), ``"argument"`` when the block takes it as an
    argument of its own (every residual block of the modern U-Net).
    """
    vectors = {c["block"] for c in calls if len(shape_dims(c["out_shape"])) == 2}
    return [{"from": s["block"], "to": c["block"], "via": s["via"]}
            for c in calls if is_feature_map(c) for s in c.get("sources", []) if s["block"] in vectors]


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


def shape_dims(shape: str) -> tuple:
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
