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
  for a bool ``Z [n, M]`` gives ``[n]`` scores; ``n_players``; counters), so
  :func:`helpers.features.occlusion`, :func:`helpers.lime.lime`,
  :func:`helpers.shapley.exact_shapley` and
  :func:`~helpers.shapley.kernel_shap` explain it as they explain a digit.
- **Showing words.** :func:`words_html` colours each word by its score (red
  toward the explained class, blue against it, with a legend), every text
  escaped; :func:`show_words` wraps it for a notebook.
- **People's view.** :func:`vader_lexicon` reads the human valence of 7,500
  words from the installed ``vaderSentiment`` package (Hutto and Gilbert,
  ICWSM 2014); :func:`word_valences` and :func:`lexicon_agreement` compare an
  explanation with it.

A *text classifier* here is a ``torch.nn.Module`` with ``forward(ids,
attention_mask=None, *, embeddings=None) -> scores [B, classes]``, an
``embedding_layer`` (``torch.nn.Embedding``), ``mask_id`` and ``pad_id``, and
``tokenize(text) -> TokenizedText`` (see :mod:`helpers.text_models`).

Taught in ``notebooks/08_text.ipynb``.
"""

from __future__ import annotations

import functools
import html
import importlib.util
import re
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .cost import CostCounter
from .features import CountedGame, check_coalitions, occlusion
from .lime import lime
from .metrics import curve_area, deletion_curve, random_order_curves, rank_correlation
from .saliency import gradient, gradient_x_input, integrated_gradients
from .scores import evaluation_mode, model_device
from .shapley import exact_shapley, kernel_shap

__all__ = [
    "split_words",
    "TokenizedText",
    "check_text_model",
    "WordGame",
    "EmbeddingPath",
    "pool_tokens",
    "gradient_word_scores",
    "words_html",
    "show_words",
    "vader_lexicon",
    "word_valences",
    "lexicon_agreement",
    "ABSENT",
    "GRADIENT_METHODS",
    "WORD_METHODS",
    "UNSIGNED_METHODS",
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
#: The gradient methods of :func:`gradient_word_scores`.
GRADIENT_METHODS = ("gradient", "gradient_x_input", "integrated_gradients")

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def split_words(text: str) -> list[str]:
    """The words of ``text``: lower-cased runs of letters and digits (inner apostrophes kept).

    Punctuation and spacing are dropped, so both models of the course see the
    same sequence of words and every word is a player of the game.

    Raises
    ------
    TypeError
        If ``text`` is not a string.

    Examples
    --------
    >>> split_words("Effective but too-tepid biopic; it doesn't soar.")
    ['effective', 'but', 'too', 'tepid', 'biopic', 'it', "doesn't", 'soar']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    return [w.replace("\u2019", "'") for w in _WORD.findall(text.lower())]


