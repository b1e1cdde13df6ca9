"""Tests of helpers.text, helpers.text_models and helpers.data.load_text (notebook 08)."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers.data import TEXT_SETS, extract_text_data, load_text
from helpers.features import occlusion
from helpers.lime import lime
from helpers.saliency import integrated_gradients
from helpers.shapley import exact_shapley, kernel_shap
from helpers.text import (
    EmbeddingPath,
    compare_on_texts,
    format_claims,
    text_claims,
    TokenizedText,
    WordGame,
    edit_agreement,
    explain_words,
    gradient_word_scores,
    lexicon_agreement,
    pool_tokens,
    seed_agreement,
    split_words,
    vader_lexicon,
    word_valences,
    words_html,
)
from helpers.text_models import SentenceClassifier, WordModel, build_vocabulary, train_word_model

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


# --------------------------------------------------------------------------- the data


def test_load_text_counts_ranges_and_labels():
    data = load_text("movie_reviews")
    assert len(data.texts_train) + len(data.texts_test) == TEXT_SETS["movie_reviews"][1] == 10605
    assert len(data.texts_test) == round(0.2 * 10605)
    ratings = torch.cat([data.ratings_train, data.ratings_test])
    assert float(ratings.min()) >= -4 and float(ratings.max()) <= 4
    assert torch.equal(data.labels_train, (data.ratings_train > 0).long())
    ids = torch.cat([data.ids_train, data.ids_test])
    assert sorted(ids.tolist()) == list(range(1, 10606))  # every snippet once, train and test disjoint
    assert all(isinstance(t, str) and t for t in data.texts_train)
    assert 0.4 < float(data.labels_train.float().mean()) < 0.6


@pytest.mark.parametrize("name", sorted(TEXT_SETS))
def test_every_text_set_loads_with_its_count(name):
    data = load_text(name, test_fraction=0.5)
    assert len(data.texts_train) + len(data.texts_test) == TEXT_SETS[name][1]


def test_load_text_is_deterministic_and_returns_fresh_lists():
    a, b = load_text("movie_reviews"), load_text("movie_reviews")
    assert a.texts_test == b.texts_test and torch.equal(a.ids_train, b.ids_train)
    a.texts_test.append("x")
    assert len(load_text("movie_reviews").texts_test) == len(b.texts_test)


def test_load_text_missing_files_say_how_to_fetch_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"make venv.*pip download vaderSentiment==3\.3\.2"):
        load_text("movie_reviews", root=tmp_path)


def test_load_text_rejects_bad_arguments_and_files(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_text("imdb")
    with pytest.raises(ValueError, match="test_fraction"):
        load_text("movie_reviews", test_fraction=1.0)
    (tmp_path / "tweets_GroundTruth.txt").write_text("1\t0.5\tgood\n2\t9.0\tbad\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must hold 4200 snippets"):
        load_text("tweets", root=tmp_path)


def _fake_sdist(path, files):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"hutto_ICWSM_2014/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with tarfile.open(path, "w:gz") as tar:
        data = inner.getvalue()
        info = tarfile.TarInfo("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def test_extract_text_data_writes_only_the_ground_truth(tmp_path):
    files = {name: f"1\t0.5\t{name}\n" for name, _ in TEXT_SETS.values()}
    files["vader_icwsm2014_final.pdf"] = "not wanted"
    _fake_sdist(tmp_path / "sdist.tar.gz", files)
    written = extract_text_data(tmp_path / "sdist.tar.gz", tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(f for f, _ in TEXT_SETS.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f for f, _ in TEXT_SETS.values())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        extract_text_data(tmp_path / "nothing.tar.gz", tmp_path / "out")


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


def test_minilm_tokens_belong_to_their_words(minilm):
    tokens = minilm.tokenize("Effective but too tepid biopic")
    assert tokens.words == ("effective", "but", "too", "tepid", "biopic")
    assert tokens.word_of_token[0] == -1 and tokens.word_of_token[-1] == -1
    pieces = minilm.tokenizer.convert_ids_to_tokens(tokens.ids[tokens.word_of_token == 3].tolist())
    assert "".join(p.removeprefix("##") for p in pieces) == "tepid" and len(pieces) >= 2


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


# --------------------------------------------------------------------------- HTML


def test_html_escapes_every_text():
    words = ["<script>alert('x')</script>", 'say "hi"', "&amp;"]
    out = words_html(words, {"<b>method</b>": [1.0, -0.5, 0.0]}, title="<img src=x onerror=alert(1)>")
    assert "<script" not in out and "<img" not in out and "<b>method" not in out
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in out
    assert "&amp;amp;" in out and "&lt;b&gt;method&lt;/b&gt;" in out
    assert 'title="say &quot;hi&quot;' in out


def test_html_colours_red_up_blue_down_and_checks_scores():
    out = words_html(["up", "down", "flat"], {"m": torch.tensor([2.0, -2.0, 0.0])})
    assert "background-color:#ff0d57" in out and "background-color:#1e88e5" in out and "background-color:#ffffff" in out
    assert "legend" in out
    with pytest.raises(ValueError, match="3 finite values"):
        words_html(["a", "b", "c"], {"m": [1.0, 2.0]})
    with pytest.raises(TypeError):
        words_html(["a"], [1.0])


# --------------------------------------------------------------------------- VADER and comparisons


def test_vader_lexicon_and_valences():
    lexicon = vader_lexicon()
    assert len(lexicon) > 7000 and lexicon["gorgeous"] == 3.0 and lexicon["bad"] == -2.5
    assert word_valences(["a", "gorgeous", "bad"]).tolist() == [0.0, 3.0, -2.5]
    assert lexicon_agreement([0.0, 1.0, -1.0], [0.0, 3.0, -2.5]) == pytest.approx(1.0)
    assert lexicon_agreement([0.0, -1.0, 1.0], [0.0, 3.0, -2.5]) == pytest.approx(-1.0)
    assert np.isnan(lexicon_agreement([1.0, 2.0], [0.0, 3.0]))


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


def test_train_word_model_is_deterministic():
    labels = torch.tensor([1, 0, 1, 1, 0, 1])
    a = train_word_model(TEXTS, labels, min_count=1, epochs=3, seed=0, dim=4, hidden=None)
    b = train_word_model(TEXTS, labels, min_count=1, epochs=3, seed=0, dim=4, hidden=None)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not a.training


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
    assert len(claims) == 7 and all(v in ("holds", "partly", "does not hold") for _, _, v in claims)
    verdicts = dict((c, v) for c, _, v in claims)
    assert verdicts["LIME: unstable (different samples, different explanations)"] == "holds"
    assert verdicts["SHAP: high cost (exact is exponential)"] == "partly"  # KernelSHAP 16 rows < LIME's 64
    assert verdicts["Saliency: can be extended to text (gradients on embeddings)"] == "partly"
    assert "verdict:  holds" in format_claims(claims)
