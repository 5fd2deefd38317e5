"""A small PDF writer for documents made of headings, paragraphs, bullet lists, tables and
figures (drawn by the caller into a box the writer places), with an embedded CJK font so
Chinese renders on any reader (fpdf2 embeds only the glyphs used). The font is Noto Sans
CJK SC subset to GB 2312 (fonts/LICENSE-OFL.txt); a character outside it prints as the
font's empty glyph."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

FONT = Path(__file__).with_name("fonts") / "NotoSansCJKsc-Regular-GB2312.otf"
FAMILY = "NotoSansSC"
HEADINGS = FontFace(emphasis="NONE", fill_color=(232, 236, 241))  # one weight only


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    keep: float = 0.0
    """Millimetres that must fit below the heading, else it starts a new page: keeps a
    heading with the figure under it."""


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    small: bool = False


@dataclass(frozen=True, slots=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True, slots=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths: Sequence[float] = field(default_factory=tuple)  # relative; empty: equal
    empty: str = "—"


Draw = Callable[[FPDF, float, float, float, float], None]
"""Draws into the box (x, y, width, height in mm) with FPDF's primitives and the font
`FAMILY`; the writer restores the colours and line width afterwards."""


@dataclass(frozen=True, slots=True)
class Figure:
    height: float
    draw: Draw


Block = Heading | Paragraph | Bullets | Table | Figure


class _Document(FPDF):
    def __init__(self, title: str, footer: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._title_text, self._footer_text = title, footer
        self.add_font(FAMILY, "", str(FONT))
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def header(self) -> None:
        self.set_font(FAMILY, size=8)
        self.set_text_color(110)
        self.cell(0, 5, self._title_text, new_x="LMARGIN", new_y="NEXT", align="R")
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        self.set_text_color(110)
        self.cell(0, 5, f"{self._footer_text}  {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)


def render(title: str, blocks: Sequence[Block], *, footer: str = "") -> bytes:
    """The document as PDF bytes."""
    pdf = _Document(title, footer)
    pdf.alias_nb_pages()
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font(FAMILY, size=16)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    for block in blocks:
        if isinstance(block, Heading):
            if block.keep and pdf.get_y() + block.keep > pdf.h - pdf.b_margin:
                pdf.add_page()
            pdf.ln(3)
            pdf.set_font(FAMILY, size=12.5)
            pdf.multi_cell(0, 7, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.set_draw_color(180)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
            pdf.ln(1.5)
        elif isinstance(block, Paragraph):
            pdf.set_font(FAMILY, size=8.5 if block.small else 10)
            pdf.multi_cell(0, 5.2, block.text, new_x="LMARGIN", new_y="NEXT", align="L")
        elif isinstance(block, Bullets):
            pdf.set_font(FAMILY, size=10)
            for item in block.items:
                pdf.multi_cell(0, 5.2, f"• {item}", new_x="LMARGIN", new_y="NEXT", align="L")
        elif isinstance(block, Figure):
            _figure(pdf, block)
        else:
            _table(pdf, block)
    return bytes(pdf.output())


def _figure(pdf: FPDF, block: Figure) -> None:
    top = pdf.get_y()
    block.draw(pdf, pdf.l_margin, top, pdf.w - pdf.l_margin - pdf.r_margin, block.height)
    pdf.set_draw_color(0)
    pdf.set_fill_color(255)  # tables fill their cells with the current colour
    pdf.set_line_width(0.2)
    pdf.set_xy(pdf.l_margin, top + block.height + 2)


def _table(pdf: FPDF, block: Table) -> None:
    pdf.set_font(FAMILY, size=8.5)
    if not block.rows:
        pdf.multi_cell(0, 5, block.empty, new_x="LMARGIN", new_y="NEXT")
        return
    total = pdf.w - pdf.l_margin - pdf.r_margin
    weights = list(block.widths) or [1.0] * len(block.headers)
    widths = tuple(total * w / sum(weights) for w in weights)
    with pdf.table(
        col_widths=widths,
        line_height=4.6,
        first_row_as_headings=True,
        headings_style=HEADINGS,
        padding=0.8,
    ) as table:
        heading = table.row()
        for text in block.headers:
            heading.cell(text)
        for values in block.rows:
            row = table.row()
            for text in values:
                row.cell(text)
    pdf.ln(1)


_renderers: list[ProcessPoolExecutor] = []
_renderers_lock = threading.Lock()


def render_apart(title: str, blocks: Sequence[Block], footer: str) -> bytes:
    """`render` in a process of its own. Laying out a document with the CJK font is about a
    second of pure Python that holds the interpreter lock: in the web process it would stall
    every other request of that process (each database round trip waits to get the lock
    back)."""
    for attempt in (1, 2):
        with _renderers_lock:
            if not _renderers:
                spawn = multiprocessing.get_context("spawn")  # never fork a threaded server
                _renderers.append(
                    ProcessPoolExecutor(
                        max_workers=1,
                        mp_context=spawn,
                        initializer=_die_with,
                        initargs=(os.getpid(),),
                    )
                )
            pool = _renderers[0]
        try:
            return pool.submit(render, title, blocks, footer=footer).result(timeout=120)
        except BrokenProcessPool:  # the renderer died (killed, out of memory): a new one
            with _renderers_lock:
                if _renderers and _renderers[0] is pool:
                    _renderers.clear()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _die_with(parent: int) -> None:
    """In the renderer process: exit when the web process that started it is gone (killed
    without the chance to stop its pool), instead of lingering as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
