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

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    load_sentence_encoder.cache_clear()
    load_sentence_encoder()
    assert "HF_HUB_OFFLINE" not in os.environ  # set for the loading only
    before = torch.get_rng_state()
    sentence_embeddings(["a brand new sentence for the cache"])
    assert torch.equal(torch.get_rng_state(), before)
