"""Build the shipped classifier model: heads fitted on labels, plus a fine-tuned encoder's heads.

`worksignal train` fits linear heads over the shipped encoders. When the fast tier's static
vectors were tuned on the same labels (`scripts/tune_static.py --save`), the fast heads'
own Platt scaling and the escalation threshold come from texts the vectors had seen and
would be overconfident; `--fast-oof` refits both on the out-of-fold scores of
`tune_static.py --cv K --oof F`. When the accurate tier's
encoder was fine-tuned (`scripts/finetune_encoder.py --save DIR`, then
`scripts/build_encoders.py --from DIR`), its own work and topic-group heads were trained
with it; heads refitted on the very texts it was tuned on would be overconfident, so this
script takes the fine-tuned ones for the accurate tier (its work head is blended with the
hashed n-gram head, with weights fitted on both heads' out-of-fold probabilities) and keeps the refitted topic and intent heads within each group.

    python scripts/build_model.py --labels ../shared/data/labels/dev.jsonl \
        --encoder-heads build/tuned/heads.npz --calibrate-with build/oof_ft.npz \
        --fast-oof build/oof_static.npz
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from worksignal.classify.heads import LinearHead, fit_platt, load_heads, save_heads
from worksignal.classify.model import HEADS, TIERS, logit, sigmoid
from worksignal.classify.train import (
    corpus_rows,
    fit_blend,
    heads_digest,
    ngram_out_of_fold,
    read_labelled,
    train,
)


def platt_from_oof(oof_path: Path, labels: Path) -> tuple[float, float]:
    """Platt scaling for the fine-tuned work head, fitted on its out-of-fold probabilities
    (finetune_encoder.py --cv K --oof F over the same labels), so it is fitted on unseen text."""
    p = np.clip(np.load(oof_path)["work"], 1e-6, 1 - 1e-6)
    y = np.array([int(r["work"]) for r in read_labelled([labels])])
    if len(p) != len(y) or np.isnan(p).any():
        raise SystemExit(f"{oof_path} does not hold one out-of-fold probability per row of {labels}")
    return fit_platt(np.log(p / (1 - p)), y == 1)


def resave_tier(path: Path, heads: dict[str, LinearHead], arrays: dict[str, np.ndarray]) -> None:
    """Write a tier's changed heads back, keeping the arrays that are not heads."""
    save_heads(path, heads, {k: v for k, v in arrays.items() if k in ("train_hashes", "ngrams.idf")})


def calibrate_fast(model_dir: Path, oof_path: Path, labels: Path) -> float:
    """Platt scaling for the fast work head and the escalation threshold, both from the
    out-of-fold scores of per-fold tuned static vectors (tune_static.py --cv K --oof F)."""
    score = np.load(oof_path)["work_score"]
    y = np.array([int(r["work"]) for r in read_labelled([labels])])
    if len(score) != len(y) or np.isnan(score).any():
        raise SystemExit(f"{oof_path} does not hold one out-of-fold score per row of {labels}")
    a, b = fit_platt(score, y == 1)
    path = model_dir / "fast.npz"
    heads, arrays = load_heads(path, list(HEADS))
    heads["work"].platt = (a, b)
    resave_tier(path, heads, arrays)
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    confidence = np.abs(sigmoid(a * score + b) - 0.5) * 2
    threshold = float(np.quantile(confidence, manifest["thresholds"]["escalate_share"]))
    manifest["thresholds"]["escalate_below"] = round(threshold, 6)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return threshold


def blend_from_oof(oof_path: Path, labels: Path, platt: tuple[float, float]) -> LinearHead:
    """The accurate tier's blend of its two work heads, fitted on out-of-fold probabilities
    of both: the fine-tuned head's (Platt-scaled) and the n-gram head's, same folds."""
    rows = read_labelled([labels])
    a, b = platt
    dense = sigmoid(a * logit(np.load(oof_path)["work"]) + b)
    return fit_blend(dense, ngram_out_of_fold(rows, corpus_rows()), np.array([int(r["work"]) for r in rows]))


def adopt_encoder_heads(model_dir: Path, heads_path: Path, platt: tuple[float, float] | None = None,
                        blend: LinearHead | None = None) -> str:
    """Put the fine-tuned heads (and the blend of the work heads) into the accurate tier,
    padded to its feature layout."""
    tuned, _ = load_heads(heads_path, ["work", "group"])
    if platt is not None:
        tuned["work"].platt = platt
    path = model_dir / "accurate.npz"
    heads, arrays = load_heads(path, list(HEADS))
    width = heads["topic"].weights.shape[0]  # static features first, then the encoder's 384
    for name, head in tuned.items():
        weights = np.zeros((width, head.weights.shape[1]), dtype=np.float32)
        weights[width - head.weights.shape[0]:] = head.weights
        heads[name] = LinearHead(head.classes, weights, head.bias, head.platt)
    if blend is not None:
        heads["work_blend"] = blend
    resave_tier(path, heads, arrays)
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    digest = heads_digest(load_heads(model_dir / f"{tier}.npz", list(HEADS))[0] for tier in TIERS)
    manifest["version"] = manifest["version"].rsplit("-", 1)[0] + "-" + digest
    manifest["tiers"]["accurate"]["heads"] = ("work and topic group from the fine-tuned encoder"
                                              + (", work blended with the n-gram head" if blend else "")
                                              + "; topic and intent refitted")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return str(manifest["version"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, nargs="+", required=True)
    parser.add_argument("--encoder-heads", type=Path, help="heads.npz written by finetune_encoder.py --save")
    parser.add_argument("--calibrate-with", type=Path, help="out-of-fold npz from finetune_encoder.py --cv over the first --labels")
    parser.add_argument("--fast-oof", type=Path, help="out-of-fold npz from tune_static.py --cv over the first --labels")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "src/worksignal/classify/models")
    args = parser.parse_args()
    rows = read_labelled(args.labels) + corpus_rows()
    model = train(rows, args.out, sources=[p.name for p in args.labels] + ["worksignal corpus"], progress=print)
    if args.fast_oof:
        print(f"escalating below fast-tier confidence {calibrate_fast(args.out, args.fast_oof, args.labels[0]):.4f}")
    platt = platt_from_oof(args.calibrate_with, args.labels[0]) if args.calibrate_with else None
    blend = blend_from_oof(args.calibrate_with, args.labels[0], platt) if args.calibrate_with and platt else None
    version = adopt_encoder_heads(args.out, args.encoder_heads, platt, blend) if args.encoder_heads else model.version
    print(f"wrote model {version} ({len(rows):,} rows) to {args.out}")


if __name__ == "__main__":
    main()
