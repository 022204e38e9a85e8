"""Numbers and text for people, formatted in one place so every command agrees.

Money below a dollar keeps two significant digits ($0.0077, not "$0.01"), or a budget
check reads "$0.01 of $0.01" while one side is over the other. Long texts are cut at a
word boundary with an ellipsis, never mid-word (a cut credential name misleads).
"""

from __future__ import annotations

import math

ELLIPSIS = "…"


def usd(amount: float) -> str:
    """US dollars: cents from a dollar up; below it, at least two significant digits."""
    if amount == 0 or abs(amount) >= 1:
        return f"${amount:,.2f}"
    decimals = max(2, 1 - math.floor(math.log10(abs(amount))))
    text = f"{amount:.{decimals}f}".rstrip("0")
    if len(text.partition(".")[2]) < 2:
        text = f"{amount:.2f}"
    return f"${text}"


def clip(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters, cut at a word boundary with an
    ellipsis; a single word longer than the limit is cut (there is no boundary)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = flat[: limit - len(ELLIPSIS) + 1]
    cut = head.rfind(" ")
    head = head[:cut] if cut > 0 else head[: limit - len(ELLIPSIS)]
    return head.rstrip(" ,;:.-") + ELLIPSIS
