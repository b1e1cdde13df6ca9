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
- **People's view.** :func:`lexicon_agreement` compares an explanation with the
  human valences of VADER's lexicon (:func:`helpers.data.word_valences`).
- **The comparison.** :func:`explain_words` runs every method on one text with
  its counted cost, :func:`compare_on_texts` on many; :func:`text_claims` turns
  the figures into the comparison table's claims with :mod:`helpers.verdicts`.

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

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
import torch.nn as nn

from .checks import check_int
from .cost import CostCounter, CountedGame
from .data import word_valences
from .features import check_coalitions, occlusion
from .lime import lime
from .methods import method
from .metrics import curve_area, deletion_curve, random_order_curves, rank_correlation
from .saliency import gradient, gradient_x_input, integrated_gradients
from .scores import evaluation_mode, model_device
from .shapley import exact_shapley, kernel_shap
from .text_models import TokenizedText
from .verdicts import Claim, Rule, claim_verdict

__all__ = [
    "check_text_model",
    "WordGame",
    "EmbeddingPath",
    "pool_tokens",
    "gradient_word_scores",
    "lexicon_agreement",
    "ABSENT",
    "GRADIENT_METHODS",
    "WORD_METHODS",
    "WordExplanations",
    "explain_words",
    "TextComparison",
    "compare_on_texts",
    "seed_agreement",
    "edit_agreement",
    "text_claims",
    "format_claims",
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


def explain_words(model, tokens: TokenizedText, *, methods=WORD_METHODS, target: int = 1, absent: str = "mask",
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
    target : int, default 1
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


def _nanmean(values) -> float:
    """The mean of the finite values; NaN (without a warning) when there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


@dataclass
class TextComparison:
    """Every method on many texts: agreement with people, faithfulness and cost.

    Attributes
    ----------
    methods : tuple of str
    n_texts : int
    agreement : dict of str -> numpy array [N]
        :func:`lexicon_agreement` of each text (signed scores against valences;
        magnitudes for a method that :data:`helpers.methods.METHODS` calls unsigned,
        the gradient norm); NaN where undefined.
    magnitude_agreement : dict of str -> numpy array [N]
        The same on absolute values, for every method.
    deletion_area, random_area : dict / numpy array [N]
        :func:`helpers.metrics.curve_area` of each method's deletion curve on the
        text's game, and the mean area of random orders; both divided by
        :math:`|v(N) - v(\\emptyset)|` after subtracting :math:`v(\\emptyset)`, so
        1 is "nothing falls until the end", 0 "everything falls at once".
    forward_rows, backward_passes, seconds : dict of str -> numpy array [N]
    n_words : numpy array [N]
    shap_exact : numpy array of bool [N]
        Whether ``"shap"`` was exact on each text (else KernelSHAP).
    """

    methods: tuple
    n_texts: int
    agreement: dict
    magnitude_agreement: dict
    deletion_area: dict
    random_area: np.ndarray
    forward_rows: dict
    backward_passes: dict
    seconds: dict
    n_words: np.ndarray
    shap_exact: np.ndarray

    def summary(self) -> dict:
        """Method -> dict of the mean agreement, mean deletion area, its mean gap to random, mean rows."""
        out = {}
        for m in self.methods:
            out[m] = {
                "agreement": _nanmean(self.agreement[m]),
                "magnitude_agreement": _nanmean(self.magnitude_agreement[m]),
                "defined": int(np.isfinite(self.agreement[m]).sum()),
                "deletion_area": float(np.mean(self.deletion_area[m])),
                "below_random": float(np.mean(self.random_area - self.deletion_area[m])),
                "forward_rows": float(np.mean(self.forward_rows[m])),
                "backward_passes": float(np.mean(self.backward_passes[m])),
            }
        return out

    def table(self, *, digits: int = 3) -> str:
        """A plain-text table of :meth:`summary` (rounded: stable under nbval)."""
        lines = [f"{'method':<22}{'VADER rho':>10}{'|rho|':>8}{'texts':>7}{'deletion':>10}{'random':>8}"
                 f"{'rows':>8}{'backward':>10}"]
        random_mean = float(np.mean(self.random_area))
        for m, s in self.summary().items():
            lines.append(
                f"{m:<22}{s['agreement']:>10.{digits}f}{s['magnitude_agreement']:>8.{digits}f}{s['defined']:>7d}"
                f"{s['deletion_area']:>10.{digits}f}{random_mean:>8.{digits}f}{s['forward_rows']:>8.1f}"
                f"{s['backward_passes']:>10.1f}"
            )
        return "\n".join(lines)


def compare_on_texts(model, texts, *, methods=WORD_METHODS, random_orders: int = 10, min_change: float = 0.1,
                     **options) -> TextComparison:
    r"""Run :func:`explain_words` on many texts and measure each method three ways.

    - **Agreement with people**: :func:`lexicon_agreement` of the word scores with
      VADER's valences (:func:`helpers.data.word_valences`).
    - **Faithfulness**: the deletion curve (:func:`helpers.metrics.deletion_curve`,
      Petsiuk et al. 2018, arXiv 1806.07421) of the method's ranking on the
      text's :class:`WordGame`, its area normalised to :math:`v(\emptyset) = 0`,
      :math:`v(N) = 1`, next to ``random_orders`` random rankings
      (:func:`helpers.metrics.random_order_curves`). Texts whose score moves less than
      ``min_change`` between all words and none are left out of the areas (NaN).
    - **Cost**: forward rows and backward passes counted on the model.

    Parameters
    ----------
    model : text classifier
    texts : sequence of str
    methods : sequence of str
    random_orders : int, default 10
    min_change : float, default 0.1
    **options
        Passed to :func:`explain_words` (``ig_steps``, ``lime_samples``, ``shap_budget``, ``seed``, ...).

    Returns
    -------
    TextComparison
    """
    if isinstance(texts, str) or not texts:
        raise TypeError("texts must be a non-empty sequence of str")
    methods = tuple(methods)
    measured = [_measure_text(model, text, methods, orders_seed=i, random_orders=random_orders, min_change=min_change,
                              options=options) for i, text in enumerate(texts)]
    keys = ("agreement", "magnitude_agreement", "deletion_area", "forward_rows", "backward_passes", "seconds")
    arrays = {k: {m: np.asarray([per_method[m][k] for per_method, *_ in measured], dtype=np.float64) for m in methods}
              for k in keys}
    random_area = np.asarray([area for _, area, _, _ in measured])
    keep = ~np.isnan(random_area)
    for m in methods:  # areas only where defined
        arrays["deletion_area"][m] = arrays["deletion_area"][m][keep]
    return TextComparison(methods, len(texts), arrays["agreement"], arrays["magnitude_agreement"],
                          arrays["deletion_area"], random_area[keep], arrays["forward_rows"],
                          arrays["backward_passes"], arrays["seconds"], np.asarray([n for *_, n, _ in measured]),
                          np.asarray([exact for *_, exact in measured]))


def _measure_text(model, text: str, methods: tuple, *, orders_seed: int, random_orders: int, min_change: float,
                  options: dict) -> tuple:
    """One text of :func:`compare_on_texts`: (method -> its measures, the random orders' mean area, M, shap_exact)."""
    tokens = model.tokenize(text)
    result = explain_words(model, tokens, methods=methods, **options)
    game = result.game
    valences = word_valences(tokens.words)
    change = game.full_score - game.empty_score
    usable = abs(change) >= min_change

    def area(curve):  # normalised to v(empty) = 0, v(N) = 1
        return float(curve_area((curve.double() - game.empty_score) / change)) if usable else float("nan")

    random_curves = random_order_curves(game, n_orders=random_orders, seed=orders_seed) if usable else None
    random_area = float(np.mean([area(c) for c in random_curves])) if usable else float("nan")
    measures = {}
    for m in methods:
        s = result.scores[m]
        measures[m] = {
            "agreement": lexicon_agreement(s, valences, magnitude=not _signed(m, shap_exact=result.shap_exact)),
            "magnitude_agreement": lexicon_agreement(s, valences, magnitude=True),
            "deletion_area": area(deletion_curve(game, s)) if usable else float("nan"),
            "forward_rows": result.forward_rows[m],
            "backward_passes": result.backward_passes[m],
            "seconds": result.seconds[m],
        }
    return measures, random_area, tokens.n_words, result.shap_exact


def seed_agreement(model, tokens: TokenizedText, method: str, seeds=(0, 1, 2, 3, 4), **options) -> float:
    """Mean rank correlation between explanations of one text that differ only in the seed.

    For ``"lime"`` and ``"shap"`` (KernelSHAP when ``shap_budget`` is given);
    ``options`` go to :func:`explain_words`.
    """
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least two seeds; got {seeds!r}")
    runs = torch.stack([explain_words(model, tokens, methods=(method,), seed=s, **options).scores[method] for s in seeds])
    pairs = [(i, j) for i in range(len(seeds)) for j in range(i + 1, len(seeds))]
    rho = rank_correlation(runs[[i for i, _ in pairs]], runs[[j for _, j in pairs]])
    return float(np.nanmean(rho.numpy()))


def edit_agreement(model, text: str, edited: str, *, methods=WORD_METHODS, **options) -> dict:
    """Rank correlation, per method, between the explanations of a text and of an edited copy.

    The edit must keep the number of words (a synonym or a typo for one word),
    so that word ``i`` of one text faces word ``i`` of the other.

    Returns
    -------
    dict of str -> float
    """
    a, b = model.tokenize(text), model.tokenize(edited)
    if a.n_words != b.n_words:
        raise ValueError(f"the edit must keep the number of words; got {a.n_words} and {b.n_words}")
    first = explain_words(model, a, methods=methods, **options)
    second = explain_words(model, b, methods=methods, **options)
    return {m: float(rank_correlation(first.scores[m][None], second.scores[m][None])[0]) for m in methods}


# --------------------------------------------------------------------------- the comparison table's claims


def text_claims(comparisons: dict, *, lime_seed_rho: float, kernel_shap_seed_rho: float, edit_rho: dict,
                ig_relative_gap: float, exact_rows: float) -> list:
    """The comparison table's claims, each with the figures measured on text and the rules that decide it.

    Built on :mod:`helpers.verdicts`, as notebook 06's table: every claim is a
    :class:`~helpers.verdicts.Claim` whose rules hold the measured figures and their
    numeric thresholds, and :func:`~helpers.verdicts.claim_verdict` gives its verdict
    ("holds" if every rule holds, "does not hold" if none does, "partly" otherwise).
    :func:`format_claims` prints them; :func:`~helpers.verdicts.markdown_table` and
    :func:`~helpers.verdicts.threshold_sensitivity` take them as they are.

    Parameters
    ----------
    comparisons : dict of str -> TextComparison
        Model name -> :func:`compare_on_texts` result (same methods for each).
    lime_seed_rho, kernel_shap_seed_rho : float
        :func:`seed_agreement` of LIME and of KernelSHAP on one text.
    edit_rho : dict of str -> float
        :func:`edit_agreement` per method for one small edit (a typo).
    ig_relative_gap : float
        Integrated Gradients' completeness gap over :math:`|S(x) - S(x')|`.
    exact_rows : float
        Forward rows of one exact Shapley explanation (:math:`2^M`).

    Returns
    -------
    list of Claim
        Seven claims (``row``: the table's row; ``column``: Saliency, LIME or SHAP);
        each ``note`` is the measured figures in one sentence, the thresholds it names
        taken from the rules.
    """
    summaries = {name: c.summary() for name, c in comparisons.items()}
    return (_saliency_claims(summaries, edit_rho, ig_relative_gap) + _lime_claims(summaries, lime_seed_rho)
            + _shap_claims(summaries, comparisons, kernel_shap_seed_rho, exact_rows))


def _saliency_claims(summaries: dict, edit_rho: dict, ig_relative_gap: float) -> list:
    """Saliency is cheap (one backward pass, few rows), extends to text, and is unstable under a typo."""
    grad_rows = max(s["gradient"]["forward_rows"] for s in summaries.values())
    grad_backward = max(s["gradient"]["backward_passes"] for s in summaries.values())
    lime_rows = min(s["lime"]["forward_rows"] for s in summaries.values())
    cost = Claim("Cost", "Saliency", "low cost, one backpropagation", [
        Rule("backward passes of the gradient per text", grad_backward, 1, 1, higher=False, fmt=".0f"),
        Rule("forward rows of the gradient / LIME's", grad_rows / lime_rows, 0.1, 1, higher=False)],
        note=f"{grad_rows:.0f} forward row + {grad_backward:.0f} backward pass per text, against {lime_rows:.0f} rows for LIME")
    defined = {n: s["gradient"]["agreement"] for n, s in summaries.items() if s["gradient"]["defined"] > 0}
    undefined = [n for n in summaries if n not in defined]
    agreeing = sum(rho > 0 for rho in defined.values()) / len(summaries)
    extension = Claim("Use cases", "Saliency", "can be extended to text (gradients on embeddings)", [
        Rule("IG completeness gap / |S(x) - S(x')|", ig_relative_gap, 0.05, 0.25, higher=False, fmt=".1%"),
        Rule("share of models whose gradient-norm rho with VADER is defined and positive", agreeing, 1, 0.5)],
        note=f"IG completeness gap {100 * ig_relative_gap:.1f}% of S(x) - S(x'); gradient-norm |rho| with VADER: "
             + ", ".join([f"{n} {v:.2f}" for n, v in defined.items()]
                         + [f"{n} undefined (every word the same norm)" for n in undefined]))
    stability = Claim("Stability", "Saliency", "unstable", [
        Rule("SHAP's rank correlation after a typo minus the gradient's", edit_rho["shap"] - edit_rho["gradient"], 0, 0)],
        note=f"rank correlation after a one-letter typo in one snippet: gradient {edit_rho['gradient']:.2f}, "
             f"SHAP {edit_rho['shap']:.2f}")
    return [cost, extension, stability]


def _lime_claims(summaries: dict, lime_seed_rho: float) -> list:
    """LIME changes with its seed, and works on text: close to the best method's agreement, better than random."""
    seeds = Rule("rank correlation between seeds", lime_seed_rho, 0.9, 0.9, higher=False)
    stability = Claim("Stability", "LIME", "unstable (different samples, different explanations)", [seeds],
                      note=f"rank correlation between seeds {seeds.value:.2f} (threshold {seeds.holds:g})")
    best = {n: max(s[m]["agreement"] for m in s if np.isfinite(s[m]["agreement"])) for n, s in summaries.items()}
    behind_best = float(np.max([best[n] - s["lime"]["agreement"] for n, s in summaries.items()]))
    below_random = float(np.min([s["lime"]["below_random"] for s in summaries.values()]))
    general = Claim("Use cases", "LIME", "general, NLP included", [
        Rule("largest gap of LIME's VADER rho to the best method's", behind_best, 0.05, 0.2, higher=False),
        Rule("smallest deletion area below random", below_random, 0, 0)],
        note="VADER rho " + ", ".join(f"{n} {s['lime']['agreement']:.2f} (best {best[n]:.2f})" for n, s in summaries.items())
             + "; deletion area below random: " + ", ".join(f"{n} {s['lime']['below_random']:.2f}" for n, s in summaries.items()))
    return [stability, general]


def _shap_claims(summaries: dict, comparisons: dict, kernel_shap_seed_rho: float, exact_rows: float) -> list:
    """SHAP is stable across seeds, and costly: exact values take 2^M rows, KernelSHAP may cost less than LIME."""
    seeds = Rule("KernelSHAP rank correlation between seeds", kernel_shap_seed_rho, 0.9, 0.6)
    stability = Claim("Stability", "SHAP", "stable (unique values)", [seeds],
                      note=f"exact: identical on every run; KernelSHAP rank correlation between seeds {seeds.value:.2f} "
                           f"(threshold {seeds.holds:g})")
    sampled = {n: s["shap"]["forward_rows"] for n, s in summaries.items()
               if "shap" in comparisons[n].methods and not comparisons[n].shap_exact.any()}
    lime_rows = {n: s["lime"]["forward_rows"] for n, s in summaries.items()}
    cheaper = sum(rows < lime_rows[n] for n, rows in sampled.items()) / len(summaries)
    cost = Claim("Cost", "SHAP", "high cost (exact is exponential)", [
        Rule("share of models on which KernelSHAP costs fewer rows than LIME", cheaper, 0, 0.5, higher=False)],
        note=f"exact: {exact_rows:.0f} rows (2^M) for one text; KernelSHAP: "
             + (", ".join(f"{n} {r:.0f} rows against LIME's {lime_rows[n]:.0f}" for n, r in sampled.items()) or "not run"))
    return [stability, cost]


def format_claims(claims) -> str:
    """The claims of :func:`text_claims` as plain text, one per paragraph: claim, figures, verdict.

    Examples
    --------
    >>> print(format_claims([Claim("Stability", "LIME", "unstable", [Rule("seed rho", 0.5, 0.9, 0.9, higher=False)],
    ...                            note="seed rho 0.50")]))
    LIME: unstable
        measured: seed rho 0.50
        verdict:  holds
    """
    return "\n".join(f"{c.column}: {c.claim}\n    measured: {c.note}\n    verdict:  {claim_verdict(c)}" for c in claims)
