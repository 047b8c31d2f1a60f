"""The ladder (sequence) diagram of the seed's pictures, from trace records.

Two parts: :mod:`.model` turns the typed trace into what the picture shows (the two
hosts, every segment's flight from its send to its arrivals or its loss, state
changes, notes and timers, in time order), with no drawing in it; :mod:`.text` draws
that model in a terminal (its docstring shows the picture), and :mod:`synack.views.svg`
as SVG.

Importing this package (and :mod:`.model`) imports neither rich nor anything else
outside the standard library and ``synack.core``: the browser builds the model too.
:mod:`.text` (rich) is imported when a terminal ladder is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from synack.core.trace import TraceRecord

from ..words import Lang
from .model import Arrival, Elided, Flight, Ladder, Lost, Side, build_ladder

if TYPE_CHECKING:
    from rich.text import Text

    from .text import render_model

__all__ = ["Arrival", "Elided", "Flight", "Ladder", "Lost", "Side", "build_ladder", "ladder_text",
           "render_ladder", "render_model"]


def __getattr__(name: str) -> Any:
    if name == "render_model":
        from .text import render_model
        return render_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def render_ladder(records: Sequence[TraceRecord], left: str, right: str, *, title: str | None = None,
                  width: int = 100, relative_seq: bool = False, max_rows: int | None = None,
                  show_options: bool = True, lang: Lang = "en") -> Text:
    """The ladder diagram of ``records`` between hosts ``left`` and ``right`` (host
    names as in the records' ``host`` field), as a rich :class:`~rich.text.Text`.

    ``width`` is the total width in cells (the middle shrinks to fit, down to a
    minimum).  ``relative_seq`` shows seq/ack relative to each side's ISN, as
    Wireshark does.  ``max_rows`` keeps the first and last rows and replaces the rest
    with one "… N rows …" line.  ``show_options=False`` leaves out the line of TCP
    options under each segment that carries some (compact ladders of floods).  A
    flood from many addresses is summarised as the model does it (:data:`.model.OUTSIDE_MAX`).
    ``lang="zh"`` says the notes, timers and fates in Chinese (the segments' own
    fields and the RFC's state names stay as they are).  Nothing is cut: a label,
    note or title too long for ``width`` wraps onto the lines below.
    """
    from .text import render_model

    return render_model(build_ladder(records, left, right), title=title, width=width,
                        relative_seq=relative_seq, max_rows=max_rows, show_options=show_options, lang=lang)


def ladder_text(records: Sequence[TraceRecord], left: str, right: str, *, title: str | None = None,
                width: int = 100, relative_seq: bool = False, max_rows: int | None = None,
                show_options: bool = True, color: bool = False, lang: Lang = "en") -> str:
    """:func:`render_ladder` as a string: plain text (trailing spaces removed), or
    with ANSI colours when ``color`` is true."""
    text = render_ladder(records, left, right, title=title, width=width, relative_seq=relative_seq,
                         max_rows=max_rows, show_options=show_options, lang=lang)
    if not color:
        return "\n".join(line.rstrip() for line in text.plain.split("\n")) + "\n"
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="standard", width=max(width, 20),
                      legacy_windows=False, soft_wrap=False)
    console.print(text, crop=True)
    return buf.getvalue()
