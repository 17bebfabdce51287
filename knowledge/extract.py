"""Text out of files and web pages: PDF (pypdf, in a child process), HTML (inscriptis), Markdown and
plain text; then normalised and capped.

Headings survive extraction as Markdown `#` lines, so the chunker can start new chunks at them
whatever the source format was.
"""

import json
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import lxml.html
from inscriptis import get_text
from lxml.etree import ParserError

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
# About 2.5 million tokens: the chunks and index rows of more text than this would not fit one ingestion.
MAX_TEXT_CHARS = 10_000_000
# The Celery task's limit (knowledge/tasks.py) does not reach the embedded mode's worker threads; this does.
PDF_TIMEOUT_S = 120.0
ROOT = Path(__file__).resolve().parent.parent


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


def extract(data: bytes, fmt: str, pdf_timeout_s: float = PDF_TIMEOUT_S) -> Extracted:
    """The normalised text of `data`; ExtractionFailed when it cannot be read or is over MAX_TEXT_CHARS."""
    if fmt == "pdf":
        extracted = _pdf(data, pdf_timeout_s)
    elif fmt == "html":
        extracted = _html(_decode(data))
    else:
        extracted = Extracted(normalise(_decode(data)))
    if len(extracted.text) > MAX_TEXT_CHARS:
        raise ExtractionFailed(f"the text is over {MAX_TEXT_CHARS:,} characters; split it into smaller files")
    return extracted


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Text files without a declared charset are most often Windows-1252 when they are not UTF-8.
        return data.decode("cp1252", errors="replace")


def _pdf(data: bytes, timeout_s: float) -> Extracted:
    """pypdf runs in a child process (knowledge/pdf_text.py), killed after `timeout_s`."""
    command = [sys.executable, "-m", "knowledge.pdf_text", str(MAX_TEXT_CHARS)]
    try:
        done = subprocess.run(  # noqa: S603  (our own interpreter and module; the PDF goes to stdin)
            command, input=data, capture_output=True, timeout=timeout_s, cwd=ROOT, check=False
        )
    except subprocess.TimeoutExpired:
        raise ExtractionFailed(f"reading the PDF took longer than {timeout_s:g} s") from None
    try:
        result = json.loads(done.stdout)  # our own child's one flat object
    except ValueError:
        # The child died (at its memory cap, for one) before it could answer.
        raise ExtractionFailed("the PDF could not be read (the reader stopped)") from None
    if "error" in result:
        raise ExtractionFailed(result["error"])
    text = normalise(result["text"])
    if not text:
        raise ExtractionFailed("the PDF has no extractable text (a scan needs OCR first)")
    return Extracted(text, result["title"].strip())


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
