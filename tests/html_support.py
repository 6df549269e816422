"""One HTML reader for the tests (pages, fragments, figures): what a reader or a screen reader
meets — headings, tables, images, links, figure captions, status badges, external resources and
the visible text. Built on the standard library's ``html.parser``."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class Html(HTMLParser):
    """``Html(text)`` parses ``text`` at once.

    ``tags``: every start tag as ``(tag, attrs)``; ``headings``: levels of h1..h6 in order;
    ``tables``: ``{"caption": text, "th": [scope of each header cell]}``; ``imgs``: attributes of
    each image; ``links``: href of each link ("" when absent); ``captions``: text pieces of the
    figure captions; ``badges``: text of the fiche status badges (``span.statut-grand``);
    ``external``: resources loaded from elsewhere (``<link>``, ``<script src>``, http(s) src);
    ``text``: the visible text, whitespace collapsed.
    """

    def __init__(self, text: str = ""):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.tables: list[dict] = []
        self.imgs: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.captions: list[str] = []
        self.badges: list[str] = []
        self.external: list[str] = []
        self.words: list[str] = []
        self._stack: list[str] = []
        self._badge = False
        self._in_figcaption = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        self._stack.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "table":
            self.tables.append({"caption": "", "th": []})
        elif tag == "th" and self.tables:
            self.tables[-1]["th"].append(a.get("scope"))
        elif tag == "img":
            self.imgs.append(a)
        elif tag == "a":
            self.links.append(a.get("href") or "")
        for key in ("src", "href"):
            value = (a.get(key) or "").strip().lower()
            if value.startswith(("http:", "https:", "//")) and tag != "a":
                self.external.append(f"<{tag} {key}={value}>")
        if tag == "link" or (tag == "script" and "src" in a):
            self.external.append(f"<{tag}>")
        self._in_figcaption = self._in_figcaption or tag == "figcaption"
        self._badge = tag == "span" and "statut-grand" in (a.get("class") or "")

    def handle_endtag(self, tag):
        if tag == "figcaption":
            self._in_figcaption = False
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data):
        self.words.append(data)
        if self._stack and self._stack[-1] == "caption" and self.tables:
            self.tables[-1]["caption"] += data
        if self._in_figcaption:
            self.captions.append(data)
        if self._badge:
            self.badges.append(data.strip())
            self._badge = False

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())
