"""Text out of files and web pages: PDF (pypdf), HTML (inscriptis), Markdown and plain text; then normalised.

Headings survive extraction as Markdown `#` lines, so the chunker can start new chunks at them
whatever the source format was.
"""

import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

import lxml.html
from inscriptis import get_text
from lxml.etree import ParserError
from pypdf import PdfReader
from pypdf.errors import PdfReadError

FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
CONTENT_TYPES = {"text/plain": "text", "text/markdown": "markdown", "text/html": "html", "application/pdf": "pdf"}
MAX_PDF_PAGES = 2000


class ExtractionFailed(ValueError):
    """The source cannot be read as the format it claims; the message is shown to the user."""


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str = ""


def format_of(filename: str = "", content_type: str = "") -> str | None:
    """The format by file extension, else (no extension) by content type; None when not supported."""
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix:
        return FORMATS.get(suffix)
    return CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def extract(data: bytes, fmt: str) -> Extracted:
    if fmt == "pdf":
        return _pdf(data)
    if fmt == "html":
        return _html(_decode(data))
    return Extracted(normalise(_decode(data)))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Text files without a declared charset are most often Windows-1252 when they are not UTF-8.
        return data.decode("cp1252", errors="replace")


def _pdf(data: bytes) -> Extracted:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ExtractionFailed("the PDF is encrypted; upload an unprotected copy")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise ExtractionFailed(f"the PDF has more than {MAX_PDF_PAGES} pages")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except ExtractionFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as error:
        # pypdf reports damage through several exception types depending on where it trips.
        raise ExtractionFailed(f"the PDF could not be read ({type(error).__name__}: {error})") from None
    text = normalise("\n\n".join(pages))
    if not text:
        raise ExtractionFailed("the PDF has no extractable text (a scan needs OCR first)")
    return Extracted(text, title.strip())


def _html(markup: str) -> Extracted:
    try:
        tree = lxml.html.document_fromstring(markup)
    except (ParserError, ValueError) as error:
        raise ExtractionFailed(f"the HTML could not be parsed ({error})") from None
    for element in tree.xpath("//script|//style|//noscript|//template|//nav|//footer"):
        element.drop_tree()
    for level in range(1, 7):
        for heading in tree.iter(f"h{level}"):
            heading.text = "#" * level + " " + (heading.text or "").lstrip()
    title = " ".join((tree.findtext(".//title") or "").split())
    return Extracted(normalise(get_text(lxml.html.tostring(tree, encoding="unicode"))), title)


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalise(text: str) -> str:
    """NFC, one kind of newline, no control characters, runs of spaces collapsed, at most one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
