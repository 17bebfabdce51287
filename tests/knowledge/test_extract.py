import pytest

from knowledge.extract import ExtractionFailed, extract, format_of, normalise
from tests.knowledge.pdfs import pdf_with_text


def test_it_reads_every_page_of_a_pdf_and_its_title():
    extracted = extract(
        pdf_with_text("# Refunds\nMoney back within 14 days.", "Page two (the end)", title="Policy"), "pdf"
    )
    assert extracted.text == "# Refunds\nMoney back within 14 days.\n\nPage two (the end)"
    assert extracted.title == "Policy"


@pytest.mark.parametrize("data", [b"%PDF-1.4 nothing else", b"not a pdf at all", b""])
def test_it_names_the_problem_with_a_broken_pdf(data):
    with pytest.raises(ExtractionFailed, match="PDF"):
        extract(data, "pdf")


def test_it_refuses_a_pdf_without_text():
    with pytest.raises(ExtractionFailed, match="no extractable text"):
        extract(pdf_with_text(""), "pdf")


def test_it_keeps_html_headings_and_drops_scripts_styles_and_navigation():
    markup = (
        b"<html><head><title>Help \xe2\x80\x94 Refunds</title><style>p{color:red}</style></head><body>"
        b"<nav>Home | Pricing</nav><h2>Refund window</h2><p>Within <b>14</b> days.</p>"
        b"<ul><li>card</li><li>PayPal</li></ul><script>track()</script><footer>(c) us</footer></body></html>"
    )
    extracted = extract(markup, "html")
    assert extracted.title == "Help \u2014 Refunds"
    assert extracted.text == "## Refund window\n\nWithin 14 days.\n\n* card\n* PayPal"


def test_it_reads_markdown_and_text_in_utf8_or_windows_1252():
    assert extract("# Caf\u00e9\r\n\r\n\r\n\r\nOne  \t two\x07".encode(), "markdown").text == "# Caf\u00e9\n\nOne two"
    assert extract("na\u00efve".encode("cp1252"), "text").text == "na\u00efve"


def test_it_knows_formats_by_extension_then_content_type():
    assert format_of("Guide.PDF") == "pdf"
    assert format_of("notes.md") == "markdown"
    assert format_of("page", "text/html; charset=utf-8") == "html"
    assert format_of("archive.zip", "application/zip") is None
    assert format_of("program.exe", "text/plain") is None


def test_it_normalises_unicode_and_blank_lines():
    assert normalise("e\u0301\u00a0x\n\n\n\ny  ") == "\u00e9 x\n\ny"
