"""Build the shipped classifier model: heads fitted on labels, plus a fine-tuned encoder's heads.

`worksignal train` fits linear heads over the shipped encoders. When the fast tier's static
vectors were tuned on the same labels (`scripts/tune_static.py --save`), the fast heads'
own Platt scaling and the escalation threshold come from texts the vectors had seen and
would be overconfident; `--fast-oof` refits both on the out-of-fold scores of
`tune_static.py --cv K --oof F`, and fits there the blend of the fast tier's work head with
the hashed n-gram work head. When the accurate tier's
encoder was fine-tuned (`scripts/finetune_encoder.py --save DIR`, then
`scripts/build_encoders.py --from DIR`), its own work and topic-group heads were trained
with it; heads refitted on the very texts it was tuned on would be overconfident, so this
script takes the fine-tuned ones for the accurate tier (its work head is blended with the
hashed n-gram head, with weights fitted on both heads' out-of-fold probabilities) and keeps the refitted topic and intent heads within each group.
The ensemble tier takes the accurate tier's heads and adds a work head over frozen
multilingual-e5 vectors (fitted on the labels and the corpus), blended with the other two
work views on out-of-fold probabilities of all three; the accurate tier's least sure
`--deepen-share` of texts (out of fold) set the threshold that sends texts on to it.
All tiers' work probabilities are calibrated on the first --labels file; the model serves
them moved to `--work-prior` (the escalation thresholds are set there).

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
from worksignal.classify.model import (
    HEADS,
    NGRAM_HEADS,
    TIERS,
    Encoders,
    logit,
    prior_shift,
    sigmoid,
)
from worksignal.classify.train import (
    DEFAULT_DEEPEN_SHARE,
    DEFAULT_WORK_PRIOR,
    E5_CORPUS_WEIGHT,
    corpus_rows,
    deepen_threshold,
    e5_description,
    e5_out_of_fold,
    fast_blend,
    fit_blend,
    fit_e5_head,
    heads_digest,
    ngram_out_of_fold,
    read_labelled,
    train,
)


def platt_from_oof(oof_path: Path, work: np.ndarray) -> tuple[tuple[float, float], np.ndarray]:
    """Platt scaling for a fine-tuned work head, fitted on its out-of-fold probabilities
    (finetune_encoder.py --cv K --oof F over the same labels), so it is fitted on unseen text;
    with those probabilities so scaled."""
    p = np.load(oof_path)["work"]
    if len(p) != len(work) or np.isnan(p).any():
        raise SystemExit(f"{oof_path} does not hold one out-of-fold probability per labelled row")
    a, b = fit_platt(logit(p), work == 1)
    return (a, b), sigmoid(a * logit(p) + b)


def resave_tier(path: Path, heads: dict[str, LinearHead], arrays: dict[str, np.ndarray]) -> None:
    """Write a tier's changed heads back, keeping the arrays that are not heads."""
    save_heads(path, heads, {k: v for k, v in arrays.items() if k == "train_hashes"})


def calibrate_fast(model_dir: Path, oof_path: Path, work: np.ndarray, ngram_p: np.ndarray,
                   work_prior: float) -> tuple[dict[str, float | None], np.ndarray]:
    """The fast work head's Platt scaling, its blend with the n-gram work head and the
    escalation threshold, from the out-of-fold scores of per-fold tuned static vectors
    (tune_static.py --cv K --oof F) and of the n-gram head, same folds; with the fast tier's
    out-of-fold work probabilities as served."""
    score = np.load(oof_path)["work_score"]
    if len(score) != len(work) or np.isnan(score).any():
        raise SystemExit(f"{oof_path} does not hold one out-of-fold score per labelled row")
    a, b = fit_platt(score, work == 1)
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    blend, thresholds, fast_p = fast_blend(sigmoid(a * score + b), ngram_p, work, manifest["thresholds"]["escalate_share"],
                                   work_prior)
    path = model_dir / "fast.npz"
    heads, arrays = load_heads(path, list(HEADS))
    heads["work"].platt = (a, b)
    heads["work_blend"] = blend
    resave_tier(path, heads, arrays)
    manifest["thresholds"] = thresholds
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return thresholds, fast_p


