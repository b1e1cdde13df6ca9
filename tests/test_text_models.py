"""Tests of helpers.text_models: words, tokens and the two text classifiers of notebook 08."""

from __future__ import annotations

import pytest
import torch

from helpers.text_models import SentenceClassifier, TokenizedText, WordModel, build_vocabulary, split_words, train_word_model

TEXTS = [
    "a gorgeous and witty film",
    "a dull , tepid and lifeless film",
    "the plot is thin but the acting is superb",
    "not bad at all",
    "an awful mess of a movie",
    "the film is gorgeous",
]


# --------------------------------------------------------------------------- words and tokens


def test_split_words():
    assert split_words("Effective but too-tepid BIOPIC; it doesn't soar.") == [
        "effective", "but", "too", "tepid", "biopic", "it", "doesn't", "soar"]
    with pytest.raises(TypeError):
        split_words(["a"])


@pytest.mark.parametrize("text, words", [
    ("\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e", ["\u0939\u093f\u0928\u094d\u0926\u0940", "\u092d\u093e\u0937\u093e"]),  # vowel signs and virama kept
    ("e\u0301cole", ["\u00e9cole"]),  # decomposed accent: one word, in NFC
    ("\u00c9cole", ["\u00e9cole"]),  # the same word typed precomposed
    ("\u0130stanbul", ["i\u0307stanbul"]),  # the dot that lower-casing leaves stays in the word
    ("rated 4.5, not 1,000", ["rated", "4.5", "not", "1,000"]),
    ("it ends.the", ["it", "ends", "the"]),
])
def test_split_words_keeps_marks_and_numbers(text, words):
    assert split_words(text) == words


def test_tokenized_text_checks_its_parts():
    with pytest.raises(ValueError, match="every word must own"):
        TokenizedText(("a", "b"), torch.tensor([5, 6]), torch.tensor([0, 0]))
    with pytest.raises(TypeError):
        TokenizedText(("a",), torch.tensor([5.0]), torch.tensor([0]))


def test_minilm_tokens_belong_to_their_words():
    minilm = SentenceClassifier()
    tokens = minilm.tokenize("Effective but too tepid biopic")
    assert tokens.words == ("effective", "but", "too", "tepid", "biopic")
    assert tokens.word_of_token[0] == -1 and tokens.word_of_token[-1] == -1
    pieces = minilm.tokenizer.convert_ids_to_tokens(tokens.ids[tokens.word_of_token == 3].tolist())
    assert "".join(p.removeprefix("##") for p in pieces) == "tepid" and len(pieces) >= 2


def test_word_model_has_one_token_per_word():
    model = WordModel(build_vocabulary(TEXTS, min_count=1), dim=4)
    tokens = model.tokenize("A gorgeous, unseen film")
    assert tokens.words == ("a", "gorgeous", "unseen", "film")
    assert tokens.word_of_token.tolist() == [0, 1, 2, 3]
    assert tokens.ids[2] == model.unk_id and tokens.ids[1] == model.vocabulary["gorgeous"]


# --------------------------------------------------------------------------- training


def test_train_word_model_is_deterministic():
    labels = torch.tensor([1, 0, 1, 1, 0, 1])
    a = train_word_model(TEXTS, labels, min_count=1, epochs=3, seed=0, dim=4, hidden=None)
    b = train_word_model(TEXTS, labels, min_count=1, epochs=3, seed=0, dim=4, hidden=None)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not a.training


def test_loading_the_encoder_leaves_the_environment_and_embedding_leaves_the_rng(monkeypatch):
    import os

    from helpers.text_models import load_sentence_encoder, sentence_embeddings

    from helpers.text_models import _read_sentence_encoder

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _read_sentence_encoder.cache_clear()
    load_sentence_encoder()
    assert "HF_HUB_OFFLINE" not in os.environ  # set for the loading only
    before = torch.get_rng_state()
    sentence_embeddings(["a brand new sentence for the cache"])
    assert torch.equal(torch.get_rng_state(), before)


def test_sentence_classifiers_do_not_share_weights():
    from helpers.text_models import sentence_embeddings

    texts = ["a film to change nothing", "a second film, seen after the change"]
    first = sentence_embeddings(texts[:1])
    a, b = SentenceClassifier(), SentenceClassifier()
    ids, mask = b.encode(texts)
    before = b.sentence_vectors(ids, mask).detach()
    with torch.no_grad():
        a.embedding_layer.weight.mul_(-3.0)  # an in-place change to one model only
    assert torch.equal(b.sentence_vectors(ids, mask).detach(), before)
    assert torch.equal(SentenceClassifier().sentence_vectors(ids, mask).detach(), before)
    both = sentence_embeddings(texts)  # the cached text and a new one, by the same unchanged encoder
    assert torch.equal(both[0], first[0])
    torch.testing.assert_close(both, before, atol=1e-5, rtol=0)


def test_minilm_refuses_more_tokens_than_its_positions():
    minilm = SentenceClassifier()
    with pytest.raises(ValueError, match="max_tokens must be an int <= 512; got 1000"):
        minilm.tokenize("a good film", max_tokens=1000)
    with pytest.raises(ValueError, match="max_tokens must be an int <= 512"):
        minilm.encode(["a good film"], max_tokens=600)
    long = " ".join(["film"] * 600)
    assert minilm.encode([long])[0].shape == (1, 128)  # cut at 128 tokens, [SEP] kept
    with pytest.raises(ValueError, match="the text has 602 tokens; at most 512 fit the model"):
        minilm.tokenize(long)
