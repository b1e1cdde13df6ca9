r"""Explanations for text: words as features, token embeddings as the input.

Every method of the course carries over to a text classifier once two questions
are answered: what is the *input* of a gradient, and what does it mean for a
word to be *absent*?

- **Gradients.** Token ids are integers: there is no derivative with respect to
  them. The first real-valued tensor is the output of the embedding layer, one
  vector :math:`e_t \in \mathbb{R}^D` per token. :class:`EmbeddingPath` is a
  small ``torch.nn.Module`` that maps embeddings ``[B, T, D]`` of one tokenized
  text to class scores (its token ids and attention mask held fixed), so that
  the course's gradient methods (:func:`helpers.saliency.gradient`,
  :func:`~helpers.saliency.gradient_x_input`,
  :func:`~helpers.saliency.integrated_gradients`, all through
  :func:`~helpers.saliency.target_gradients`) apply unchanged.
  :func:`gradient_word_scores` pools their ``[T, D]`` maps into one score per
  word: the gradient's norm, or Gradient×Input and Integrated Gradients summed
  over the embedding dimension and over a word's sub-word tokens.
- **Coalitions.** :class:`WordGame` is a coalition game whose players are the
  words of one text; an absent word is replaced by the model's mask token
  (``[MASK]`` for a BERT model, the zero padding vector for the word model),
  or deleted. It follows the protocol of :mod:`helpers.features` (``game(Z)``
  for a bool ``Z [n, M]`` gives ``[n]`` scores; ``n_players``; the counters of
  :class:`~helpers.cost.CountedGame`), so :func:`helpers.features.occlusion`,
  :func:`helpers.lime.lime`, :func:`helpers.shapley.exact_shapley` and
  :func:`~helpers.shapley.kernel_shap` explain it as they explain a digit.
- **People's view and the model's.** :func:`lexicon_agreement` compares an explanation with the
  human valences of VADER's lexicon (:func:`helpers.data.word_valences`): *plausibility*, agreement
  with people; deletion curves measure *faithfulness*, agreement with the model (Jacovi and
  Goldberg, ACL 2020). The two are different questions.
- **The comparison.** :func:`explain_words` runs every method on one text with its counted cost;
  :func:`compare_on_texts` measures each on many (plausibility, deletion below random, stability
  under a one-letter :func:`typo`, cost); :func:`seed_agreements` and :func:`matched_cost` measure
  seeds and cost at matched accuracy; :func:`text_claims` turns them into the comparison table's
  claims with :func:`helpers.verdicts.measure_claim`, by the definitions notebook 06 uses.
- **Artefacts.** :func:`word_piece_counts`, :func:`gradient_token_norms` and :func:`multi_piece_rank`
  (a word split into many pieces collects more gradient norm); :func:`gradient_x_input_parts`
  (on a BERT-style model Gradient×Input multiplies the gradient with the position embeddings).

The words and tokens (:func:`~helpers.text_models.split_words`,
:class:`~helpers.text_models.TokenizedText`) and the two models live in
:mod:`helpers.text_models`; words coloured by their scores are drawn by
:func:`helpers.plotting.words_html` and :func:`~helpers.plotting.show_words`.

A *text classifier* here is a ``torch.nn.Module`` with ``forward(ids,
attention_mask=None, *, embeddings=None) -> scores [B, classes]``, an
``embedding_layer`` (``torch.nn.Embedding``), ``mask_id`` and ``pad_id``, and
``tokenize(text) -> TokenizedText`` (see :mod:`helpers.text_models`).

Taught in ``notebooks/08_text.ipynb``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
import torch.nn as nn

from .checks import check_float, check_int, check_seed
from .cost import CostCounter, CountedGame
from .data import word_valences
from .features import check_coalitions, occlusion
from .lime import lime
from .methods import method
from .metrics import (budget_to_reach, curve_area, deletion_curve, random_order_curves, rank_correlation, seed_stability,
                      tied_ranks)
from .saliency import gradient, gradient_x_input, integrated_gradients
from .scores import evaluation_mode, model_device
from .shapley import budget_errors, exact_shapley, kernel_shap
from .text_models import TokenizedText, split_words
from .verdicts import measure_claim

__all__ = [
    "check_text_model",
    "predicted_class",
    "WordGame",
    "EmbeddingPath",
    "pool_tokens",
    "gradient_word_scores",
    "lexicon_agreement",
    "valences_toward",
    "ABSENT",
    "GRADIENT_METHODS",
    "WORD_METHODS",
    "WordExplanations",
    "explain_words",
    "finite",
    "Edit",
    "typo",
    "TextComparison",
    "compare_on_texts",
    "seed_agreement",
    "SeedAgreements",
    "seed_agreements",
    "MATCHED_BUDGETS",
    "MatchedCost",
    "matched_cost",
    "word_piece_counts",
    "gradient_token_norms",
    "multi_piece_rank",
    "GradientTimesInputParts",
    "gradient_x_input_parts",
    "TEXT_SETTING",
    "text_claims",
]

#: What an absent word becomes in :class:`WordGame`.
ABSENT = ("mask", "delete")
#: The gradient methods of :func:`gradient_word_scores` (names of :data:`helpers.methods.METHODS`).
GRADIENT_METHODS = ("gradient", "gradient_x_input", "integrated_gradients")
#: The methods of :func:`explain_words`, in the order the notebook shows them. All but ``"shap"`` are
#: names of :data:`helpers.methods.METHODS`; ``"shap"`` is a choice made on words, by the text's size:
#: exact Shapley values (``"exact_shap"``) on a short text, KernelSHAP (``"kernel_shap"``) on a long
#: one or with a budget (see :func:`explain_words`).
WORD_METHODS = GRADIENT_METHODS + ("occlusion", "lime", "shap")


def check_text_model(model) -> None:
    """Check that ``model`` is a text classifier in the sense of this module.

    Raises
    ------
    TypeError
        If it is not a ``torch.nn.Module`` with ``embedding_layer``, ``mask_id`` and ``pad_id``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a text classifier (a torch.nn.Module); got {type(model).__name__}")
    for name in ("embedding_layer", "mask_id", "pad_id"):
        if not hasattr(model, name):
            raise TypeError(
                f"model must have an attribute {name!r} (a text classifier of helpers.text_models, "
                f"forward(ids, attention_mask, *, embeddings=None)); {type(model).__name__} has none"
            )


def _check_tokens(tokens, model=None) -> TokenizedText:
    """``tokens`` if it is a text with words; with a ``model``, one whose ids its embedding table holds."""
    if not isinstance(tokens, TokenizedText):
        raise TypeError(f"tokens must be a TokenizedText (from model.tokenize(text)); got {type(tokens).__name__}")
    if tokens.n_words == 0:
        raise ValueError("the text has no words to explain")
    if model is not None:
        size = model.embedding_layer.num_embeddings
        outside = tokens.ids[(tokens.ids < 0) | (tokens.ids >= size)]
        if outside.numel():
            raise ValueError(f"tokens holds ids outside the model's vocabulary [0, {size}): {outside.tolist()[:5]}; "
                             f"tokenize the text with this model (model.tokenize(text))")
    return tokens


def _check_target(target) -> int:
    return check_int("target (a class index)", target, 0)


def predicted_class(model, tokens: TokenizedText) -> int:
    """The class the model predicts for one tokenized text (eval mode, no gradients; the model's mode is restored).

    Examples
    --------
    >>> predicted_class(model, model.tokenize("a gorgeous, witty film"))  # doctest: +SKIP
    1
    """
    check_text_model(model)
    tokens = _check_tokens(tokens, model)
    device = model_device(model)
    ids = tokens.ids.detach().to(device).clone()[None]
    with torch.no_grad(), evaluation_mode(model):
        scores = model(ids, torch.ones_like(ids))
    return int(scores[0].argmax())


# --------------------------------------------------------------------------- coalitions of words