@dataclass(frozen=True)
class TokenizedText:
    """One text as a model sees it: words, token ids and which word every token belongs to.

    Attributes
    ----------
    words : tuple of str
        The players, in order (:func:`split_words`).
    ids : torch.Tensor, int64, [T]
        Token ids, special tokens (``[CLS]``, ``[SEP]``) included.
    word_of_token : torch.Tensor, int64, [T]
        The word each token belongs to, ``-1`` for a special token. A word may
        own several sub-word tokens (``tepid`` -> ``te``, ``##pid``).
    """

    words: tuple
    ids: torch.Tensor
    word_of_token: torch.Tensor

    def __post_init__(self):
        ids, owner = self.ids, self.word_of_token
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.ndim != 1:
            raise TypeError(f"ids must be an int64 tensor [T]; got {getattr(ids, 'dtype', type(ids).__name__)}")
        if not isinstance(owner, torch.Tensor) or owner.shape != ids.shape or owner.dtype != torch.int64:
            raise ValueError(f"word_of_token must be an int64 tensor shaped like ids {tuple(ids.shape)}")
        present = set(owner[owner >= 0].tolist())
        if present != set(range(len(self.words))) or (owner.numel() and int(owner.max()) >= len(self.words)):
            raise ValueError(
                f"every word must own at least one token and tokens must point at words 0..{len(self.words) - 1}; "
                f"the text has {len(self.words)} words and tokens owned by {sorted(present)}"
            )

    @property
    def n_words(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        return f"TokenizedText({len(self.words)} words, {self.ids.shape[0]} tokens: {' '.join(self.words)!r})"


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


def _check_tokens(tokens) -> TokenizedText:
    if not isinstance(tokens, TokenizedText):
        raise TypeError(f"tokens must be a TokenizedText (from model.tokenize(text)); got {type(tokens).__name__}")
    if tokens.n_words == 0:
        raise ValueError("the text has no words to explain")
    return tokens


def _check_target(target) -> int:
    if isinstance(target, bool) or not isinstance(target, Integral) or target < 0:
        raise TypeError(f"target must be a class index, a non-negative int; got {target!r}")
    return int(target)


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
        Coalitions evaluated and forward passes made by ``game(Z)`` (the two
        rows evaluated at construction are not counted).

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
        tokens = _check_tokens(tokens)
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
        scores = self._evaluate(ends, all_classes=True)
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

    def _evaluate(self, Z: torch.Tensor, all_classes: bool = False) -> torch.Tensor:
        rows = []
        with torch.no_grad(), evaluation_mode(self.model):
            for start in range(0, Z.shape[0], self.batch_size):
                ids, mask = self.token_batch(Z[start:start + self.batch_size])
                out = self.model(ids, mask)
                if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != ids.shape[0]:
                    raise ValueError(f"the model must return scores [B, classes] for ids [B, T]; got {getattr(out, 'shape', out)}")
                rows.append(out if all_classes else out[:, self.target])
                self._count(0)
        return torch.cat(rows) if rows else torch.empty(0)

    def __call__(self, Z) -> torch.Tensor:
        """The target score of every coalition: float tensor ``[n]`` on the CPU.

        Raises
        ------
        TypeError, ValueError
            For a ``Z`` that is not bool/0-1 or not ``[n, M]``.
        """
        Z = check_coalitions(Z, self.n_players, self.device)
        values = self._evaluate(Z).detach().cpu()
        self._count(Z.shape[0], 0)
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
        tokens = _check_tokens(tokens)
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


# --------------------------------------------------------------------------- words in colour


def _colour(value: float, scale: float) -> str:
    """Red for a positive value, blue for a negative one, white at 0 (shap's convention)."""
    share = 0.0 if scale <= 0 else min(1.0, abs(value) / scale)
    red, blue = (255, 13, 87), (30, 136, 229)  # shap's red and blue
    r, g, b = red if value > 0 else blue
    mix = [round(255 + share * (c - 255)) for c in (r, g, b)]
    return "#{:02x}{:02x}{:02x}".format(*mix)


def words_html(words, scores: dict, *, title: str | None = None, scale: str = "row", digits: int = 3) -> str:
    r"""An HTML table: one row per method, every word on a background coloured by its score.

    Red means the word pushes the explained class up, blue that it pushes it
    down, white that it does not matter; the colour saturates at the largest
    absolute score of the row (``scale="row"``) or of the whole table
    (``scale="table"``). Every text (words, method names, title) is escaped
    with :func:`html.escape`, so a snippet containing ``<script>`` is shown as
    text and never run. Each word's exact score is in its tooltip. The styles
    are inline, so JupyterLab and GitHub's notebook view both draw them.

    Parameters
    ----------
    words : sequence of str, length M
    scores : dict of str -> tensor or array [M]
        Method name -> one score per word.
    title : str, optional
    scale : {"row", "table"}, default "row"
    digits : int, default 3
        Digits of the scores in the tooltips and the legend.

    Returns
    -------
    str

    Raises
    ------
    TypeError, ValueError
        For scores that are not a dict, of the wrong length or not finite, or an unknown ``scale``.

    Examples
    --------
    >>> "&lt;script&gt;" in words_html(["<script>"], {"m": [1.0]})
    True
    """
    words = [str(w) for w in words]
    if not isinstance(scores, dict) or not scores:
        raise TypeError(f"scores must be a non-empty dict of method name -> scores [M]; got {type(scores).__name__}")
    if scale not in ("row", "table"):
        raise ValueError(f'scale must be "row" or "table"; got {scale!r}')
    rows = {}
    for name, values in scores.items():
        v = np.asarray(torch.as_tensor(values).detach().cpu().double()).reshape(-1)
        if v.shape != (len(words),) or not np.isfinite(v).all():
            raise ValueError(f"scores[{name!r}] must hold {len(words)} finite values (one per word); got shape {v.shape}")
        rows[str(name)] = v
    table_scale = max(float(np.abs(v).max()) for v in rows.values())
    cell = "padding:2px 6px;text-align:left;vertical-align:top;border:none"
    parts = ['<div style="font-family:sans-serif;font-size:13px;line-height:1.9">']
    if title:
        parts.append(f"<div><b>{html.escape(title)}</b></div>")
    parts.append('<table style="border-collapse:collapse">')
    for name, v in rows.items():
        s = table_scale if scale == "table" else float(np.abs(v).max())
        spans = " ".join(
            f'<span title="{html.escape(w, quote=True)}: {x:+.{digits}f}" style="background-color:{_colour(x, s)};'
            f'color:#000;padding:1px 2px;border-radius:3px">{html.escape(w)}</span>'
            for w, x in zip(words, v)
        )
        parts.append(
            f'<tr><td style="{cell};white-space:nowrap"><b>{html.escape(name)}</b><br>'
            f'<span style="font-size:11px;color:#555">max |score| {s:.{digits}g}</span></td>'
            f'<td style="{cell}">{spans}</td></tr>'
        )
    parts.append("</table>")
    legend = " ".join(
        f'<span style="background-color:{_colour(x, 1.0)};color:#000;padding:1px 6px">{label}</span>'
        for x, label in ((-1.0, "against the class"), (-0.5, ""), (0.0, "no effect"), (0.5, ""), (1.0, "toward the class"))
    )
    parts.append(f'<div style="font-size:11px;color:#333">legend: {legend} (scaled per {scale})</div></div>')
    return "".join(parts)


def show_words(words, scores: dict, **options):
    """:func:`words_html` as an ``IPython.display.HTML`` object, for a notebook cell to display."""
    from IPython.display import HTML

    return HTML(words_html(words, scores, **options))


# --------------------------------------------------------------------------- VADER's human lexicon


def _vader_lexicon_file() -> Path:
    spec = importlib.util.find_spec("vaderSentiment")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "VADER's lexicon comes with the 'vaderSentiment' package, which is not installed; "
            "run `make venv` (or `pip install -e .`)"
        )
    path = Path(spec.origin).parent / "vader_lexicon.txt"
    if not path.is_file():
        raise FileNotFoundError(f"VADER's lexicon was expected at {path}; reinstall vaderSentiment==3.3.2")
    return path


