from itertools import pairwise

from knowledge.chunking import chunk, count_tokens


def sentences(n: int, word: str = "refund") -> str:
    return " ".join(f"Sentence {i} explains the {word} rules." for i in range(n))


def test_it_starts_a_chunk_at_every_heading_and_keeps_the_heading_path():
    text = "# Billing\n\nIntro paragraph.\n\n## Refunds\n\nRefund text.\n\n# Accounts\n\nAccount text."
    pieces = chunk(text, 200, 20)
    assert [(p.heading, p.text) for p in pieces] == [
        ("Billing", "Intro paragraph."),
        ("Billing \u203a Refunds", "Refund text."),
        ("Accounts", "Account text."),
    ]


def test_it_packs_whole_paragraphs_while_they_fit():
    paragraphs = [sentences(2, word) for word in ("alpha", "beta", "gamma", "delta")]
    pieces = chunk("\n\n".join(paragraphs), 40, 0)
    for piece in pieces:
        assert all(part in paragraphs for part in piece.text.split("\n\n"))
    assert "\n\n".join(p.text for p in pieces) == "\n\n".join(paragraphs)


def test_it_keeps_every_chunk_within_size_plus_overlap_and_loses_no_sentence():
    text = sentences(200)
    pieces = chunk(text, 60, 12)
    assert len(pieces) > 5
    assert all(piece.token_count <= 60 + 12 for piece in pieces)
    assert all(piece.token_count == count_tokens(piece.text) for piece in pieces)
    for i in range(200):
        assert any(f"Sentence {i} explains" in piece.text for piece in pieces)


def test_it_overlaps_consecutive_chunks_of_a_section():
    pieces = chunk(sentences(60), 50, 15)
    for before, after in pairwise(pieces):
        first_sentence_of_after = after.text.split(".")[0]
        assert first_sentence_of_after in before.text


def test_it_cuts_a_sentence_longer_than_a_chunk_at_word_boundaries():
    words = [f"word{i}" for i in range(500)]
    pieces = chunk(" ".join(words), 50, 0)
    assert all(piece.token_count <= 50 for piece in pieces)
    assert " ".join(p.text for p in pieces).split() == words