class WordGame(CountedGame):
    r"""The coalition game of one text: players are its words, the worth is the model's target score.

    .. math:: v(z) = S_{target}\big(\text{the text with the words } i: z_i = 0 \text{ absent}\big)

    Two meanings of *absent*:

    - ``"mask"``: every token of an absent word is replaced by ``model.mask_id``
      (``[MASK]`` for a BERT model, which it was trained to read as "a word is
      missing here"; the zero padding vector for the word model), and the
      attention mask is left as it is: the sentence keeps its length.
    - ``"delete"``: the tokens of absent words are removed and the rest moves up
      (attention mask 0 on the padding at the end): the sentence a reader would
      see without those words.

    Special tokens (``[CLS]``, ``[SEP]``) are never removed. The caller's token
    tensors are never changed: every coalition is built in a new tensor. The
    model runs in eval mode without gradients, on chunks of ``batch_size`` rows.

    Ribeiro, Singh and Guestrin, 2016, arXiv 1602.04938 (words as the
    interpretable representation of a text); Lundberg and Lee, 2017,
    arXiv 1705.07874.

    Parameters
    ----------
    model : text classifier
        See the module docstring (e.g. :class:`helpers.text_models.WordModel`).
    tokens : TokenizedText
        ``model.tokenize(text)``.
    target : int, default 1
        The class whose score is the worth (1 = positive for the course's models).
    absent : {"mask", "delete"}, default "mask"
    batch_size : int, default 256
        Rows per forward pass; the values do not depend on it.

    Attributes
    ----------
    n_players : int
        The number of words M.
    words : tuple of str
    full_score, empty_score : float
        :math:`v(N)` and :math:`v(\emptyset)`.
    n_evaluations, n_calls : int
        Coalitions evaluated and forward passes of the model made by ``game(Z)``
        (one per chunk of ``batch_size`` rows), as every game of the course counts
        them (:class:`~helpers.cost.CountedGame`); the two rows evaluated at
        construction are not counted.

    Raises
    ------
    TypeError, ValueError
        For a model that is not a text classifier, tokens that are not a
        ``TokenizedText``, an unknown ``absent``, a bad ``target`` or ``batch_size``.

    Examples
    --------
    >>> game = WordGame(model, model.tokenize("a gorgeous, witty film"))  # doctest: +SKIP
    >>> exact_shapley(game)  # doctest: +SKIP
    """

    def __init__(self, model, tokens: TokenizedText, *, target: int = 1, absent: str = "mask", batch_size: int = 256):
        check_text_model(model)
        tokens = _check_tokens(tokens, model)
        if absent not in ABSENT:
            raise ValueError(f"absent must be one of {ABSENT}; got {absent!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
        self.model = model
        self.tokens = tokens
        self.words = tokens.words
        self.n_players = tokens.n_words
        self.absent = absent
        self.batch_size = int(batch_size)
        self.device = model_device(model)
        self._ids = tokens.ids.detach().to(self.device).clone()
        owner = tokens.word_of_token.to(self.device)
        self._special = owner < 0
        self._owner = owner.clamp_min(0)
        self.target = _check_target(target)
        ends = torch.zeros(2, self.n_players, dtype=torch.bool)
        ends[0] = True
        scores = self._scores(ends)  # not counted: the game's cost is what game(Z) evaluates
        self.reset_counts()
        if self.target >= scores.shape[1]:
            raise ValueError(f"target must be a class index in [0, {scores.shape[1]}); got {self.target}")
        self.full_score = float(scores[0, self.target])
        self.empty_score = float(scores[1, self.target])

    def token_batch(self, Z) -> tuple[torch.Tensor, torch.Tensor]:
        """The token ids and attention masks ``[n, T]`` of the coalitions in ``Z`` (new tensors).

        Examples
        --------
        >>> ids, mask = game.token_batch(torch.ones(1, game.n_players, dtype=torch.bool))  # doctest: +SKIP
        """
        Z = check_coalitions(Z, self.n_players, self.device)
        keep = Z.index_select(1, self._owner) | self._special  # [n, T]: True = the token stays
        ids = self._ids.expand(Z.shape[0], -1)
        if self.absent == "mask":
            return torch.where(keep, ids, torch.full_like(ids, int(self.model.mask_id))), torch.ones_like(ids)
        # delete: a stable sort moves the kept tokens to the front in their order
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
        moved = ids.gather(1, order)
        mask = keep.gather(1, order)
        return torch.where(mask, moved, torch.full_like(moved, int(self.model.pad_id))), mask.to(torch.int64)

    def _scores(self, Z: torch.Tensor) -> torch.Tensor:
        """Every class's score ``[n, classes]`` of the coalitions in ``Z``, one forward pass per ``batch_size`` rows."""
        chunks = []
        with torch.no_grad(), evaluation_mode(self.model):
            for start in range(0, Z.shape[0], self.batch_size):
                ids, mask = self.token_batch(Z[start:start + self.batch_size])
                out = self.model(ids, mask)
                if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != ids.shape[0]:
                    raise ValueError(f"the model must return scores [B, classes] for ids [B, T]; got {getattr(out, 'shape', out)}")
                chunks.append(out)
        return torch.cat(chunks)

    def __call__(self, Z) -> torch.Tensor:
        """The target score of every coalition: float tensor ``[n]`` on the CPU.

        Counts ``n`` evaluations and one call per forward pass (:class:`~helpers.cost.CountedGame`).

        Raises
        ------
        TypeError, ValueError
            For a ``Z`` that is not bool/0-1 or not ``[n, M]``.
        """
        Z = check_coalitions(Z, self.n_players, self.device)
        if Z.shape[0] == 0:
            return torch.empty(0)
        values = self._scores(Z)[:, self.target].detach().cpu()
        self._count(Z.shape[0], calls=len(range(0, Z.shape[0], self.batch_size)))
        return values

    def __repr__(self) -> str:
        return (
            f"WordGame(n_players={self.n_players}, target={self.target}, absent={self.absent!r}, "
            f"n_evaluations={self.n_evaluations})"
        )


# --------------------------------------------------------------------------- gradients on embeddings


class EmbeddingPath(nn.Module):
    r"""A text classifier seen from its embedding layer: embeddings ``[B, T, D]`` -> scores ``[B, classes]``.

    The token ids and attention mask of one text are held fixed (and repeated
    over the batch); only the embedding vectors vary. This makes the embedding
    layer's output the *input* of the course's gradient methods, e.g.
    ``integrated_gradients(path, path.embeddings(), baseline=path.baseline_embeddings())``.
    The model is a submodule, so the methods put it in eval mode (dropout off)
    and give it its mode back.

    Parameters
    ----------
    model : text classifier
    tokens : TokenizedText

    Examples
    --------
    >>> path = EmbeddingPath(model, model.tokenize("a gorgeous film"))  # doctest: +SKIP
    >>> gradient(path, path.embeddings(), target=1).shape  # doctest: +SKIP
    torch.Size([1, 5, 384])
    """

    def __init__(self, model, tokens: TokenizedText):
        super().__init__()
        check_text_model(model)
        tokens = _check_tokens(tokens, model)
        self.model = model
        self.tokens = tokens
        device = model_device(model)
        self.register_buffer("ids", tokens.ids.detach().to(device).clone()[None], persistent=False)
        self.register_buffer("mask", torch.ones_like(self.ids), persistent=False)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        if embeddings.ndim != 3 or embeddings.shape[1] != self.ids.shape[1]:
            raise ValueError(
                f"embeddings must be [B, T, D] with T = {self.ids.shape[1]} tokens; got shape {tuple(embeddings.shape)}"
            )
        batch = embeddings.shape[0]
        return self.model(self.ids.expand(batch, -1), self.mask.expand(batch, -1), embeddings=embeddings)

    @torch.no_grad()
    def embeddings(self) -> torch.Tensor:
        """The text's token embeddings ``[1, T, D]`` (a new tensor)."""
        return self.model.embedding_layer(self.ids).detach().clone()

    @torch.no_grad()
    def baseline_embeddings(self) -> torch.Tensor:
        """``[1, T, D]``: every word token replaced by ``model.mask_id``, special tokens kept.

        The embedding-space twin of :class:`WordGame`'s empty coalition with ``absent="mask"``:
        Integrated Gradients from here sum to :math:`v(N) - v(\\emptyset)` of that game.
        """
        special = self.tokens.word_of_token.to(self.ids.device)[None] < 0
        ids = torch.where(special, self.ids, torch.full_like(self.ids, int(self.model.mask_id)))
        return self.model.embedding_layer(ids).detach().clone()


def pool_tokens(values: torch.Tensor, tokens: TokenizedText, *, reduce: str = "sum") -> torch.Tensor:
    r"""One value per word from one value (or vector) per token.

    Parameters
    ----------
    values : torch.Tensor, [T] or [T, D] (or with a leading batch dimension of 1)
    tokens : TokenizedText
    reduce : {"sum", "norm"}
        ``"sum"`` adds everything of a word's tokens (the right pooling for
        Gradient×Input and Integrated Gradients: completeness is kept);
        ``"norm"`` takes the Euclidean norm over all of a word's values (the
        gradient-norm saliency of a word).

    Returns
    -------
    torch.Tensor, float64, [M]; special tokens are left out.
    """
    tokens = _check_tokens(tokens)
    if reduce not in ("sum", "norm"):
        raise ValueError(f'reduce must be "sum" or "norm"; got {reduce!r}')
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"values must be a tensor; got {type(values).__name__}")
    v = values.detach().cpu().double()
    if v.ndim >= 2 and v.shape[0] == 1 and v.shape[1] == tokens.ids.shape[0]:
        v = v[0]
    if v.ndim == 0 or v.shape[0] != tokens.ids.shape[0]:
        raise ValueError(f"values must have one row per token, [T = {tokens.ids.shape[0]}, ...]; got {tuple(values.shape)}")
    v = v.reshape(v.shape[0], -1)
    keep = tokens.word_of_token >= 0
    owner = tokens.word_of_token[keep]
    per_token = v[keep].sum(dim=1) if reduce == "sum" else v[keep].pow(2).sum(dim=1)
    out = torch.zeros(tokens.n_words, dtype=torch.float64).index_add_(0, owner, per_token)
    return out if reduce == "sum" else out.sqrt()


