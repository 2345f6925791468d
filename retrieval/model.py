"""The typed values that flow through retrieval: documents, clauses, hits and answers."""

from __future__ import annotations

from dataclasses import dataclass, field

# Separator between numbering labels in a citation path.
PATH_SEP = " › "


@dataclass(frozen=True)
class Clause:
    """One numbered (or un-numbered) unit of a regulation, with where it sits.

    `path` holds the numbering labels as printed, outermost first ("三.", "(一)", "4."); a heading
    inside a document that has no number of its own (e.g. "商铺进场撤场管理规定") is a path element
    too. `headings` holds the heading texts of the ancestors (and of the clause itself when it is a
    heading), used for matching and display. `text` is the clause's own full text without markup.
    """

    id: str
    doc: str
    path: tuple[str, ...]
    text: str
    headings: tuple[str, ...] = ()
    # Ids of near-identical clauses printed in other documents (the same rule, answered once).
    also_in: tuple[str, ...] = ()

    @property
    def citation(self) -> str:
        return citation(self.doc, self.path)


def citation(doc: str, path: tuple[str, ...]) -> str:
    """《doc》 followed by the numbering path, outermost first: 《更夫守则》十、"""
    return f"《{doc}》{PATH_SEP.join(path)}"


@dataclass(frozen=True)
class Document:
    title: str
    clauses: tuple[Clause, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Hit:
    clause: Clause
    # The ranking score, best first: BM25, times the re-ranking factor when re-ranking is on.
    score: float
    # Query terms (normalised tokens) found in this clause's text, headings or title.
    matched: tuple[str, ...] = ()
    # Near-identical clauses from other documents collapsed into this hit.
    also: tuple[Clause, ...] = ()


@dataclass(frozen=True)
class Answer:
    query: str
    answered: bool
    # min(k, number of clauses) hits, best first: the closest clauses even when not answered.
    hits: tuple[Hit, ...] = ()
    # Why the question was not answered (a short machine-readable word), None when answered.
    reason: str | None = None
    # The question's search terms after normalisation (stopwords dropped, synonyms mapped).
    terms: tuple[str, ...] = ()
    # Share of the question's specific words (weighted by rarity) found in the best hit, the
    # abstention measure (0 when nothing matched); see search.py.
    coverage: float = 0.0
    # The abstention measure: coverage adjusted for the match's strength and the most specific
    # question word the best clause lacks; answered when high enough (see search.py).
    confidence: float = 0.0
