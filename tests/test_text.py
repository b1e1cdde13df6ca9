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
    TEXT_SETTING,
    WORD_METHODS,
    EmbeddingPath,
    MatchedCost,
    SeedAgreements,
    WordGame,
    compare_on_texts,
    explain_words,
    finite,
    gradient_token_norms,
    gradient_word_scores,
    gradient_x_input_parts,
    lexicon_agreement,
    matched_cost,
    multi_piece_rank,
    pool_tokens,
    predicted_class,
    seed_agreement,
    seed_agreements,
    text_claims,
    typo,
    valences_toward,
    word_piece_counts,
)
from helpers.text_models import SentenceClassifier, TokenizedText, WordModel, build_vocabulary, split_words
from helpers.verdicts import DEFINITIONS, VERDICTS, Claim, claim_verdict, markdown_table, measure_claim, threshold_sensitivity

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
    comparison = compare_on_texts(minilm, texts, methods=methods, target=1, random_orders=2)
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
    predicted = explain_words(model, tokens, methods=("occlusion",), target=None)
    assert predicted.game.target == predicted_class(model, tokens)


def test_predicted_class_is_the_argmax_and_leaves_the_model_alone():
    model = _word_model().train()
    tokens = model.tokenize("a gorgeous and witty film")
    with torch.no_grad():
        expected = int(model(tokens.ids[None]).argmax())
    assert predicted_class(model, tokens) == expected and model.training
    with pytest.raises(TypeError, match="tokens must be a TokenizedText"):
        predicted_class(model, "a film")


# --------------------------------------------------------------------------- the typo


def test_typo_swaps_two_different_neighbouring_letters_of_the_longest_word():
    edit = typo("A truly gorgeous film!")
    assert edit.original == "a truly gorgeous film" and edit.word == 2 and edit.before == "gorgeous"
    assert sorted(edit.after) == sorted("gorgeous") and edit.after != "gorgeous"
    differing = [i for i, (a, b) in enumerate(zip(edit.before, edit.after)) if a != b]
    assert len(differing) == 2 and differing[1] == differing[0] + 1  # two neighbours swapped
    assert len(split_words(edit.edited)) == len(split_words(edit.original))
    assert typo("A truly gorgeous film!", seed=3) == typo("A truly gorgeous film!", seed=3)  # deterministic
    assert {typo("a truly gorgeous film", seed=s).after for s in range(20)} > {edit.after}  # the seed picks the pair
    state = np.random.get_state()[1].copy(), torch.random.get_rng_state().clone()
    typo("a truly gorgeous film", seed=5)
    assert np.array_equal(np.random.get_state()[1], state[0]) and torch.equal(torch.random.get_rng_state(), state[1])


def test_typo_skips_words_without_two_different_letters_and_refuses_bad_input():
    assert typo("aaaaaa is ok").before == "is"  # the longest word with a pair to swap
    with pytest.raises(ValueError, match="no word of 'aa ooo' has two different neighbouring letters"):
        typo("aa ooo")
    with pytest.raises(TypeError, match="text must be a str; got list"):
        typo(["a", "film"])
    with pytest.raises((TypeError, ValueError), match="seed"):
        typo("a film", seed=-1)


def test_valences_toward_the_explained_class():
    assert valences_toward(torch.tensor([2.0, -1.0]), 1).tolist() == [2.0, -1.0]
    assert valences_toward(torch.tensor([2.0, -1.0]), 0).tolist() == [-2.0, 1.0]
    with pytest.raises(ValueError, match="target must be 0 .negative. or 1 .positive.* got 2"):
        valences_toward(torch.tensor([1.0]), 2)


# --------------------------------------------------------------------------- many texts


TEXTS_12 = ["the plot is thin but the acting is superb and the film is gorgeous",
            "an awful mess of a movie with a dull tepid and lifeless plot"]