def gradient_word_scores(model, tokens: TokenizedText, method: str = "gradient", *, target: int = 1,
                         steps: int | None = 32, rule: str = "gauss_legendre", return_info: bool = False):
    r"""A gradient method of :mod:`helpers.saliency` on the token embeddings, pooled to one score per word.

    - ``"gradient"``: :math:`\lVert \partial S / \partial e_t \rVert_2` over a
      word's tokens (Simonyan et al., 2013, arXiv 1312.6034; the gradient norm
      of Li et al., 2016, arXiv 1506.01066). Unsigned.
    - ``"gradient_x_input"``: :math:`\sum_d e_{t,d}\, \partial S/\partial e_{t,d}`,
      summed over a word's tokens (Shrikumar et al., 2016, arXiv 1605.01713). Signed.
    - ``"integrated_gradients"``: from :meth:`EmbeddingPath.baseline_embeddings`
      (every word token the model's mask token), summed over the embedding
      dimension and a word's tokens (Sundararajan et al., 2017,
      arXiv 1703.01365). Signed; the word scores sum to
      :math:`S(x) - S(x')` up to the completeness gap.

    Parameters
    ----------
    model : text classifier
    tokens : TokenizedText
    method : {"gradient", "gradient_x_input", "integrated_gradients"}
    target : int, default 1
    steps, rule : Integrated Gradients' points and rule (see :func:`helpers.saliency.integrated_gradients`).
    return_info : bool, default False
        With ``"integrated_gradients"``: also return its :class:`~helpers.saliency.IntegratedGradientsInfo`.

    Returns
    -------
    torch.Tensor, float64, [M] (and the info with ``return_info``)

    Examples
    --------
    >>> gradient_word_scores(model, model.tokenize("a gorgeous film"), "gradient_x_input")  # doctest: +SKIP
    """
    if method not in GRADIENT_METHODS:
        raise ValueError(f"method must be one of {GRADIENT_METHODS}; got {method!r}")
    if return_info and method != "integrated_gradients":
        raise ValueError(f"return_info is for integrated_gradients only; got method {method!r}")
    target = _check_target(target)
    path = EmbeddingPath(model, tokens)
    x = path.embeddings()
    if method == "gradient":
        return pool_tokens(gradient(path, x, target), tokens, reduce="norm")
    if method == "gradient_x_input":
        return pool_tokens(gradient_x_input(path, x, target), tokens)
    result = integrated_gradients(path, x, target, baseline=path.baseline_embeddings(), steps=steps, rule=rule,
                                  return_info=return_info)
    if return_info:
        attributions, info = result
        return pool_tokens(attributions, tokens), info
    return pool_tokens(result, tokens)


# --------------------------------------------------------------------------- agreement with people


def lexicon_agreement(scores, valences, *, magnitude: bool = False, min_rated: int = 2) -> float:
    """Spearman's rank correlation between one explanation's word scores and the words' valences.

    Words missing from the lexicon count as valence 0 (a neutral word), so the
    correlation asks: does the explanation rank the words people rated positive
    above the neutral ones and those above the negative ones?

    Parameters
    ----------
    scores, valences : tensor [M]
    magnitude : bool, default False
        Compare absolute values: for an unsigned method (the gradient norm), or to
        ask only whether the words that carry sentiment are the ones that matter.
    min_rated : int, default 2
        NaN unless at least this many words have a non-zero valence (too few
        rated words leave nothing to compare).

    Returns
    -------
    float (NaN when undefined)

    Examples
    --------
    >>> lexicon_agreement(torch.tensor([0.1, 2.0, -1.0]), torch.tensor([0.0, 3.0, -1.4]))
    1.0
    """
    a = torch.as_tensor(scores).detach().cpu().double().reshape(-1)
    b = torch.as_tensor(valences).detach().cpu().double().reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"scores and valences must have one value per word each; got {tuple(a.shape)} and {tuple(b.shape)}")
    if int((b != 0).sum()) < min_rated:
        return float("nan")
    if magnitude:
        a, b = a.abs(), b.abs()
    return float(rank_correlation(a[None], b[None])[0])


# --------------------------------------------------------------------------- every method on words, compared


@dataclass
class WordExplanations:
    """What :func:`explain_words` returns for one text.

    Attributes
    ----------
    words : tuple of str
    scores : dict of str -> torch.Tensor, float64, [M]
        One entry per method.
    forward_rows, backward_passes : dict of str -> int
        What each method cost, counted by :class:`helpers.cost.CostCounter` on the model.
    seconds : dict of str -> float
        Wall time of each method (not reproducible run to run).
    shap_exact : bool
        Whether ``scores["shap"]`` holds exact Shapley values (all :math:`2^M` coalitions) or KernelSHAP.
    completeness_gap : float
        Integrated Gradients' :math:`|\\sum_i a_i - (S(x) - S(x'))|` (NaN if not computed).
    game : WordGame
        The game (``absent`` as asked) the coalition methods explained.
    """

    words: tuple
    scores: dict
    forward_rows: dict
    backward_passes: dict
    seconds: dict
    shap_exact: bool
    completeness_gap: float
    game: WordGame