def padded(head: LinearHead, width: int, at_end: bool = True) -> LinearHead:
    """`head` over a wider feature layout: zero weights for the columns it does not read."""
    weights = np.zeros((width, head.weights.shape[1]), dtype=np.float32)
    if at_end:
        weights[width - head.weights.shape[0]:] = head.weights
    else:
        weights[: head.weights.shape[0]] = head.weights
    return LinearHead(head.classes, weights, head.bias, head.platt)


def build_ensemble(model_dir: Path, encoders: Encoders, first: list[dict], work: np.ndarray, dense_p: np.ndarray,
                   ngram_p: np.ndarray, fast_p: np.ndarray, work_prior: float, deepen_share: float,
                   e5_heads: Path | None = None, e5_oof: Path | None = None) -> float:
    """The ensemble tier from the accurate tier's heads plus an e5 work head, with the blend of
    the three work views fitted on out-of-fold probabilities; returns the deepening threshold.

    With `e5_heads` (finetune_encoder.py --base e5 --save) the e5 encoder was fine-tuned and
    its own work head is taken, Platt-scaled on `e5_oof` (its --cv K --oof over the same
    labels); otherwise a head is fitted over the frozen e5 vectors."""
    if e5_heads is not None:
        if e5_oof is None:
            raise SystemExit("--e5-heads needs --e5-calibrate-with (finetune_encoder.py --base e5 --cv K --oof F)")
        e5_head = load_heads(e5_heads, ["work"])[0]["work"]
        e5_head.platt, e5_p = platt_from_oof(e5_oof, work)
        width_e5 = e5_head.weights.shape[0]
        described = "a work head fine-tuned with e5"
    else:
        corpus = corpus_rows(E5_CORPUS_WEIGHT)
        x = encoders.encode("e5", [r["text"] for r in first])
        x_corpus = encoders.encode("e5", [r["text"] for r in corpus])
        work_corpus = np.array([int(r["work"]) for r in corpus])
        weight_corpus = np.array([float(r.get("weight", 1.0)) for r in corpus])
        e5_p = e5_out_of_fold(x, work, x_corpus, work_corpus, weight_corpus)
        e5_head = fit_e5_head(np.vstack([x, x_corpus]), np.concatenate([work, work_corpus]),
                              np.concatenate([np.ones(len(work)), weight_corpus]))
        width_e5 = x.shape[1]
        described = "a work head over e5 (labels and corpus)"
    blend = fit_blend(dense_p, ngram_p, work, e5_p)
    accurate, arrays = load_heads(model_dir / "accurate.npz", list(HEADS))
    width = accurate["topic"].weights.shape[0] + width_e5
    heads = {name: padded(head, width, at_end=False) for name, head in accurate.items() if name != "work_blend"}
    heads["work_e5"], heads["work_blend"] = padded(e5_head, width), blend
    resave_tier(model_dir / "ensemble.npz", heads, arrays)
    shift = prior_shift(float(np.mean(work)), work_prior)
    accurate_blend = accurate["work_blend"].proba(np.column_stack([logit(dense_p), logit(ngram_p)]))[:, 1]
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    below = deepen_threshold(fast_p, sigmoid(logit(accurate_blend) + shift), manifest["thresholds"]["escalate_below"],
                             deepen_share)
    manifest["thresholds"] |= {"deepen_below": round(below, 6), "deepen_share": deepen_share}
    manifest["tiers"]["ensemble"] = {"encoder": f"the accurate tier's + {e5_description()}",
                                     "heads": f"the accurate tier's, plus {described} "
                                              "blended with the accurate tier's two work views"}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return below