@functools.lru_cache(maxsize=1)
def _lexicon() -> dict:
    lexicon = {}
    for line in _vader_lexicon_file().read_text(encoding="utf-8").split("\n"):
        parts = line.strip("\r").split("\t")
        if len(parts) >= 2 and parts[0]:
            lexicon[parts[0]] = float(parts[1])
    return lexicon


def vader_lexicon() -> dict:
    """VADER's sentiment lexicon: token -> mean human valence in [-4, 4].

    Hutto and Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment
    Analysis of Social Media Text", ICWSM 2014: about 7,500 words, emoticons and
    slang, each rated by ten people. Read from ``vader_lexicon.txt`` inside the
    installed ``vaderSentiment`` wheel (a new dict on every call).

    Examples
    --------
    >>> vader_lexicon()["gorgeous"] > 2
    True
    """
    return dict(_lexicon())


def word_valences(words, lexicon: dict | None = None) -> torch.Tensor:
    """Each word's valence in the lexicon (0 where it has none): float64 ``[M]``.

    Examples
    --------
    >>> word_valences(["a", "gorgeous", "bad", "film"]).tolist()
    [0.0, 3.0, -2.5, 0.0]
    """
    lexicon = _lexicon() if lexicon is None else lexicon
    return torch.tensor([float(lexicon.get(str(w).lower(), 0.0)) for w in words], dtype=torch.float64)


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