def test_compare_on_texts_measures_each_text():
    model = _word_model()
    texts = ["a gorgeous and witty film", "a dull tepid and awful film", "not bad at all but a mess"]
    comparison = compare_on_texts(model, texts, lime_samples=64, random_orders=3, edit_methods=("occlusion", "shap"))
    assert comparison.n_texts == 3 and comparison.shap_exact.all() and len(comparison.scores) == 3
    summary = comparison.summary()
    assert summary["gradient"]["defined"] == 0  # an averaging model: every word the same gradient norm
    assert summary["shap"]["forward_rows"] == pytest.approx(np.mean([2**5, 2**6, 2**7]))
    for i, text in enumerate(texts):
        tokens = model.tokenize(text)
        target = predicted_class(model, tokens)
        assert comparison.targets[i] == target
        game = WordGame(model, tokens, target=target)
        shap = exact_shapley(game)
        valences = valences_toward(word_valences(tokens.words), target)
        assert comparison.agreement["shap"][i] == pytest.approx(lexicon_agreement(shap, valences), nan_ok=True)
        assert comparison.below_random["shap"][i] == pytest.approx(
            comparison.random_area[i] - comparison.deletion_area["shap"][i])
        edit = comparison.edits[i]
        assert edit == typo(text)
        edited = exact_shapley(WordGame(model, model.tokenize(edit.edited), target=target))
        others = torch.arange(len(shap)) != edit.word
        from helpers.metrics import rank_correlation
        assert comparison.edit_rho["shap"][i] == pytest.approx(
            float(rank_correlation(shap[None], edited[None], players=others)[0]))
    assert "VADER rho" in comparison.table() and "typo rho" in comparison.table()
    assert comparison.options["random_orders"] == 3 and comparison.options["lime_samples"] == 64
    with pytest.raises(ValueError, match="edit_methods must be a subset of methods"):
        compare_on_texts(model, texts, methods=("occlusion",), edit_methods=("shap",))
    with pytest.raises(TypeError, match="texts must be a non-empty sequence of str"):
        compare_on_texts(model, "a gorgeous film")


def test_compare_on_texts_leaves_out_texts_whose_score_barely_moves():
    model = _word_model()
    comparison = compare_on_texts(model, ["a gorgeous and witty film"], methods=("occlusion",), min_change=1e9)
    assert np.isnan(comparison.deletion_area["occlusion"][0]) and np.isnan(comparison.below_random["occlusion"][0])
    assert finite(comparison.below_random["occlusion"]).size == 0


def test_seed_agreements_and_their_refusals():
    model = _word_model()
    seeds = seed_agreements(model, TEXTS_12, lime_samples=200, shap_budget=64, seeds=(0, 1))
    assert seeds.lime.shape == (2,) and seeds.kernel_shap.shape == (2,) and seeds.n_words.tolist() == [14, 13]
    tokens = model.tokenize(TEXTS_12[0])
    assert seeds.lime[0] == pytest.approx(seed_agreement(model, tokens, "lime", (0, 1), lime_samples=200))
    assert np.all(seeds.lime <= 1) and np.all(seeds.kernel_shap > 0.5)
    with pytest.raises(ValueError, match="fit in shap_budget=200, where KernelSHAP is exact"):
        seed_agreements(model, ["a gorgeous film"])
    with pytest.raises(ValueError, match='method must be "lime" or "shap"'):
        seed_agreement(model, tokens, "occlusion")


def test_matched_cost_of_a_linear_word_model():
    model = _word_model(hidden=None)  # linear in the bag of words: KernelSHAP is exact at its least budget
    tokens = model.tokenize(TEXTS_12[1])
    cost = matched_cost(model, tokens, budgets=(32, 64, 128, 256, 512, 1024, 2048), converged_samples=4096)
    assert cost.n_words == 13 and cost.exact_rows == 2**13 and cost.gradient_rows == 1
    assert cost.kernel_shap_rows == 32 and 32 <= cost.lime_rows <= 2048
    with pytest.raises(ValueError, match="LIME does not come within 1e-09 of its reference.*pass larger budgets"):
        matched_cost(model, tokens, budgets=(32,), target_error=1e-9)
    with pytest.raises(ValueError, match="KernelSHAP's least budget 2M \\+ 2 = 28"):
        matched_cost(model, tokens, budgets=(16,), target_error=1.0)


# --------------------------------------------------------------------------- word pieces and Gradient x Input


