"""Notebook 09's summary for a shipped checkpoint: quality against DDIM steps (η = 0 and η = 1), DDPM over all
T steps, quality against the guidance scale, the three references and the nearest-neighbour check.

    python -m benchmarks.evaluation --n 160          # exactly notebook 09's numbers (full mode)
    python -m benchmarks.evaluation --n 2000 --out evaluation-2000

It calls ``helpers.summary.evaluate``, as the notebook does, with the notebook's seed and batch; the
README's evaluation table is ``helpers.summary.summary_table`` of benchmarks/results/evaluation.json.
"""

from __future__ import annotations

import torch

from benchmarks.common import checkpoint_parser, hardware, write_results
from helpers.metrics import QualityEvaluator
from helpers.pretrained import load_pretrained
from helpers.summary import evaluate, summary_table


def main(argv=None):
    args = checkpoint_parser(__doc__, out="evaluation", batch=64, n=160).parse_args(argv)
    torch.set_num_threads(args.threads)
    model, schedule, metadata = load_pretrained(args.model, return_metadata=True)
    print(f"hardware: {hardware()}", flush=True)
    results = evaluate(model, schedule, QualityEvaluator(metadata["dataset"]), args.n, seed=args.seed,
                       batch=args.batch)
    print(summary_table(results))
    write_results(args.out, {"model": args.model, "epochs": metadata.get("epochs"), **results})


if __name__ == "__main__":
    main()