#: The methods of :func:`explain_words`, in the order the notebook shows them.
WORD_METHODS = ("gradient", "gradient_x_input", "integrated_gradients", "occlusion", "lime", "shap")
#: Methods whose score has no sign (compared with the valences' magnitudes).
UNSIGNED_METHODS = ("gradient",)


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
        :math:`\max(2M + 2, 64)`.
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
    for method in methods:
        with CostCounter(model) as cost:
            if method in GRADIENT_METHODS:
                if method == "integrated_gradients":
                    values, info = gradient_word_scores(model, tokens, method, target=target, steps=ig_steps,
                                                        return_info=True)
                    gap = float(info.gap[0])
                else:
                    values = gradient_word_scores(model, tokens, method, target=target)
            elif method == "occlusion":
                values = occlusion(game)
            elif method == "lime":
                values = lime(game, n_samples=lime_samples, kernel_width=kernel_width, seed=seed)
            else:
                values = exact_shapley(game) if exact else kernel_shap(game, budget=budget, seed=seed)
        scores[method] = torch.as_tensor(values).detach().cpu().double()
        rows[method], backward[method], seconds[method] = cost.forward_rows, cost.backward_passes, cost.seconds
    return WordExplanations(tokens.words, scores, rows, backward, seconds, exact, gap, game)


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
        magnitudes for :data:`UNSIGNED_METHODS`); NaN where undefined.
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
      VADER's valences (:func:`word_valences`).
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
    keys = ("agreement", "magnitude_agreement", "deletion_area", "forward_rows", "backward_passes", "seconds")
    collected = {k: {m: [] for m in methods} for k in keys}
    random_area, n_words, exact = [], [], []
    for i, text in enumerate(texts):
        tokens = model.tokenize(text)
        result = explain_words(model, tokens, methods=methods, **options)
        game = result.game
        valences = word_valences(tokens.words)
        change = game.full_score - game.empty_score
        usable = abs(change) >= min_change

        def area(curve):
            return float(curve_area((curve.double() - game.empty_score) / change)) if usable else float("nan")

        random_curves = random_order_curves(game, n_orders=random_orders, seed=i) if usable else None
        random_area.append(float(np.mean([area(c) for c in random_curves])) if usable else float("nan"))
        n_words.append(tokens.n_words)
        exact.append(result.shap_exact)
        for m in methods:
            s = result.scores[m]
            collected["agreement"][m].append(lexicon_agreement(s, valences, magnitude=m in UNSIGNED_METHODS))
            collected["magnitude_agreement"][m].append(lexicon_agreement(s, valences, magnitude=True))
            collected["deletion_area"][m].append(area(deletion_curve(game, s)) if usable else float("nan"))
            collected["forward_rows"][m].append(result.forward_rows[m])
            collected["backward_passes"][m].append(result.backward_passes[m])
            collected["seconds"][m].append(result.seconds[m])
    arrays = {k: {m: np.asarray(v, dtype=np.float64) for m, v in d.items()} for k, d in collected.items()}
    keep = ~np.isnan(np.asarray(random_area))
    for m in methods:  # areas only where defined
        arrays["deletion_area"][m] = arrays["deletion_area"][m][keep]
    return TextComparison(methods, len(texts), arrays["agreement"], arrays["magnitude_agreement"],
                          arrays["deletion_area"], np.asarray(random_area)[keep], arrays["forward_rows"],
                          arrays["backward_passes"], arrays["seconds"], np.asarray(n_words), np.asarray(exact))


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


