"""The difference between the model's draft and the reviewer's text, word by word, as plain segments.

Templates render the segments escaped inside <ins>/<del>; nothing here produces HTML.
"""

import difflib
import re
from dataclasses import dataclass

TOKENS = re.compile(r"\S+\s*|\s+")
MAX_TOKENS = 20_000


@dataclass(frozen=True)
class Segment:
    op: str  # "same", "ins" or "del"
    text: str


def word_diff(before: str, after: str) -> list[Segment]:
    a, b = TOKENS.findall(before)[:MAX_TOKENS], TOKENS.findall(after)[:MAX_TOKENS]
    segments: list[Segment] = []
    # autojunk off: with it, frequent words in long drafts would be treated as noise and mis-aligned.
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            segments.append(Segment("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(Segment("del", "".join(a[i1:i2])))
        if j2 > j1:
            segments.append(Segment("ins", "".join(b[j1:j2])))
    return segments


def changed(segments: list[Segment]) -> bool:
    return any(segment.op != "same" for segment in segments)
