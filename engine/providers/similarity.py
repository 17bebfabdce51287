"""TF-IDF cosine similarity over a small set of documents: the built-in provider's classifier and ranker."""

import math
from collections import Counter
from typing import Any

from engine.providers.base import Label
from engine.providers.vectors import features


class Index:
    """Documents weighted by TF-IDF (smoothed idf, sublinear tf), compared by cosine."""

    def __init__(self, documents: list[str]) -> None:
        self.counts = [features(document) for document in documents]
        seen: Counter[str] = Counter()
        for counts in self.counts:
            seen.update(counts.keys())
        total = len(documents)
        self.idf = {term: math.log((1 + total) / (1 + number)) + 1 for term, number in seen.items()}
        self.vectors = [self._weigh(counts) for counts in self.counts]

    def _weigh(self, counts: Counter[str]) -> dict[str, float]:
        weights = {term: (1 + math.log(number)) * self.idf.get(term, 0.0) for term, number in counts.items()}
        length = math.sqrt(sum(value * value for value in weights.values()))
        return {term: value / length for term, value in weights.items()} if length else {}

    def scores(self, query: str) -> list[float]:
        """Cosine of the query with each document, in document order."""
        vector = self._weigh(features(query))
        return [sum(weight * document.get(term, 0.0) for term, weight in vector.items()) for document in self.vectors]


def classify(text: str, labels: list[Label]) -> dict[str, Any]:
    """{"label", "confidence", "scores"}: a label's score is its best match among its description and examples.

    Confidence is the top score's share of all scores, so it is high only when one label
    clearly wins; with no word in common with any label every score is 0 and the first
    label is returned with confidence 0.
    """
    documents: list[str] = []
    owners: list[int] = []
    for position, label in enumerate(labels):
        for document in (f"{label.name} {label.description}", *label.examples):
            documents.append(document)
            owners.append(position)
    similarities = Index(documents).scores(text)
    best = [0.0] * len(labels)
    for owner, similarity in zip(owners, similarities, strict=True):
        best[owner] = max(best[owner], similarity)
    total = sum(best)
    scores = {label.name: round(score / total if total else 0.0, 4) for label, score in zip(labels, best, strict=True)}
    top = max(range(len(labels)), key=lambda position: best[position])
    return {"label": labels[top].name, "confidence": scores[labels[top].name], "scores": scores}
