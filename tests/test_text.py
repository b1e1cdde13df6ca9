"""Tests of helpers.text: the word game, gradients on embeddings, agreement with people, the claims (notebook 08).

Tokens and models: tests/test_text_models.py; the texts and VADER's lexicon: tests/test_data.py;
coloured words: tests/test_plotting.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers.cost import CostCounter
from helpers.data import word_valences
from helpers.features import occlusion
from helpers.lime import lime
from helpers.methods import METHODS
from helpers.saliency import integrated_gradients
from helpers.shapley import exact_shapley, kernel_shap
from helpers.text import (
    GRADIENT_METHODS,
    WORD_METHODS,
    EmbeddingPath,
    WordGame,
    compare_on_texts,
    edit_agreement,
    explain_words,
    format_claims,
    gradient_word_scores,
    lexicon_agreement,
    pool_tokens,
    seed_agreement,
    text_claims,
)
from helpers.text_models import SentenceClassifier, TokenizedText, WordModel, build_vocabulary
from helpers.verdicts import VERDICTS, Claim, claim_verdict, markdown_table

TEXTS = [
    "a gorgeous and witty film",
    "a dull , tepid and lifeless film",
    "the plot is thin but the acting is superb",
    "not bad at all",
    "an awful mess of a movie",
    "the film is gorgeous",
]


def _word_model(hidden=16, seed=0):
    torch.manual_seed(seed)
    model = WordModel(build_vocabulary(TEXTS, min_count=1), dim=8, hidden=hidden)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
        model.embedding_layer.weight[model.pad_id] = 0
    return model.eval()


@pytest.fixture(scope="module")
def minilm():
    torch.manual_seed(0)
    model = SentenceClassifier(nn.Linear(384, 2))
    with torch.no_grad():
        model.head.weight.normal_(0, 1.0)
    return model


# --------------------------------------------------------------------------- tokens to words


def test_pool_tokens_sums_and_norms_over_a_words_tokens():
    tokens = TokenizedText(("ab", "c"), torch.tensor([1, 7, 8, 9, 2]), torch.tensor([-1, 0, 0, 1, -1]))
    values = torch.tensor([[100.0, 0], [3, 0], [0, 4], [1, 1], [100, 100]])
    assert pool_tokens(values, tokens).tolist() == [7.0, 2.0]
    assert pool_tokens(values, tokens, reduce="norm").tolist() == pytest.approx([5.0, 2**0.5])
    with pytest.raises(ValueError, match="one row per token"):
        pool_tokens(torch.zeros(3), tokens)


# --------------------------------------------------------------------------- the word game


def test_word_game_of_a_linear_bag_of_words_model_has_the_known_values():
    model = _word_model(hidden=None)
    text = "the film is gorgeous and the acting is superb"
    tokens = model.tokenize(text)
    game = WordGame(model, tokens, target=1)
    # linear in the mean of the words' vectors, masked words are the zero vector: every word adds
    # its own weight . vector / T, whatever else is present
    w = model.classifier.weight[1] - 0  # class 1's row
    contributions = (model.embedding_layer(tokens.ids) @ w / len(tokens.ids)).double().detach()
    phi = exact_shapley(game)
    assert torch.allclose(phi.double(), contributions, atol=1e-6)
    presence = torch.tensor([[True] * 9, [False, True] * 4 + [True]])
    assert torch.allclose(game(presence).double() - game.empty_score, (presence.double() @ contributions), atol=1e-6)
    assert torch.allclose(lime(game, n_samples=600, alpha=1e-8, seed=0), contributions, atol=1e-5)
    assert torch.allclose(kernel_shap(game, budget=40, seed=3).double(), contributions, atol=1e-5)
    assert torch.allclose(occlusion(game).double(), contributions, atol=1e-6)
    # the same word twice gets the same value (symmetry)
    assert phi[tokens.words.index("the")] == pytest.approx(float(phi[5]), abs=1e-7)


@pytest.mark.parametrize("absent", ["mask", "delete"])
def test_exact_shapley_of_a_word_game_is_efficient(absent, minilm):
    tokens = minilm.tokenize("not bad at all")
    game = WordGame(minilm, tokens, absent=absent)
    phi = exact_shapley(game)
    assert float(phi.sum()) == pytest.approx(game.full_score - game.empty_score, abs=1e-4)
    assert game.n_evaluations == 16


def test_delete_moves_the_kept_tokens_up_and_keeps_specials(minilm):
    tokens = minilm.tokenize("not bad at all")
    game = WordGame(minilm, tokens, absent="delete")
    Z = torch.tensor([[True, True, True, True], [False, True, False, True], [False] * 4])
    ids, mask = game.token_batch(Z)
    assert torch.equal(ids[0], tokens.ids) and bool(mask[0].all())
    kept = tokens.ids[(tokens.word_of_token < 0) | (tokens.word_of_token == 1) | (tokens.word_of_token == 3)]
    assert torch.equal(ids[1, :len(kept)], kept) and int(mask[1].sum()) == len(kept)
    assert bool((ids[1, len(kept):] == minilm.pad_id).all())
    assert ids[2, :2].tolist() == [tokens.ids[0].item(), tokens.ids[-1].item()]
    masked, mask = WordGame(minilm, tokens).token_batch(Z[1:2])
    assert bool(mask.all()) and int((masked == minilm.mask_id).sum()) == int((tokens.word_of_token % 2 == 0).sum())


@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_word_game_counts_what_the_model_is_asked(batch_size):
    model = _word_model()
    game = WordGame(model, model.tokenize("the plot is thin but the acting is superb"), batch_size=batch_size)
    assert (game.n_evaluations, game.n_calls) == (0, 0)  # construction is not counted
    with CostCounter(model) as cost:
        exact_shapley(game)
        game(torch.ones(3, game.n_players, dtype=torch.bool))
    assert game.n_evaluations == cost.forward_rows == 2**9 + 3
    assert game.n_calls == cost.forward_calls == -(-2**9 // batch_size) + -(-3 // batch_size)
    assert game(torch.ones(0, game.n_players, dtype=torch.bool)).shape == (0,) and game.n_evaluations == 2**9 + 3


def test_word_game_rejects_bad_input():
    model = _word_model()
    tokens = model.tokenize("a gorgeous film")
    with pytest.raises(ValueError, match="absent must be one of"):
        WordGame(model, tokens, absent="zero")
    with pytest.raises(TypeError, match="TokenizedText"):
        WordGame(model, "a gorgeous film")
    with pytest.raises(TypeError, match="text classifier"):
        WordGame(nn.Linear(2, 2), tokens)
    with pytest.raises(ValueError, match="target must be a class index"):
        WordGame(model, tokens, target=5)
    with pytest.raises(ValueError, match="shape"):
        WordGame(model, tokens)(torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="no words"):
        WordGame(model, model.tokenize("!!"))


def test_nothing_of_the_callers_changes():
    model = _word_model()
    model.train()
    tokens = model.tokenize("a dull , tepid and lifeless film")
    ids_before = tokens.ids.clone()
    for absent in ("mask", "delete"):
        game = WordGame(model, tokens, absent=absent)
        exact_shapley(game)
    for method in ("gradient", "gradient_x_input", "integrated_gradients"):
        gradient_word_scores(model, tokens, method)
    assert torch.equal(tokens.ids, ids_before)
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


# --------------------------------------------------------------------------- gradients on embeddings


@pytest.mark.parametrize("which", ["word", "minilm"])
def test_integrated_gradients_on_the_embedding_path_are_complete(which, minilm):
    model = _word_model() if which == "word" else minilm
    tokens = model.tokenize("the plot is thin but the acting is superb")
    scores, info = gradient_word_scores(model, tokens, "integrated_gradients", steps=64, return_info=True)
    game = WordGame(model, tokens)  # absent = the mask token: the same baseline
    assert float(info.score_difference[0]) == pytest.approx(game.full_score - game.empty_score, abs=1e-4)
    assert float(scores.sum()) == pytest.approx(game.full_score - game.empty_score, abs=2e-3 * max(1, abs(game.full_score)))


def test_gradient_x_input_of_a_linear_model_is_its_word_contributions():
    model = _word_model(hidden=None)
    tokens = model.tokenize("a gorgeous and witty film")
    w = model.classifier.weight[1].detach()
    expected = (model.embedding_layer(tokens.ids).detach() @ w / len(tokens.ids)).double()
    assert torch.allclose(gradient_word_scores(model, tokens, "gradient_x_input"), expected, atol=1e-6)
    assert torch.allclose(gradient_word_scores(model, tokens, "integrated_gradients", steps=4), expected, atol=1e-6)
    norms = gradient_word_scores(model, tokens, "gradient")
    assert torch.allclose(norms, torch.full_like(norms, float(w.norm()) / len(tokens.ids)), atol=1e-6)


@pytest.mark.parametrize("which", ["word", "minilm"])
def test_integrated_gradients_match_captum_layer_integrated_gradients(which, minilm):
    from captum.attr import LayerIntegratedGradients

    model = _word_model() if which == "word" else minilm
    tokens = model.tokenize("a dull , tepid and lifeless film")
    path = EmbeddingPath(model, tokens)
    baseline_ids = torch.where(tokens.word_of_token < 0, tokens.ids, torch.full_like(tokens.ids, model.mask_id))

    def forward(ids):
        return model(ids, torch.ones_like(ids))

    lig = LayerIntegratedGradients(forward, model.embedding_layer)
    for steps in (8, 32):
        theirs = lig.attribute(tokens.ids[None], baselines=baseline_ids[None], target=1, n_steps=steps,
                               method="gausslegendre")
        ours = integrated_gradients(path, path.embeddings(), 1, baseline=path.baseline_embeddings(), steps=steps,
                                    rule="gauss_legendre")
        assert ours.shape == theirs.shape
        assert torch.allclose(ours, theirs.to(ours.dtype), atol=1e-6, rtol=1e-4)


def test_gradient_word_scores_rejects_bad_input():
    model = _word_model()
    tokens = model.tokenize("a gorgeous film")
    with pytest.raises(ValueError, match="method must be one of"):
        gradient_word_scores(model, tokens, "smoothgrad")
    with pytest.raises(ValueError, match="return_info"):
        gradient_word_scores(model, tokens, "gradient", return_info=True)
    with pytest.raises(ValueError, match="embeddings must be"):
        EmbeddingPath(model, tokens)(torch.zeros(1, 7, 8))


# --------------------------------------------------------------------------- agreement with people and comparisons


def test_lexicon_agreement_ranks_scores_against_valences():
    assert lexicon_agreement([0.0, 1.0, -1.0], [0.0, 3.0, -2.5]) == pytest.approx(1.0)
    assert lexicon_agreement([0.0, -1.0, 1.0], [0.0, 3.0, -2.5]) == pytest.approx(-1.0)
    assert np.isnan(lexicon_agreement([1.0, 2.0], [0.0, 3.0]))
    assert lexicon_agreement([0.0, -1.0, 1.0], [0.0, 3.0, -3.0], magnitude=True) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one value per word"):
        lexicon_agreement([1.0, 2.0], [1.0, 2.0, 3.0])


def test_word_methods_are_the_registrys_but_shap():
    assert set(GRADIENT_METHODS) <= set(WORD_METHODS)
    assert all(METHODS[m].kind == "gradient" for m in GRADIENT_METHODS)
    assert [m for m in WORD_METHODS if m not in METHODS] == ["shap"]
    # "shap" is exact SHAP or KernelSHAP by the text's size: both signed, so compared with signed valences
    assert METHODS["exact_shap"].signed and METHODS["kernel_shap"].signed


def test_unsigned_methods_are_compared_on_magnitudes(minilm):
    texts = ["a gorgeous and brilliant film", "a dull tepid and awful film"]  # two rated words each
    methods = ("gradient", "occlusion")
    comparison = compare_on_texts(minilm, texts, methods=methods, random_orders=2)
    for i, text in enumerate(texts):
        tokens = minilm.tokenize(text)
        scores = explain_words(minilm, tokens, methods=methods).scores
        for m in methods:  # the registry says the gradient (norm) is unsigned, occlusion signed
            expected = lexicon_agreement(scores[m], word_valences(tokens.words), magnitude=not METHODS[m].signed)
            assert np.isfinite(expected) and comparison.agreement[m][i] == pytest.approx(expected)


def test_explain_words_counts_costs_and_is_efficient():
    model = _word_model()
    tokens = model.tokenize("the plot is thin but the acting is superb")
    result = explain_words(model, tokens, lime_samples=100)
    assert set(result.scores) == {"gradient", "gradient_x_input", "integrated_gradients", "occlusion", "lime", "shap"}
    assert result.shap_exact and result.forward_rows["shap"] == 2**9
    assert result.forward_rows["occlusion"] == 10 and result.forward_rows["lime"] == 100
    assert result.backward_passes["gradient"] == 1 and result.backward_passes["occlusion"] == 0
    assert float(result.scores["shap"].sum()) == pytest.approx(result.game.full_score - result.game.empty_score, abs=1e-5)
    again = explain_words(model, tokens, lime_samples=100)
    assert all(torch.equal(result.scores[m], again.scores[m]) for m in result.scores)
    assert seed_agreement(model, tokens, "shap", seeds=(0, 1), shap_budget=2**9) == pytest.approx(1.0)
    same = edit_agreement(model, "a gorgeous film", "a gorgeous film", methods=("occlusion",))
    assert same["occlusion"] == pytest.approx(1.0)


def test_compare_on_texts_and_claims():
    model = _word_model()
    texts = ["a gorgeous and witty film", "a dull tepid and awful film", "not bad at all but a mess"]
    comparison = compare_on_texts(model, texts, lime_samples=64, random_orders=3)
    assert comparison.n_texts == 3 and comparison.shap_exact.all()
    summary = comparison.summary()
    assert summary["gradient"]["defined"] == 0  # an averaging model: every word the same gradient norm
    assert summary["shap"]["forward_rows"] == pytest.approx(np.mean([2**5, 2**6, 2**7]))
    assert "VADER rho" in comparison.table() and "integrated_gradients" in comparison.table()
    sampled = compare_on_texts(model, texts[:2], methods=("gradient", "lime", "shap"), lime_samples=64,
                               shap_budget=16, random_orders=2)
    assert not sampled.shap_exact.any()
    claims = text_claims({"word": comparison, "sampled": sampled}, lime_seed_rho=0.5, kernel_shap_seed_rho=0.95,
                         edit_rho={"gradient": 0.2, "shap": 0.9}, ig_relative_gap=0.001, exact_rows=64)
    assert len(claims) == 7 and all(isinstance(c, Claim) and claim_verdict(c) in VERDICTS for c in claims)
    verdicts = {f"{c.column}: {c.claim}": claim_verdict(c) for c in claims}
    assert verdicts["LIME: unstable (different samples, different explanations)"] == "holds"
    assert verdicts["SHAP: high cost (exact is exponential)"] == "partly"  # KernelSHAP 16 rows < LIME's 64
    assert verdicts["Saliency: can be extended to text (gradients on embeddings)"] == "partly"
    assert "verdict:  holds" in format_claims(claims)
    assert markdown_table(claims).count("**") >= 2 * 7  # the same claims render as notebook 06's table
    assert all(isinstance(t, (int, float)) for c in claims for r in c.rules for t in (r.value, r.holds, r.fails))
    lime_seeds = next(c for c in claims if (c.row, c.column) == ("Stability", "LIME"))
    assert "(threshold 0.9)" in lime_seeds.note and [r.holds for r in lime_seeds.rules] == [0.9]
    settled = text_claims({"word": comparison}, lime_seed_rho=0.95, kernel_shap_seed_rho=0.5,
                          edit_rho={"gradient": 0.9, "shap": 0.2}, ig_relative_gap=0.001, exact_rows=64)
    verdicts = {f"{c.column}: {c.claim}": claim_verdict(c) for c in settled}
    assert verdicts["LIME: unstable (different samples, different explanations)"] == "does not hold"
    assert verdicts["Saliency: unstable"] == "does not hold"  # the gradient kept its ranking better than SHAP
    assert verdicts["SHAP: stable (unique values)"] == "does not hold"  # below 0.6 between seeds
    assert verdicts["SHAP: high cost (exact is exponential)"] == "holds"  # exact SHAP only


def test_a_negative_target_is_a_bad_value_not_the_wrong_kind():
    model = WordModel(build_vocabulary(TEXTS, min_count=1), dim=4)
    tokens = model.tokenize(TEXTS[0])
    with pytest.raises(ValueError, match=r"target \(a class index\) must be an int >= 0; got -1"):
        WordGame(model, tokens, target=-1)
    with pytest.raises(TypeError, match=r"target \(a class index\) must be an int"):
        WordGame(model, tokens, target=1.0)


def test_word_game_refuses_ids_outside_the_vocabulary():
    model = _word_model()
    tokens = model.tokenize("a gorgeous film")
    foreign = TokenizedText(tokens.words, torch.tensor([0, 10**6, 2]), tokens.word_of_token)
    with pytest.raises(ValueError, match=r"ids outside the model's vocabulary \[0, \d+\): \[1000000\]"):
        WordGame(model, foreign)
