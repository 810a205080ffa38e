"""What the CoLog network costs on this machine's CPU: parameters, inference, a training step.

The default (CPU) configuration against the previous default (hidden 128, projection 512, the
pooled-gate MAL, the event's embedding in the sequence modality) and the paper's sizes (hidden
256, MAL projection 2048, 60 tokens, 4 heads, T = 2), next to the paper's 0.00343 s per sample
on an A100 (Table 12).
Random weights and inputs: cost does not depend on what the model learned.

    .venv/bin/python benchmarks/model_cost.py [--repeats 20] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colog.app.reporting import replace_section  # noqa: E402
from colog.core.model.config import ModelConfig  # noqa: E402
from colog.core.model.network import CoLog, parameter_counts  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Model cost (benchmarks/model_cost.py)"
PAPER_A100_S_PER_SAMPLE = 0.00343
VOCAB = 30522  # all-MiniLM-L6-v2 word pieces


def make_inputs(config: ModelConfig, batch: int, real_tokens: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1000, VOCAB, (batch, config.max_tokens), generator=g)
    tokens[:, real_tokens:] = 0
    k = config.context_length
    return tokens, torch.randn(batch, k, 384, generator=g), torch.ones(batch, k)


def timed(fn, repeats: int) -> float:
    """Fastest of `repeats` calls after two warm-up calls: on a shared CPU the least
    disturbed run is the best estimate of what the computation itself costs."""
    fn()
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return min(samples)


def measure(name: str, config: ModelConfig, real_tokens: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = CoLog(config, pretrained_tokens=False)
    counts = parameter_counts(model)
    model.eval()
    row = {"name": name, "real_tokens": real_tokens, **counts}
    with torch.no_grad():
        for batch in (1, 64):
            inputs = make_inputs(config, batch, real_tokens)
            runs = repeats if batch == 1 else max(3, repeats // 4)
            seconds = timed(lambda inputs=inputs: model(*inputs), runs)
            row[f"b{batch}_s_per_sample"] = seconds / batch
            row[f"b{batch}_samples_per_s"] = batch / seconds
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-4)
    tokens, sequence, mask = make_inputs(config, 32, real_tokens)
    targets = torch.randint(0, config.num_classes, (32,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(tokens, sequence, mask).logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    row["train_step_s"] = timed(step, max(3, repeats // 4))
    return row


def report(rows: list[dict]) -> str:
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__} with {torch.get_num_threads()} threads; load average at the end "
        f"{os.getloadavg()[0]:.1f} (shared machine: other jobs ran, so treat figures as rough). "
        "Best of repeated runs, random weights, window W = 1 (context, K = 3), 2 classes.",
        "",
        "| configuration | real tokens | parameters (trainable / frozen) | batch 1: s/sample "
        "| batch 1: samples/s | batch 64: s/sample | batch 64: samples/s | train step, batch 32 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['real_tokens']} | {r['total'] / 1e6:.2f} M "
            f"({r['trainable'] / 1e6:.2f} M / {r['frozen'] / 1e6:.2f} M) "
            f"| {r['b1_s_per_sample']:.5f} | {r['b1_samples_per_s']:.0f} "
            f"| {r['b64_s_per_sample']:.5f} | {r['b64_samples_per_s']:.0f} "
            f"| {r['train_step_s']:.3f} s |")
    lines += [
        f"| paper (Table 12), A100 GPU | 60 | — | — | — | {PAPER_A100_S_PER_SAMPLE} | "
        f"{1 / PAPER_A100_S_PER_SAMPLE:.0f} | — |",
        "",
        "Frozen parameters are the all-MiniLM-L6-v2 word-piece embeddings (30522 × 384) the "
        "semantic modality starts from; they are stored in the model directory but not trained. "
        "\"real tokens\" is how many of the 60 positions hold word pieces: the model skips "
        "columns that are padding in every row of a batch, so typical short log lines (about 20 "
        "pieces) cost less than the padded worst case (60). The paper's figure is per sample on "
        "a GPU and includes its own pipeline; ours is the network's forward pass alone.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: one serving instance per core; more threads "
                        "on a busy shared CPU stall in thread barriers)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default = ModelConfig(vocab_size=VOCAB)
    previous = default.replace(hidden=128, projection=512, mal="gate",
                               event_embedding="sequence", standardise_embeddings=False)
    paper = default.paper_sizes()
    default_name = f"default (hidden {default.hidden}, projection {default.projection})"
    rows = []
    for name, config, real in ((default_name, default, 20), (default_name, default, 60),
                               ("previous default (hidden 128, projection 512)", previous, 20),
                               ("previous default (hidden 128, projection 512)", previous, 60),
                               ("paper sizes (hidden 256, projection 2048)", paper, 20),
                               ("paper sizes (hidden 256, projection 2048)", paper, 60)):
        row = measure(name, config, real, args.repeats)
        print(row, flush=True)
        rows.append(row)
    text = report(rows)
    print(text)
    if not args.no_write:
        replace_section(RESULTS, SECTION, text)
        print(f"wrote the section to {RESULTS}")


if __name__ == "__main__":
    main()
