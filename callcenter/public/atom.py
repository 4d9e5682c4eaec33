"""The published cases as an Atom 1.0 feed (RFC 4287), for the city website and the
forum to pull: built with ElementTree (every text escaped), links absolute from the
site's address, each entry's id its page's address."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from callcenter.store import Row

ATOM = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot hold at all (escaping does not help): dropped from the feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: object) -> str:
    return _NOT_XML.sub("", str(text))


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def case_url(base_url: str, case_id: object) -> str:
    return f"{base_url}/cases/{case_id}"


def _add(parent: ET.Element, tag: str, text: object | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = xml_text(text)
    return element


def cases_feed(cases: Sequence[Row], base_url: str, title: str, category_labels: dict[str, str],
               now: float) -> bytes:
    """The feed of `cases` (newest first) as UTF-8 XML."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "title", title)
    _add(feed, "id", f"{base_url}/cases.atom")
    _add(feed, "link", href=f"{base_url}/cases.atom", rel="self", type="application/atom+xml")
    _add(feed, "link", href=f"{base_url}/cases", rel="alternate", type="text/html")
    newest = max((float(str(case["updated_epoch"])) for case in cases), default=now)
    _add(feed, "updated", rfc3339(newest))
    author = _add(feed, "author")
    _add(author, "name", title)
    for case in cases:
        entry = _add(feed, "entry")
        url = case_url(base_url, case["case_id"])
        _add(entry, "title", case["title"])
        _add(entry, "id", url)
        _add(entry, "link", href=url, rel="alternate", type="text/html")
        _add(entry, "published", rfc3339(float(str(case["published_epoch"]))))
        _add(entry, "updated", rfc3339(float(str(case["updated_epoch"]))))
        category = str(case["category"])
        _add(entry, "category", term=xml_text(category), label=xml_text(category_labels.get(category, category)))
        entry_author = _add(entry, "author")
        _add(entry_author, "name", case["unit_name"])
        _add(entry, "content", case["body"], type="text")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