def adopt_encoder_heads(model_dir: Path, heads_path: Path, platt: tuple[float, float] | None = None,
                        blend: LinearHead | None = None) -> None:
    """Put the fine-tuned heads (and the blend of the work heads) into the accurate tier,
    padded to its feature layout."""
    tuned, _ = load_heads(heads_path, ["work", "group"])
    if platt is not None:
        tuned["work"].platt = platt
    path = model_dir / "accurate.npz"
    heads, arrays = load_heads(path, list(HEADS))
    width = heads["topic"].weights.shape[0]  # static features first, then the encoder's 384
    heads |= {name: padded(head, width) for name, head in tuned.items()}
    if blend is not None:
        heads["work_blend"] = blend
    resave_tier(path, heads, arrays)
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tiers"]["accurate"]["heads"] = ("work and topic group from the fine-tuned encoder"
                                              + (", work blended with the n-gram head" if blend else "")
                                              + "; topic and intent refitted")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


def restamp(model_dir: Path) -> str:
    """A new version suffix from the heads as finally written (any refit relabels)."""
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    digest = heads_digest([load_heads(model_dir / f"{tier}.npz", list(HEADS))[0] for tier in TIERS]
                          + [load_heads(model_dir / "ngrams.npz", list(NGRAM_HEADS))[0]], manifest["thresholds"])
    manifest["version"] = manifest["version"].rsplit("-", 1)[0] + "-" + digest
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return str(manifest["version"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, nargs="+", required=True)
    parser.add_argument("--encoder-heads", type=Path, help="heads.npz written by finetune_encoder.py --save")
    parser.add_argument("--calibrate-with", type=Path, help="out-of-fold npz from finetune_encoder.py --cv over the first --labels")
    parser.add_argument("--fast-oof", type=Path, help="out-of-fold npz from tune_static.py --cv over the first --labels")
    parser.add_argument("--e5-heads", type=Path, help="heads.npz written by finetune_encoder.py --base e5 --save")
    parser.add_argument("--e5-calibrate-with", type=Path,
                        help="out-of-fold npz from finetune_encoder.py --base e5 --cv over the first --labels")
    parser.add_argument("--work-prior", type=float, default=DEFAULT_WORK_PRIOR,
                        help="work share the model serves at unless the work_prior setting says otherwise")
    parser.add_argument("--deepen-share", type=float, default=DEFAULT_DEEPEN_SHARE,
                        help="share of texts the accurate tier passes on to the ensemble tier")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "src/worksignal/classify/models")
    args = parser.parse_args()
    rows = read_labelled(args.labels) + corpus_rows()
    model = train(rows, args.out, sources=[p.name for p in args.labels] + ["worksignal corpus"], work_prior=args.work_prior,
          progress=print)
    first = read_labelled(args.labels[:1])
    work = np.array([int(r["work"]) for r in first])
    if args.fast_oof or args.calibrate_with:
        print("n-gram head, out of fold over the first --labels", flush=True)
        ngram_p = ngram_out_of_fold(first, corpus_rows(), group=False)["work"]
    if args.fast_oof:
        thresholds, fast_p = calibrate_fast(args.out, args.fast_oof, work, ngram_p, args.work_prior)
        print(f"escalating below fast-tier confidence {thresholds['escalate_below']:.4f} "
              f"(work probabilities calibrated at a work share of {thresholds['calibration_work_share']:.3f}, "
              f"served at {args.work_prior})")
    if args.encoder_heads:
        platt = blend = None
        if args.calibrate_with:
            platt, dense = platt_from_oof(args.calibrate_with, work)
            blend = fit_blend(dense, ngram_p, work)
        adopt_encoder_heads(args.out, args.encoder_heads, platt, blend)
        if args.fast_oof and args.calibrate_with:
            below = build_ensemble(args.out, model.encoders, first, work, dense, ngram_p, fast_p, args.work_prior,
                                   args.deepen_share, args.e5_heads, args.e5_calibrate_with)
            print(f"passing on to the ensemble tier below accurate-tier confidence {below:.4f}")
    print(f"wrote model {restamp(args.out)} ({len(rows):,} rows) to {args.out}")


if __name__ == "__main__":
    main()
