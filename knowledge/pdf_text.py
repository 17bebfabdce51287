"""The text of a PDF, read by pypdf in a child process that knowledge/extract.py starts and may kill.

A crafted PDF can keep pypdf busy for minutes or make it allocate gigabytes; Celery's time limit
stopped that only in a prefork worker, not in the embedded mode's worker threads. A child process
can be killed in both modes, and its address space is capped here before pypdf sees a byte.
Protocol: the PDF on stdin; one JSON object on stdout, {"text", "title"} or {"error"}.
"""

import io
import json
import resource
import sys
from typing import Any

MAX_PDF_PAGES = 2000
MAX_MEMORY_BYTES = 2_000_000_000


def read(data: bytes, max_chars: int) -> dict[str, Any]:
    from pypdf import PdfReader  # imported after the memory cap is set
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return {"error": "the PDF is encrypted; upload an unprotected copy"}
        if len(reader.pages) > MAX_PDF_PAGES:
            return {"error": f"the PDF has more than {MAX_PDF_PAGES} pages"}
        pages, total = [], 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            total += len(pages[-1])
            if total > max_chars:
                return {"error": f"the PDF's text is over {max_chars:,} characters; split it into smaller files"}
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as error:
        # pypdf reports damage through several exception types depending on where it trips.
        return {"error": f"the PDF could not be read ({type(error).__name__}: {error})"}
    except (MemoryError, RecursionError):
        return {"error": "the PDF is too complex to read"}
    return {"text": "\n\n".join(pages), "title": title}


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MAX_MEMORY_BYTES, MAX_MEMORY_BYTES))
    result = read(sys.stdin.buffer.read(), int(sys.argv[1]))
    sys.stdout.buffer.write(json.dumps(result, ensure_ascii=False).encode("utf-8", "surrogatepass"))


if __name__ == "__main__":
    main()