def test_word_pieces_and_the_gradient_norm_of_a_split_word(minilm):
    tokens = minilm.tokenize("Bielinsky is a filmmaker")
    counts = word_piece_counts(tokens)
    assert counts.tolist() == [int((tokens.word_of_token == k).sum()) for k in range(tokens.n_words)]
    assert counts[0] > 1 and counts[1:].tolist() == [1, 1, 1]
    norms = gradient_token_norms(minilm, tokens)
    assert norms.shape == tokens.ids.shape
    pooled = gradient_word_scores(minilm, tokens, "gradient")
    first = tokens.word_of_token == 0
    assert float(pooled[0]) == pytest.approx(float(norms[first].pow(2).sum().sqrt()), rel=1e-5)


def test_multi_piece_rank():
    assert multi_piece_rank(torch.tensor([3.0, 1.0, 2.0]), torch.tensor([3, 1, 1])) == 1.0
    assert multi_piece_rank(torch.tensor([-3.0, 1.0, 2.0]), torch.tensor([1, 2, 1])) == 0.0  # by |score|
    assert multi_piece_rank(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([2, 1, 1])) == 0.25  # a tie shares its rank
    assert np.isnan(multi_piece_rank(torch.ones(3), torch.ones(3)))
    with pytest.raises(ValueError, match="one value per word each"):
        multi_piece_rank(torch.ones(3), torch.ones(2))


def test_gradient_x_input_of_a_bert_model_is_minus_the_position_part(minilm):
    tokens = minilm.tokenize("a gorgeous and witty film")
    parts = gradient_x_input_parts(minilm, tokens, target=1)
    assert torch.allclose(parts.word, gradient_word_scores(minilm, tokens, "gradient_x_input").double(), atol=1e-6)
    scale = float(parts.word.abs().sum())
    assert float(parts.whole.abs().max()) < 1e-4 * scale  # LayerNorm: h . dS/dh = 0
    assert torch.allclose(parts.word, -parts.position, atol=1e-4 * scale)
    _, info = gradient_word_scores(minilm, tokens, "integrated_gradients", return_info=True)
    assert parts.score_difference == pytest.approx(float(info.score_difference[0]), rel=1e-5)
    with pytest.raises(TypeError, match="must be a BERT-style encoder"):
        gradient_x_input_parts(_word_model(), _word_model().tokenize("a gorgeous film"))


def test_the_artefact_helpers_leave_the_callers_state_alone(minilm):
    tokens = minilm.tokenize("a gorgeous film")
    ids = tokens.ids.clone()
    minilm.train()
    state = torch.random.get_rng_state().clone()
    gradient_token_norms(minilm, tokens)
    gradient_x_input_parts(minilm, tokens)
    predicted_class(minilm, tokens)
    assert minilm.training and torch.equal(tokens.ids, ids) and torch.equal(torch.random.get_rng_state(), state)
    assert all(p.grad is None for p in minilm.parameters())
    minilm.eval()


# --------------------------------------------------------------------------- the claims


def _claims_inputs(minilm):
    model = _word_model()
    texts = ["a gorgeous and witty film", "a dull tepid and awful film", "not bad at all but a mess",
             "the film is gorgeous and superb"]
    comparison = compare_on_texts(model, texts, lime_samples=64, random_orders=3, edit_methods=("gradient", "shap"))
    gradients = compare_on_texts(minilm, texts[:3], methods=("gradient",), random_orders=2, edit_methods=("gradient",))
    seeds = SeedAgreements(np.array([0.3, 0.4]), np.array([0.95, 0.97]), np.array([12, 12]), 500, 200, (0, 1, 2))
    matched = [MatchedCost(12, 1, 128, 32, 4096, 0.01, 4096), MatchedCost(12, 1, 256, 32, 4096, 0.01, 4096)]
    return comparison, gradients, seeds, matched