def text_claims(comparisons: dict, *, lime_seed_rho: float, kernel_shap_seed_rho: float, edit_rho: dict,
                ig_relative_gap: float, exact_rows: float) -> list:
    """The comparison table's claims, each next to its figure measured on text, with a verdict.

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
    list of (claim, figure, verdict) str triples; the verdict is "holds", "partly" or
    "does not hold", from the thresholds written in each figure.
    """
    rows = []
    summaries = {name: c.summary() for name, c in comparisons.items()}
    any_summary = next(iter(summaries.values()))

    def fig(name, method, key, digits=2):
        return f"{summaries[name][method][key]:.{digits}f}"

    # cost
    grad_rows = max(s["gradient"]["forward_rows"] for s in summaries.values())
    lime_rows = min(s["lime"]["forward_rows"] for s in summaries.values())
    rows.append(("Saliency: low cost, one backpropagation",
                 f"{grad_rows:.0f} forward row + 1 backward pass per text, against {lime_rows:.0f} rows for LIME",
                 "holds" if grad_rows < lime_rows else "does not hold"))
    # extension to text
    undefined = [n for n, s in summaries.items() if s["gradient"]["defined"] == 0]
    defined = {n: s["gradient"]["agreement"] for n, s in summaries.items() if s["gradient"]["defined"] > 0}
    figure = f"IG completeness gap {100 * ig_relative_gap:.1f}% of S(x) - S(x'); gradient-norm |rho| with VADER: " + ", ".join(
        [f"{n} {v:.2f}" for n, v in defined.items()] + [f"{n} undefined (every word the same norm)" for n in undefined])
    verdict = "holds" if ig_relative_gap < 0.05 and not undefined and all(v > 0 for v in defined.values()) else "partly"
    rows.append(("Saliency: can be extended to text (gradients on embeddings)", figure, verdict))
    # saliency stability
    rows.append(("Saliency: unstable", f"rank correlation after a one-letter typo in one snippet: gradient "
                 f"{edit_rho['gradient']:.2f}, SHAP {edit_rho['shap']:.2f}",
                 "holds" if edit_rho["gradient"] < edit_rho["shap"] else "does not hold"))
    # LIME
    rows.append(("LIME: unstable (different samples, different explanations)",
                 f"rank correlation between seeds {lime_seed_rho:.2f} (threshold 0.9)",
                 "holds" if lime_seed_rho < 0.9 else "does not hold"))
    best = {n: max(s[m]["agreement"] for m in s if np.isfinite(s[m]["agreement"])) for n, s in summaries.items()}
    lime_ok = all(summaries[n]["lime"]["agreement"] >= best[n] - 0.05 for n in summaries)
    below = all(summaries[n]["lime"]["below_random"] > 0 for n in summaries)
    rows.append(("LIME: general, NLP included",
                 "VADER rho " + ", ".join(f"{n} {fig(n, 'lime', 'agreement')} (best {best[n]:.2f})" for n in summaries)
                 + "; deletion area below random: " + ", ".join(f"{n} {fig(n, 'lime', 'below_random')}" for n in summaries),
                 "holds" if lime_ok and below else "partly"))
    # SHAP
    rows.append(("SHAP: stable (unique values)",
                 f"exact: identical on every run; KernelSHAP rank correlation between seeds {kernel_shap_seed_rho:.2f} (threshold 0.9)",
                 "holds" if kernel_shap_seed_rho >= 0.9 else "partly"))
    sampled = {n: s["shap"]["forward_rows"] for n, s in summaries.items()
               if "shap" in comparisons[n].methods and not comparisons[n].shap_exact.any()}
    lime_by_model = {n: s["lime"]["forward_rows"] for n, s in summaries.items()}
    kernel_cheaper = any(rows_ < lime_by_model[n] for n, rows_ in sampled.items())
    rows.append(("SHAP: high cost (exact is exponential)",
                 f"exact: {exact_rows:.0f} rows (2^M) for one text; KernelSHAP: "
                 + (", ".join(f"{n} {r:.0f} rows against LIME's {lime_by_model[n]:.0f}" for n, r in sampled.items())
                    or "not run"),
                 "partly" if kernel_cheaper else "holds"))
    del any_summary
    return rows


def format_claims(rows) -> str:
    """The rows of :func:`text_claims` as plain text, one claim per paragraph."""
    return "\n".join(f"{claim}\n    measured: {figure}\n    verdict:  {verdict}" for claim, figure, verdict in rows)