def explain_words(model, tokens: TokenizedText, *, methods=WORD_METHODS, target: int | None = 1, absent: str = "mask",
                  ig_steps: int = 32, lime_samples: int = 500, kernel_width: float = 0.25, shap_budget: int | None = None,
                  max_exact_words: int = 14, seed: int = 0) -> WordExplanations:
    r"""Every method of the course on the words of one text, each with its measured cost.

    Gradient methods go through :func:`gradient_word_scores`; coalition methods
    explain one :class:`WordGame` with :func:`helpers.features.occlusion`,
    :func:`helpers.lime.lime` and :func:`helpers.shapley.exact_shapley` (at most
    ``max_exact_words`` words and no ``shap_budget``) or
    :func:`helpers.shapley.kernel_shap`.

    Parameters
    ----------
    model : text classifier
    tokens : TokenizedText
    methods : sequence of str
        A subset of :data:`WORD_METHODS`.
    target : int or None, default 1
        The class explained; None: the class the model predicts for the text (:func:`predicted_class`).
    absent : {"mask", "delete"}
        For the coalition methods (the gradient methods' baseline is always the mask token).
    ig_steps : int
        Gauss--Legendre points of Integrated Gradients.
    lime_samples, kernel_width : LIME's sample count and kernel width.
    shap_budget : int, optional
        KernelSHAP's budget; None: exact Shapley values when the text has at
        most ``max_exact_words`` words, else KernelSHAP with budget
        :math:`\max(2M + 2, 64)`. This choice is what ``"shap"`` means on words
        (``"exact_shap"`` or ``"kernel_shap"`` of :data:`helpers.methods.METHODS`,
        as ``shap_exact`` of the result says).
    seed : int
        LIME's and KernelSHAP's seed.

    Returns
    -------
    WordExplanations

    Examples
    --------
    >>> result = explain_words(model, model.tokenize("a gorgeous film"), lime_samples=200)  # doctest: +SKIP
    >>> result.scores["shap"]  # doctest: +SKIP
    """
    methods = tuple(methods)
    unknown = [m for m in methods if m not in WORD_METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {WORD_METHODS}; got {methods!r}")
    tokens = _check_tokens(tokens)
    target = predicted_class(model, tokens) if target is None else target
    game = WordGame(model, tokens, target=target, absent=absent)
    M = game.n_players
    exact = shap_budget is None and M <= max_exact_words
    budget = shap_budget if shap_budget is not None else max(2 * M + 2, 64)
    scores, rows, backward, seconds, gap = {}, {}, {}, {}, float("nan")
    for name in methods:
        with CostCounter(model) as cost:
            if name in GRADIENT_METHODS:
                if name == "integrated_gradients":
                    values, info = gradient_word_scores(model, tokens, name, target=target, steps=ig_steps,
                                                        return_info=True)
                    gap = float(info.gap[0])
                else:
                    values = gradient_word_scores(model, tokens, name, target=target)
            elif name == "occlusion":
                values = occlusion(game)
            elif name == "lime":
                values = lime(game, n_samples=lime_samples, kernel_width=kernel_width, seed=seed)
            else:
                values = exact_shapley(game) if exact else kernel_shap(game, budget=budget, seed=seed)
        scores[name] = torch.as_tensor(values).detach().cpu().double()
        rows[name], backward[name], seconds[name] = cost.forward_rows, cost.backward_passes, cost.seconds
    return WordExplanations(tokens.words, scores, rows, backward, seconds, exact, gap, game)


def _signed(name: str, *, shap_exact: bool) -> bool:
    """Whether the word scores of ``name`` (one of :data:`WORD_METHODS`) have a sign, as
    :data:`helpers.methods.METHODS` says; ``"shap"`` is the estimator :func:`explain_words` chose."""
    if name == "shap":
        name = "exact_shap" if shap_exact else "kernel_shap"
    return method(name).signed


def finite(values) -> np.ndarray:
    """The finite entries of ``values`` as a float64 array (the examples on which a figure is defined).

    Examples
    --------
    >>> finite([0.5, float("nan"), 1.0]).tolist()
    [0.5, 1.0]
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return values[np.isfinite(values)]


def _nanmedian(values) -> float:
    """The median of the finite values; NaN (without a warning) when there are none."""
    values = finite(values)
    return float(np.median(values)) if values.size else float("nan")


def valences_toward(valences, target: int) -> torch.Tensor:
    """VADER's valences seen from the explained class: as rated for class 1 (positive), negated for class 0.

    An explanation of class 0 (negative) gives a positive score to a word that pushes the model toward
    *negative*, so its plausibility is its agreement with the negated valences.

    Raises
    ------
    ValueError
        For a target other than 0 or 1 (the course's text models have two classes).

    Examples
    --------
    >>> valences_toward(torch.tensor([2.0, -1.0]), 0).tolist()
    [-2.0, 1.0]
    """
    target = _check_target(target)
    if target > 1:
        raise ValueError(f"target must be 0 (negative) or 1 (positive) to compare with VADER's valences; got {target}")
    valences = torch.as_tensor(valences, dtype=torch.float64)
    return valences if target == 1 else -valences


# --------------------------------------------------------------------------- a small edit of a text


@dataclass(frozen=True)
class Edit:
    """A text and a copy with one word changed (:func:`typo`).

    Attributes
    ----------
    original, edited : str
        The words of :func:`~helpers.text_models.split_words`, joined by spaces (so both split into
        the same number of words, word ``i`` facing word ``i``).
    word : int
        The index of the changed word.
    before, after : str
        The word before and after the edit.
    """

    original: str
    edited: str
    word: int
    before: str
    after: str


def typo(text: str, *, seed: int = 0) -> Edit:
    """A one-letter typo: two neighbouring letters of the text's longest word swapped.

    The word is the longest of :func:`~helpers.text_models.split_words` that has two different
    neighbouring letters (the first of equally long ones); the pair swapped is drawn among its pairs
    of two different letters by a NumPy generator of its own seeded with ``seed`` (the global random
    state is not touched): the same text and seed give the same edit on every machine. A reader
    barely notices it; the number of words stays, so explanations of the two texts compare word by
    word. The edit that image noise is to a digit: the model's input changes a little, the meaning
    not at all.

    Parameters
    ----------
    text : str
    seed : int, default 0

    Returns
    -------
    Edit

    Raises
    ------
    TypeError
        If ``text`` is not a str.
    ValueError
        If no word of ``text`` has two different neighbouring letters.

    Examples
    --------
    >>> typo("a truly gorgeous film").edited
    'a truly gorgeuos film'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    seed = check_seed(seed)
    words = split_words(text)

    def pairs(word):
        return [i for i in range(len(word) - 1) if word[i].isalpha() and word[i + 1].isalpha() and word[i] != word[i + 1]]

    candidates = [k for k, w in enumerate(words) if pairs(w)]
    if not candidates:
        raise ValueError(f"no word of {text!r} has two different neighbouring letters to swap")
    k = max(candidates, key=lambda i: (len(words[i]), -i))
    word = words[k]
    choices = pairs(word)
    i = choices[int(np.random.default_rng(seed).integers(len(choices)))]
    after = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    edited = words[:k] + [after] + words[k + 1:]
    return Edit(" ".join(words), " ".join(edited), k, word, after)


# --------------------------------------------------------------------------- many texts: agreement, faithfulness, stability, cost


@dataclass
class TextComparison:
    """Every method on many texts: agreement with people, faithfulness, stability under a typo, and cost.

    One entry per text in every array (NaN where a figure is undefined on that text).

    Attributes
    ----------
    methods : tuple of str
    texts : tuple of str
    targets : numpy array of int [N]
        The class explained on each text.
    scores : list of dict of str -> torch.Tensor [M]
        Each text's explanations.
    agreement : dict of str -> numpy array [N]
        Plausibility: :func:`lexicon_agreement` of the word scores with VADER's valences toward the
        explained class (:func:`valences_toward`); signed scores against signed valences, magnitudes for
        a method that :data:`helpers.methods.METHODS` calls unsigned (the gradient norm).
    magnitude_agreement : dict of str -> numpy array [N]
        The same on absolute values for every method (the ``|rho|`` of :meth:`table`).
    deletion_area : dict of str -> numpy array [N]
        Faithfulness: :func:`helpers.metrics.curve_area` (``kind="deletion"``: rescaled so that
        :math:`v(\\emptyset) = 0` and :math:`v(N) = 1`) of the method's deletion curve on the text's
        :class:`WordGame`; NaN on a text whose score moves less than ``min_change`` from all words to none.
    random_area : numpy array [N]
        The mean rescaled area of the random orders.
    below_random : dict of str -> numpy array [N]
        ``random_area - deletion_area``: how far the method's curve lies below chance (0: no better
        than a random order; negative: worse).
    edits : list of Edit or None
        :func:`typo` of every text, when ``edit_methods`` were given.
    edit_rho, edit_rho_all : dict of str -> numpy array [N]
        For each of ``edit_methods``: Spearman's rank correlation of the explanations of a text and
        of its typo, on the words other than the edited one (``edit_rho``) and on all words.
    forward_rows, backward_passes, seconds : dict of str -> numpy array [N]
    n_words : numpy array [N]
    shap_exact : numpy array of bool [N]
        Whether ``"shap"`` was exact on each text (else KernelSHAP).
    options : dict
        What the methods were run with (:func:`explain_words`'s options, ``random_orders``, ``min_change``).
    """

    methods: tuple
    texts: tuple
    targets: np.ndarray
    scores: list
    agreement: dict
    magnitude_agreement: dict
    deletion_area: dict
    random_area: np.ndarray
    below_random: dict
    edits: list | None
    edit_rho: dict
    edit_rho_all: dict
    forward_rows: dict
    backward_passes: dict
    seconds: dict
    n_words: np.ndarray
    shap_exact: np.ndarray
    options: dict

    @property
    def n_texts(self) -> int:
        return len(self.texts)

    def summary(self) -> dict:
        """Method -> dict of medians over the texts where defined (agreement, deletion, typo) and mean costs."""
        out = {}
        for m in self.methods:
            out[m] = {
                "agreement": _nanmedian(self.agreement[m]),
                "magnitude_agreement": _nanmedian(self.magnitude_agreement[m]),
                "defined": int(np.isfinite(self.agreement[m]).sum()),
                "deletion_area": _nanmedian(self.deletion_area[m]),
                "below_random": _nanmedian(self.below_random[m]),
                "edit_rho": _nanmedian(self.edit_rho[m]) if m in self.edit_rho else float("nan"),
                "forward_rows": float(np.mean(self.forward_rows[m])),
                "backward_passes": float(np.mean(self.backward_passes[m])),
            }
        return out

    def table(self, *, digits: int = 2) -> str:
        """A plain-text table of :meth:`summary` (rounded: stable under nbval; "-" where not measured)."""
        def cell(value, width):
            return f"{'-':>{width}}" if not np.isfinite(value) else f"{value:>{width}.{digits}f}"

        lines = [f"{'method':<22}{'VADER rho':>10}{'|rho|':>7}{'n':>4}{'deletion':>10}{'random':>8}{'below':>7}"
                 f"{'typo rho':>9}{'rows':>8}{'backward':>9}"]
        random_median = _nanmedian(self.random_area)
        for m, s in self.summary().items():
            lines.append(f"{m:<22}{cell(s['agreement'], 10)}{cell(s['magnitude_agreement'], 7)}{s['defined']:>4d}"
                         f"{cell(s['deletion_area'], 10)}{cell(random_median, 8)}{cell(s['below_random'], 7)}"
                         f"{cell(s['edit_rho'], 9)}{s['forward_rows']:>8.1f}{s['backward_passes']:>9.1f}")
        return "\n".join(lines)


def compare_on_texts(model, texts, *, methods=WORD_METHODS, target: int | None = None, random_orders: int = 10,
                     min_change: float = 0.1, edit_methods=(), edit_seed: int = 0, **options) -> TextComparison:
    r"""Run :func:`explain_words` on many texts and measure each method on each text.

    - **Plausibility** (agreement with people, not with the model; Jacovi and Goldberg,
      "Towards Faithfully Interpretable NLP Systems", ACL 2020): :func:`lexicon_agreement` of
      the word scores with VADER's valences toward the explained class (:func:`valences_toward`).
    - **Faithfulness** (agreement with the model): the deletion curve
      (:func:`helpers.metrics.deletion_curve`, Petsiuk et al. 2018, arXiv 1806.07421) of the
      method's ranking on the text's :class:`WordGame`, its area rescaled to
      :math:`v(\emptyset) = 0`, :math:`v(N) = 1`, against the mean of ``random_orders`` random
      orders (:func:`helpers.metrics.random_order_curves`); texts whose score moves less than
      ``min_change`` between all words and none are left out (NaN), their rescaling being unstable.
    - **Stability under a typo**, for ``edit_methods``: the explanation of :func:`typo` of the text
      (seed ``edit_seed``), for the same class, against the text's own, word by word.
    - **Cost**: forward rows and backward passes counted on the model.

    Parameters
    ----------
    model : text classifier
    texts : sequence of str
    methods : sequence of str
    target : int or None, default None
        The class explained; None: each text's predicted class (:func:`predicted_class`).
    random_orders : int, default 10
    min_change : float, default 0.1
    edit_methods : sequence of str, default ()
        A subset of ``methods``.
    edit_seed : int, default 0
    **options
        Passed to :func:`explain_words` (``ig_steps``, ``lime_samples``, ``shap_budget``, ``seed``, ...).

    Returns
    -------
    TextComparison

    Examples
    --------
    >>> comparison = compare_on_texts(model, texts, lime_samples=300)  # doctest: +SKIP
    >>> print(comparison.table())  # doctest: +SKIP
    """
    if isinstance(texts, str) or not texts or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a non-empty sequence of str")
    methods = tuple(methods)
    edit_methods = tuple(edit_methods)
    outside = [m for m in edit_methods if m not in methods]
    if outside:
        raise ValueError(f"edit_methods must be a subset of methods {methods}; got {outside}")
    min_change = check_float("min_change", min_change, minimum=0.0)
    random_orders = check_int("random_orders", random_orders, 1)
    measured = [_measure_text(model, text, methods, target=target, orders_seed=i, random_orders=random_orders,
                              min_change=min_change, edit_methods=edit_methods, edit_seed=edit_seed, options=options)
                for i, text in enumerate(texts)]

    def per_method(key, names=methods):
        return {m: np.asarray([r["methods"][m][key] for r in measured], dtype=np.float64) for m in names}

    random_area = np.asarray([r["random_area"] for r in measured])
    deletion = per_method("deletion_area")
    return TextComparison(
        methods, tuple(texts), np.asarray([r["target"] for r in measured]), [r["scores"] for r in measured],
        per_method("agreement"), per_method("magnitude_agreement"), deletion, random_area,
        {m: random_area - deletion[m] for m in methods},
        [r["edit"] for r in measured] if edit_methods else None,
        per_method("edit_rho", edit_methods), per_method("edit_rho_all", edit_methods),
        per_method("forward_rows"), per_method("backward_passes"), per_method("seconds"),
        np.asarray([r["n_words"] for r in measured]), np.asarray([r["shap_exact"] for r in measured]),
        {**options, "random_orders": random_orders, "min_change": min_change, "edit_seed": edit_seed})


def _measure_text(model, text: str, methods: tuple, *, target, orders_seed: int, random_orders: int, min_change: float,
                  edit_methods: tuple, edit_seed: int, options: dict) -> dict:
    """One text of :func:`compare_on_texts`."""
    tokens = model.tokenize(text)
    result = explain_words(model, tokens, methods=methods, target=target, **options)
    game = result.game
    valences = valences_toward(word_valences(tokens.words), game.target)
    usable = abs(game.full_score - game.empty_score) >= min_change
    random_area = float("nan")
    if usable:
        random_area = float(curve_area(random_order_curves(game, n_orders=random_orders, seed=orders_seed),
                                       kind="deletion").mean())
    edit, edited = None, None
    if edit_methods:
        edit = typo(text, seed=edit_seed)
        edited = explain_words(model, model.tokenize(edit.edited), methods=edit_methods, target=game.target,
                               **options).scores
    others = torch.arange(tokens.n_words) != (edit.word if edit else -1)
    measures = {}
    for m in methods:
        s = result.scores[m]
        measures[m] = {
            "agreement": lexicon_agreement(s, valences, magnitude=not _signed(m, shap_exact=result.shap_exact)),
            "magnitude_agreement": lexicon_agreement(s, valences, magnitude=True),
            "deletion_area": float(curve_area(deletion_curve(game, s), kind="deletion")) if usable else float("nan"),
            "forward_rows": result.forward_rows[m],
            "backward_passes": result.backward_passes[m],
            "seconds": result.seconds[m],
        }
        if m in edit_methods:
            pair = (s[None], edited[m][None])
            measures[m]["edit_rho"] = float(rank_correlation(*pair, players=others)[0])
            measures[m]["edit_rho_all"] = float(rank_correlation(*pair)[0])
    return {"methods": measures, "random_area": random_area, "n_words": tokens.n_words, "shap_exact": result.shap_exact,
            "target": game.target, "scores": result.scores, "edit": edit}


# --------------------------------------------------------------------------- seeds and cost at matched accuracy


def seed_agreement(model, tokens: TokenizedText, method: str, seeds=(0, 1, 2), **options) -> float:
    """Mean rank correlation between explanations of one text that differ only in the seed.

    :func:`helpers.metrics.seed_stability` (the definition notebooks 04 and 06 use: Spearman's rank
    correlation for every pair of seeds, averaged) of ``"lime"`` or ``"shap"`` (KernelSHAP when
    ``shap_budget`` is given); ``options`` go to :func:`explain_words`.

    Examples
    --------
    >>> seed_agreement(model, model.tokenize("a gorgeous and witty film"), "lime", lime_samples=500)  # doctest: +SKIP
    """
    if method not in ("lime", "shap"):
        raise ValueError(f'method must be "lime" or "shap" (the seeded methods); got {method!r}')
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least two seeds; got {seeds!r}")
    if "target" not in options or options["target"] is None:
        options = {**options, "target": predicted_class(model, tokens)}
    return seed_stability(lambda s: explain_words(model, tokens, methods=(method,), seed=s, **options).scores[method],
                          seeds=seeds, k=1).rank_correlation


@dataclass
class SeedAgreements:
    """:func:`seed_agreement` of LIME and KernelSHAP on many texts.

    Attributes
    ----------
    lime, kernel_shap : numpy array [N]
    n_words : numpy array [N]
    lime_samples, shap_budget : int
    seeds : tuple of int
    """

    lime: np.ndarray
    kernel_shap: np.ndarray
    n_words: np.ndarray
    lime_samples: int
    shap_budget: int
    seeds: tuple


def seed_agreements(model, texts, *, lime_samples: int = 500, shap_budget: int = 200, seeds=(0, 1, 2)) -> SeedAgreements:
    """:func:`seed_agreement` of LIME (``lime_samples``) and KernelSHAP (``shap_budget``) on each text, its predicted class.

    The sample counts default to notebook 06's (500 samples, 200 coalitions); a text whose
    :math:`2^M` coalitions fit in ``shap_budget`` is refused (KernelSHAP would be exact there, and
    agree with itself trivially).

    Examples
    --------
    >>> seed_agreements(word_model, texts).lime  # doctest: +SKIP
    """
    if isinstance(texts, str) or not texts:
        raise TypeError("texts must be a non-empty sequence of str")
    seeds = tuple(seeds)
    lime_rho, shap_rho, n_words = [], [], []
    for text in texts:
        tokens = model.tokenize(text)
        if 2 ** tokens.n_words <= shap_budget:
            raise ValueError(f"the text {text!r} has {tokens.n_words} words: its 2^M = {2 ** tokens.n_words} coalitions fit "
                             f"in shap_budget={shap_budget}, where KernelSHAP is exact; give texts of more words")
        target = predicted_class(model, tokens)
        lime_rho.append(seed_agreement(model, tokens, "lime", seeds, target=target, lime_samples=lime_samples))
        shap_rho.append(seed_agreement(model, tokens, "shap", seeds, target=target, shap_budget=shap_budget))
        n_words.append(tokens.n_words)
    return SeedAgreements(np.asarray(lime_rho), np.asarray(shap_rho), np.asarray(n_words), int(lime_samples),
                          int(shap_budget), seeds)


#: Budgets (coalitions evaluated) tried by :func:`matched_cost`, as in notebook 06.
MATCHED_BUDGETS = (32, 64, 128, 256, 512, 1024, 2048, 4096)


@dataclass
class MatchedCost:
    """Forward rows of each method on one text at matched accuracy (:func:`matched_cost`).

    Attributes
    ----------
    n_words : int
    gradient_rows : int
        Counted by :class:`~helpers.cost.CostCounter` for one gradient explanation.
    lime_rows, kernel_shap_rows : int
        The smallest budget within ``target_error`` of the method's reference.
    exact_rows : int
        :math:`2^M`.
    target_error : float
    converged_samples : int
    """

    n_words: int
    gradient_rows: int
    lime_rows: int
    kernel_shap_rows: int
    exact_rows: int
    target_error: float
    converged_samples: int


def _smallest_budget(game, reference, estimate, budgets, seeds, target_error: float, name: str) -> int:
    """The smallest budget whose median error over ``seeds`` is within ``target_error`` (:func:`budget_to_reach`)."""
    for budget in budgets:
        with warnings.catch_warnings():  # a fit on too few effective samples is what its error measures here
            warnings.filterwarnings("ignore", message=r"kernel_width=.* effective samples", category=UserWarning)
            errors = budget_errors(game, reference, {name: estimate}, [budget], seeds)[name]
        if budget_to_reach(errors, [budget], target_error) is not None:
            return budget
    raise ValueError(f"{name} does not come within {target_error} of its reference on {' '.join(game.words)!r} "
                     f"by the largest budget {budgets[-1]}; pass larger budgets")


def matched_cost(model, tokens: TokenizedText, *, target: int | None = None, budgets=MATCHED_BUDGETS, seeds=(0, 1),
                 target_error: float = 0.01, converged_samples: int = 4096, converged_seed: int = 99) -> MatchedCost:
    r"""What each method costs on one text for an answer of matched accuracy, as notebook 06 measures it.

    - LIME: the smallest of ``budgets`` (samples) whose median over ``seeds`` of
      :func:`helpers.shapley.relative_error` (squared, relative) against LIME's own answer at
      ``converged_samples`` samples (seed ``converged_seed``) is at most ``target_error``
      (:func:`helpers.metrics.budget_to_reach`);
    - KernelSHAP: the same against exact Shapley values (budgets below its least,
      :math:`2M + 2`, are skipped);
    - exact SHAP: :math:`2^M` rows; the gradient: the rows counted for one explanation.

    LIME's warning that a fit has fewer effective samples than features is silenced during the
    search: such a fit's error against the converged answer says what it is worth.

    Raises
    ------
    ValueError
        If a method does not reach ``target_error`` within the largest budget.

    Examples
    --------
    >>> cost = matched_cost(word_model, word_model.tokenize(text))  # doctest: +SKIP
    >>> cost.lime_rows, cost.kernel_shap_rows, cost.exact_rows  # doctest: +SKIP
    """
    tokens = _check_tokens(tokens, model)
    target = predicted_class(model, tokens) if target is None else target
    budgets = sorted(check_int("budget", b, 1) for b in budgets)
    if not budgets:
        raise ValueError("budgets must hold at least one budget")
    target_error = check_float("target_error", target_error, positive=True)
    seeds = list(seeds)
    with CostCounter(model) as cost:
        gradient_word_scores(model, tokens, "gradient", target=target)
    game = WordGame(model, tokens, target=target)
    M = game.n_players
    converged = lime(game, n_samples=converged_samples, seed=converged_seed)
    lime_rows = _smallest_budget(game, converged, lambda g, b, s: lime(g, n_samples=b, seed=s), budgets, seeds,
                                 target_error, "LIME")
    kernel_budgets = [b for b in budgets if b >= 2 * M + 2]
    if not kernel_budgets:
        raise ValueError(f"budgets must reach KernelSHAP's least budget 2M + 2 = {2 * M + 2}; got {budgets}")
    kernel_rows = _smallest_budget(game, exact_shapley(game), lambda g, b, s: kernel_shap(g, budget=b, seed=s),
                                   kernel_budgets, seeds, target_error, "KernelSHAP")
    return MatchedCost(M, cost.forward_rows, lime_rows, kernel_rows, 2**M, target_error, int(converged_samples))


# --------------------------------------------------------------------------- the artefacts of word pieces and of Gradient x Input


def word_piece_counts(tokens: TokenizedText) -> torch.Tensor:
    """How many tokens (word pieces) each word was split into: int64 ``[M]``.

    Examples
    --------
    >>> word_piece_counts(minilm.tokenize("Bielinsky is a filmmaker")).tolist()  # doctest: +SKIP
    [3, 1, 1, 1]
    """
    tokens = _check_tokens(tokens)
    owner = tokens.word_of_token[tokens.word_of_token >= 0]
    return torch.bincount(owner, minlength=tokens.n_words).to(torch.int64)


def gradient_token_norms(model, tokens: TokenizedText, *, target: int = 1) -> torch.Tensor:
    r""":math:`\lVert \partial S_{target} / \partial e_t \rVert_2` of every token, special ones included: float64 ``[T]``.

    The gradient norm of a word (:func:`gradient_word_scores`) pools these over its pieces:
    :math:`\sqrt{\sum_{t \in w} \lVert \partial S/\partial e_t \rVert^2}`, which grows with the number
    of pieces (by :math:`\sqrt{k}` for :math:`k` pieces of equal norm).
    """
    target = _check_target(target)
    path = EmbeddingPath(model, tokens)
    grads = gradient(path, path.embeddings(), target, absolute=False)[0]
    return grads.detach().cpu().double().norm(dim=-1)


def multi_piece_rank(scores, counts) -> float:
    """The mean percentile rank by ``|scores|`` (0 the least important word, 1 the most) of the words of several pieces.

    Ranks are :func:`helpers.metrics.tied_ranks` (ties share their mean rank). Chance is 0.5: a
    method that ignores how a word was split ranks its split words in the middle on average.
    NaN when no word, or every word, has several pieces.

    Examples
    --------
    >>> multi_piece_rank(torch.tensor([3.0, 1.0, 2.0]), torch.tensor([3, 1, 1]))
    1.0
    """
    scores = torch.as_tensor(scores).detach().cpu().double().reshape(-1)
    counts = torch.as_tensor(counts).detach().cpu().reshape(-1)
    if scores.shape != counts.shape:
        raise ValueError(f"scores and counts must have one value per word each; got {tuple(scores.shape)} and {tuple(counts.shape)}")
    split = (counts > 1).numpy()
    if not split.any() or split.all():
        return float("nan")
    ranks = tied_ranks(scores.abs().numpy()[None])[0]
    return float(((ranks[split] - 1) / (len(ranks) - 1)).mean())


@dataclass
class GradientTimesInputParts:
    r"""Gradient×Input of a BERT-style model split by what its embedding layer adds (:func:`gradient_x_input_parts`).

    Attributes
    ----------
    word : torch.Tensor, [M] (as ``position`` and ``whole``: summed over each word's tokens)
        :math:`e_t \cdot g_t`: Gradient×Input on the word-piece embeddings (:func:`gradient_word_scores`).
    position : torch.Tensor
        :math:`(p_t + s_t) \cdot g_t`: the same product with the position and token-type embeddings.
    whole : torch.Tensor
        :math:`h_t \cdot g_t`, :math:`h_t = e_t + p_t + s_t`: the input of the first LayerNorm.
    score_difference : float
        :math:`S(x) - S(x')`, ``x'`` every word token ``[MASK]`` (Integrated Gradients' baseline).
    """

    word: torch.Tensor
    position: torch.Tensor
    whole: torch.Tensor
    score_difference: float


def gradient_x_input_parts(model, tokens: TokenizedText, *, target: int = 1) -> GradientTimesInputParts:
    r"""Why Gradient×Input on a BERT-style model sums to little: LayerNorm makes the gradient orthogonal to its input.

    The encoder adds the word-piece embedding :math:`e_t`, the position embedding :math:`p_t` and the
    token-type embedding :math:`s_t` and normalises :math:`h_t = e_t + p_t + s_t` by LayerNorm, whose
    output does not change when :math:`h_t` is scaled: so :math:`h_t \cdot \partial S/\partial h_t = 0`
    (Euler's theorem for a function homogeneous of degree 0, up to LayerNorm's :math:`\epsilon`), and
    since :math:`\partial S/\partial e_t = \partial S/\partial h_t = g_t`,

    .. math:: e_t \cdot g_t = -(p_t + s_t) \cdot g_t .

    Gradient×Input of a word is then a product of the gradient with the word's *position*, not
    with the word: nothing ties its sum to :math:`S(x) - S(x')` (the completeness that Integrated
    Gradients has and a linear model gives for free). Ba, Kiros and Hinton 2016, arXiv 1607.06450
    (LayerNorm's invariance to scaling); Ancona et al. 2018, arXiv 1711.06104 (Gradient×Input).

    Parameters
    ----------
    model : text classifier with ``model.encoder.embeddings`` holding ``position_embeddings`` and
        ``token_type_embeddings`` (e.g. :class:`helpers.text_models.SentenceClassifier`)
    tokens : TokenizedText
    target : int, default 1

    Raises
    ------
    TypeError
        For a model without BERT-style embeddings (the word model has none: it adds nothing to its word vectors).
    """
    check_text_model(model)
    embeddings = getattr(getattr(model, "encoder", None), "embeddings", None)
    if not all(hasattr(embeddings, name) for name in ("position_embeddings", "token_type_embeddings")):
        raise TypeError(f"model must be a BERT-style encoder (model.encoder.embeddings with position and token-type "
                        f"embeddings); {type(model).__name__} has none")
    target = _check_target(target)
    tokens = _check_tokens(tokens, model)
    path = EmbeddingPath(model, tokens)
    x = path.embeddings()
    g = gradient(path, x, target, absolute=False)[0].detach().double()
    with torch.no_grad():
        T = x.shape[1]
        added = (embeddings.position_embeddings.weight[:T] + embeddings.token_type_embeddings.weight[0]).detach().double()
        with evaluation_mode(path):
            scores = path(torch.cat([x, path.baseline_embeddings()]))[:, target]
    word = (x[0].double() * g).sum(dim=1)
    position = (added.to(g.device) * g).sum(dim=1)
    return GradientTimesInputParts(pool_tokens(word, tokens), pool_tokens(position, tokens),
                                   pool_tokens(word + position, tokens), float(scores[0] - scores[1]))


# --------------------------------------------------------------------------- the comparison table's claims, measured on text

#: What every claim measured on text shares (each claim's setting adds its model, snippets and options).
TEXT_SETTING = ("words of Rotten Tomatoes snippets (VADER's ground truth) as the players; an absent word is [MASK] "
                "(MiniLM) or the zero padding vector (word model); each snippet's predicted class explained, on its logit")


def _words(counts) -> str:
    counts = np.asarray(counts)
    low, high = int(counts.min()), int(counts.max())
    return f"{low} words" if low == high else f"{low} to {high} words"


def text_claims(word: TextComparison, minilm: TextComparison, seeds: SeedAgreements, matched, *,
                gradients: TextComparison | None = None) -> list:
    r"""The comparison table's claims measured on words, by the definitions notebook 06 uses.

    Every claim is :func:`helpers.verdicts.measure_claim` of the same row and column, with the same
    criteria and thresholds as on digits, and a ``setting`` that says what was measured on text:
    which model, which snippets, what was changed. The samples are per snippet, so every rule
    carries a bootstrap interval (NaN figures, on snippets where a figure is undefined, are left out).

    - Stability: Saliency (``edit_rho["gradient"]`` of MiniLM: a typo, the edited word left out),
      LIME (``seeds.lime``), SHAP (noise: ``minilm.edit_rho["shap"]``, exact values; seeds:
      ``seeds.kernel_shap``).
    - Cost: Saliency (the counted cost of MiniLM's gradient), LIME and SHAP (``matched``: rows at
      matched accuracy, :func:`matched_cost`).
    - Use cases: text (defined for text only): Saliency and LIME, faithfulness on both models
      (deletion below random) and plausibility on MiniLM (agreement with VADER; Jacovi and Goldberg 2020).

    Parameters
    ----------
    word, minilm : TextComparison
        :func:`compare_on_texts` of the word model and of MiniLM (``minilm`` with ``edit_methods``
        holding ``"shap"`` and exact SHAP on every snippet).
    seeds : SeedAgreements
    matched : sequence of MatchedCost
    gradients : TextComparison, optional
        MiniLM's gradient methods on more snippets than ``minilm`` (a gradient costs one row, so it is
        measured on more snippets, as notebook 06 measures gradients on more digits than the sampling
        methods), with ``edit_methods`` holding ``"gradient"``; the Saliency claims are measured on it.
        None: on ``minilm``.

    Returns
    -------
    list of Claim
        Eight claims, in the order Stability, Cost, Use cases: text (Saliency, LIME, SHAP in each).

    Raises
    ------
    TypeError, ValueError
        For arguments of the wrong kind, or comparisons without the methods and edits the claims need.
    """
    gradients = minilm if gradients is None else gradients
    for name, comparison in (("word", word), ("minilm", minilm), ("gradients", gradients)):
        if not isinstance(comparison, TextComparison):
            raise TypeError(f"{name} must be a TextComparison (from compare_on_texts); got {type(comparison).__name__}")
    missing = [m for m in ("gradient", "lime") if m not in word.methods or m not in minilm.methods]
    missing += [] if "gradient" in gradients.methods else ["gradient (gradients)"]
    if missing:
        raise ValueError(f"the comparisons must hold the methods gradient and lime; missing {missing}")
    if "shap" not in minilm.edit_rho or not minilm.shap_exact.all():
        raise ValueError("minilm must hold exact SHAP on every snippet (short snippets, no shap_budget) and be "
                         "compared with edit_methods holding 'shap' (the typo)")
    if "gradient" not in gradients.edit_rho:
        raise ValueError("gradients must be compared with edit_methods holding 'gradient' (the typo)")
    if not isinstance(seeds, SeedAgreements):
        raise TypeError(f"seeds must be a SeedAgreements (from seed_agreements); got {type(seeds).__name__}")
    matched = list(matched)
    if not matched or not all(isinstance(m, MatchedCost) for m in matched):
        raise TypeError("matched must be a non-empty sequence of MatchedCost (from matched_cost)")

    def on(comparison, model):
        return f"{model}, {comparison.n_texts} snippets of {_words(comparison.n_words)}"

    on_minilm, on_gradients, on_word = on(minilm, "MiniLM"), on(gradients, "MiniLM"), on(word, "the word model")
    typo_words = "a copy with a one-letter typo in its longest word (helpers.text.typo), compared on the other words"
    seed_list = ", ".join(map(str, seeds.seeds))
    on_seeds = f"the word model, {len(seeds.n_words)} snippets of {_words(seeds.n_words)}"
    first = matched[0]
    on_matched = (f"the word model, {len(matched)} snippets of {_words([m.n_words for m in matched])}: rows at matched "
                  f"accuracy, each method within {first.target_error:.0%} (squared relative error, median of 2 seeds) "
                  f"of its own converged answer: LIME's at {first.converged_samples} samples, exact SHAP for KernelSHAP")
    lime_rows, kernel_rows, exact_rows, gradient_rows = (
        np.array([getattr(m, key) for m in matched], dtype=float)
        for key in ("lime_rows", "kernel_shap_rows", "exact_rows", "gradient_rows"))

    def faithful(comparison):
        where = on(comparison, "MiniLM")
        return (f"faithfulness (agreement with the model): deletion curves of the masked words, the logit rescaled to "
                f"v(empty) = 0 and v(N) = 1, their area below the mean of random orders' ({comparison.options['random_orders']} "
                f"on {where}, {word.options['random_orders']} on {on_word}; snippets whose score moves less than "
                f"{word.options['min_change']:g} left out); plausibility (agreement with people, not with the model: "
                f"Jacovi and Goldberg 2020): Spearman with VADER's valences toward the explained class, {where}")

    def defined(what, values):
        values = finite(values)
        if not values.size:
            raise ValueError(f"{what} is undefined on every snippet (NaN: e.g. every word the same gradient norm, as on "
                             f"an averaging model, or no score that moves by min_change); measure it on other snippets")
        return values

    def use_case(comparison, name):
        return dict(deletion_minilm=defined(f"{name}'s deletion area (MiniLM)", comparison.below_random[name]),
                    deletion_words=defined(f"{name}'s deletion area (word model)", word.below_random[name]),
                    plausibility=defined(f"{name}'s agreement with VADER", comparison.agreement[name]))

    def with_edited_word(comparison, name):
        return f"with the edited word compared too: {_nanmedian(comparison.edit_rho_all[name]):.2f}"

    return [
        measure_claim("Stability", "Saliency", setting=f"{TEXT_SETTING}; {on_gradients}: Spearman of the gradient "
                      f"norms of a snippet's words and of {typo_words}", note=with_edited_word(gradients, "gradient"),
                      noise=defined("the gradient's rank correlation under the typo", gradients.edit_rho["gradient"])),
        measure_claim("Stability", "LIME", setting=f"{TEXT_SETTING}; {on_seeds}: LIME with {seeds.lime_samples} "
                      f"samples, seeds {seed_list}, mean over the pairs", seeds=seeds.lime),
        measure_claim("Stability", "SHAP", setting=f"{TEXT_SETTING}; noise: exact SHAP, {on_minilm}, {typo_words}; "
                      f"seeds: KernelSHAP with {seeds.shap_budget} coalitions, {on_seeds}, seeds {seed_list}",
                      note=with_edited_word(minilm, "shap"),
                      noise=defined("SHAP's rank correlation under the typo", minilm.edit_rho["shap"]), seeds=seeds.kernel_shap),
        measure_claim("Cost", "Saliency", setting=f"{TEXT_SETTING}; {on_gradients}: backward passes and forward rows "
                      f"of one gradient explanation, counted by CostCounter",
                      backward=gradients.backward_passes["gradient"], rows=gradients.forward_rows["gradient"]),
        measure_claim("Cost", "LIME", setting=f"{TEXT_SETTING}; {on_matched}", above_gradient=lime_rows / gradient_rows,
                      below_exact=exact_rows / lime_rows,
                      note=f"LIME: median {np.median(lime_rows):.0f} rows; exact SHAP: median {np.median(exact_rows):.0f}"),
        measure_claim("Cost", "SHAP", setting=f"{TEXT_SETTING}; {on_matched}", exact_over_lime=exact_rows / lime_rows,
                      kernel_over_lime=kernel_rows / lime_rows, note=f"KernelSHAP: median {np.median(kernel_rows):.0f} rows"),
        measure_claim("Use cases: text", "Saliency", setting=f"{TEXT_SETTING}; the gradient norm; {faithful(gradients)}",
                      **use_case(gradients, "gradient")),
        measure_claim("Use cases: text", "LIME", setting=f"{TEXT_SETTING}; LIME with {minilm.options.get('lime_samples', 500)} "
                      f"samples on MiniLM and {word.options.get('lime_samples', 500)} on the word model; {faithful(minilm)}",
                      **use_case(minilm, "lime")),
    ]
