import pytest

from knowledge import pdf_text
from knowledge.extract import MAX_TEXT_CHARS, ExtractionFailed, extract
from tests.knowledge.pdfs import pdf_with_text


def test_it_refuses_text_over_the_cap():
    words = b"word " * (MAX_TEXT_CHARS // 5 + 1)
    with pytest.raises(ExtractionFailed, match="the text is over 10,000,000 characters"):
        extract(words, "text")
    assert len(extract(b"word " * 1000, "markdown").text) == 4999


def test_the_pdf_reader_stops_at_the_text_cap():
    pdf = pdf_with_text("A first page of text.", "And a second one.")
    assert " ".join(pdf_text.read(pdf, max_chars=1000)["text"].split()) == "A first page of text. And a second one."
    assert pdf_text.read(pdf, max_chars=25)["error"].startswith("the PDF's text is over 25 characters")


def test_it_stops_reading_a_pdf_that_takes_too_long():
    """Celery's time limit does not reach the embedded mode's worker threads; the child process's does."""
    with pytest.raises(ExtractionFailed, match=r"reading the PDF took longer than 0\.001 s"):
        extract(pdf_with_text("Some text."), "pdf", pdf_timeout_s=0.001)
    assert extract(pdf_with_text("Some text."), "pdf").text == "Some text."