def test_text_claims_measure_the_same_definitions_as_the_digits(minilm):
    comparison, gradients, seeds, matched = _claims_inputs(minilm)
    claims = text_claims(comparison, comparison, seeds, matched, gradients=gradients)
    assert [(c.row, c.column) for c in claims] == [
        ("Stability", "Saliency"), ("Stability", "LIME"), ("Stability", "SHAP"), ("Cost", "Saliency"),
        ("Cost", "LIME"), ("Cost", "SHAP"), ("Use cases: text", "Saliency"), ("Use cases: text", "LIME")]
    for c in claims:
        definition = DEFINITIONS[c.row, c.column]
        assert c.claim == definition.claim and [r.name for r in c.rules] == [k.name for k in definition.criteria.values()]
        assert [(r.holds, r.fails, r.higher) for r in c.rules] == [(k.holds, k.fails, k.higher)
                                                                  for k in definition.criteria.values()]
        assert c.definition.startswith(TEXT_SETTING) and claim_verdict(c) in VERDICTS
    by_cell = {(c.row, c.column): c for c in claims}
    assert claim_verdict(by_cell["Stability", "LIME"]) == "holds"  # 0.3 and 0.4 between seeds: below 0.6
    assert by_cell["Stability", "LIME"].rules[0].interval == (0.3, 0.4)
    cost = by_cell["Cost", "SHAP"]
    assert cost.rules[0].value == pytest.approx(np.median([4096 / 128, 4096 / 256]))
    assert cost.rules[1].value == pytest.approx(np.median([32 / 128, 32 / 256]))
    assert claim_verdict(cost) == "partly"  # exact SHAP costs more than LIME, KernelSHAP less
    assert "MiniLM, 3 snippets" in by_cell["Stability", "Saliency"].definition
    assert "MiniLM, 4 snippets" in by_cell["Stability", "SHAP"].definition  # the word model here, named as MiniLM
    assert "Jacovi and Goldberg 2020" in by_cell["Use cases: text", "LIME"].definition
    assert by_cell["Use cases: text", "Saliency"].rules[0].n == int(np.isfinite(gradients.below_random["gradient"]).sum())
    assert by_cell["Stability", "Saliency"].rules[0].value == pytest.approx(np.median(gradients.edit_rho["gradient"]))
    assert markdown_table(claims).count("**Use cases: text**") == 1
    assert len(threshold_sensitivity(claims)) == 8


def test_text_claims_refuse_what_they_cannot_measure(minilm):
    comparison, gradients, seeds, matched = _claims_inputs(minilm)
    with pytest.raises(ValueError, match="the gradient's rank correlation under the typo is undefined on every snippet"):
        text_claims(comparison, comparison, seeds, matched)  # the word model: every word the same gradient norm
    plain = compare_on_texts(_word_model(), ["a gorgeous and witty film", "a dull film"], lime_samples=32, random_orders=2)
    with pytest.raises(ValueError, match="edit_methods holding 'shap'"):
        text_claims(comparison, plain, seeds, matched)
    with pytest.raises(ValueError, match="gradients must be compared with edit_methods holding 'gradient'"):
        text_claims(comparison, comparison, seeds, matched, gradients=plain)
    with pytest.raises(TypeError, match="seeds must be a SeedAgreements"):
        text_claims(comparison, comparison, [0.5], matched)
    with pytest.raises(TypeError, match="matched must be a non-empty sequence of MatchedCost"):
        text_claims(comparison, comparison, seeds, [])
    with pytest.raises(TypeError, match="word must be a TextComparison"):
        text_claims({}, comparison, seeds, matched)


@pytest.mark.parametrize("column", ["Saliency", "LIME"])
def test_the_text_only_definitions(column):
    definition = DEFINITIONS["Use cases: text", column]
    assert set(definition.criteria) == {"deletion_minilm", "deletion_words", "plausibility"}
    assert "plausibility" in definition.criteria["plausibility"].name
    assert "faithfulness" in definition.criteria["deletion_minilm"].name
    good = measure_claim("Use cases: text", column, deletion_minilm=[0.3, 0.4, 0.5], deletion_words=[0.3, 0.35],
                         plausibility=[0.4, 0.5, 0.6])
    assert claim_verdict(good) == "holds"
    bad = measure_claim("Use cases: text", column, deletion_minilm=[-0.1, 0.0], deletion_words=[0.0, 0.01],
                        plausibility=[0.0, 0.05])
    assert claim_verdict(bad) == "does not hold"
    with pytest.raises(ValueError, match="missing \\['plausibility'\\]"):
        measure_claim("Use cases: text", column, deletion_minilm=[0.3], deletion_words=[0.3])


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
