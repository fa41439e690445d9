"""Text encoders the tiers run on: loaded once from shipped files, no torch, no network."""

from __future__ import annotations

import json
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

MODELS = Path(__file__).parent / "models"


def encoder_fine_tuned(path: Path = MODELS / "encoder") -> bool:
    """Whether the accurate tier's encoder was fine-tuned on the shipped labels."""
    pooling = path / "pooling.json"
    return pooling.is_file() and bool(json.loads(pooling.read_text()).get("fine_tuned"))


def static_fine_tuned(path: Path = MODELS / "static") -> bool:
    """Whether the static embeddings were tuned on the shipped labels (scripts/tune_static.py)."""
    marker = path / "tuned.json"
    return marker.is_file() and bool(json.loads(marker.read_text()).get("fine_tuned"))


class StaticEncoder:
    """model2vec static embeddings (distilled from MiniLM): tens of thousands of texts/s."""

    name = "static"
    max_chars = 2000  # a longer text is read from its first 2,000 characters

    def __init__(self, path: Path = MODELS / "static", model: Any = None) -> None:
        """Load the static model in `path`, or wrap an already loaded one (`model`)."""
        from model2vec import StaticModel

        self.model = model if model is not None else StaticModel.from_pretrained(str(path))
        self.dim = int(self.model.dim)
        # float32 once here: a sparse product with the shipped float16 table upcasts it on every call
        self.table = np.asarray(self.model.embedding, dtype=np.float32)

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Mean token vectors, L2-normalised, as model2vec's `encode` gives them.

        The mean is one sparse-by-dense product (texts x vocabulary, 1/length per token)
        instead of model2vec's gather per text length: 1.7-1.8x faster on 2 cores (median of
        five calls over the benchmark's 20,000 texts), and float32 where model2vec rounds to
        the table's float16.
        """
        model = self.model
        clipped = [t[: self.max_chars] for t in texts]
        if model.token_mapping is not None or model.weights is not None:  # a layout this shortcut does not cover
            return np.asarray(model.encode(clipped, show_progress_bar=False, use_multiprocessing=False),
                              dtype=np.float32)
        encodings = model.tokenizer.encode_batch_fast(clipped, add_special_tokens=False)
        ids = [e.ids[: model.max_length] if model.max_length else e.ids for e in encodings]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        if model.unk_token_id is not None:  # model2vec drops unknown tokens from the mean
            known = flat != model.unk_token_id
            lengths = np.bincount(np.repeat(np.arange(len(ids)), lengths)[known], minlength=len(ids))
            flat = flat[known]
        share = np.repeat((1.0 / np.maximum(lengths, 1)).astype(np.float32), lengths)
        mean = csr_matrix((share, flat, np.concatenate([[0], np.cumsum(lengths)])),
                          shape=(len(ids), len(self.table))) @ self.table
        mean = np.asarray(mean, dtype=np.float32)
        if model.normalize:
            mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
        return mean


def read_pooling(path: Path) -> dict[str, Any]:
    """An encoder folder's `pooling.json` (see OnnxEncoder), empty when it has none."""
    pooling_path = path / "pooling.json"
    return json.loads(pooling_path.read_text()) if pooling_path.is_file() else {}


class EncoderInputs:
    """Padded token ids and attention mask for an encoder folder's texts: one recipe shared
    by serving and by fine-tuning (scripts/finetune_encoder.py), so the two cannot drift."""

    #: Characters read per text; far more than `max_tokens` tokens, and it bounds tokenising time.
    max_chars = 4000

    def __init__(self, path: Path, max_tokens: int = 128) -> None:
        from tokenizers import Tokenizer

        pooling = read_pooling(path)
        self.prefix = str(pooling.get("prefix", ""))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=int(pooling.get("pad_id", 0)))

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = self.tokenizer.encode_batch([self.prefix + t[: self.max_chars] for t in texts])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        return ids, mask


class OnnxEncoder:
    """A transformer sentence encoder through ONNX Runtime (int8), mean-pooled.

    The folder holds one `*.onnx` file, `tokenizer.json` and optionally `pooling.json`:
    `normalise` (L2, default true; a fine-tuned encoder's heads read the raw mean),
    `prefix` (prepended to every text, as E5 models expect `"query: "`) and `pad_id`.
    The accurate tier runs all-MiniLM-L6-v2 fine-tuned on the shipped labels (`encoder/`);
    the ensemble tier adds multilingual-e5-small, its top layers fine-tuned too (`e5/`).
    """

    def __init__(self, path: Path = MODELS / "encoder", max_tokens: int = 128, batch_size: int = 8,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        onnx_files = sorted(path.glob("*.onnx"))
        if len(onnx_files) != 1:
            raise FileNotFoundError(f"{path} should hold exactly one .onnx encoder, found {len(onnx_files)}")
        self.name = path.name
        self.normalise = bool(read_pooling(path).get("normalise", True))
        self.tokenise = EncoderInputs(path, max_tokens)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_files[0]), options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding, and so the work per batch, small. Small batches
        # are as fast on CPU and keep ONNX Runtime's arena small (batch 64 held ~400 MB more).
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            index = order[start : start + self.batch_size]
            ids, mask = self.tokenise([texts[i] for i in index])
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.input_names})[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            if self.normalise:
                pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)
            out[index] = pooled
        return out
