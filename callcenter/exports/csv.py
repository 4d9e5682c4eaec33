"""A table as CSV for Excel: UTF-8 with a byte-order mark (without it Excel reads the
Chinese as the machine's ANSI code page), RFC 4180 (comma, CRLF, fields with a comma,
quote or line break quoted, quotes doubled)."""

from __future__ import annotations

import csv
import io

from callcenter.exports.tables import Table

MEDIA_TYPE = "text/csv"
BOM = "\ufeff"


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(table.headers)
    writer.writerows(["" if cell is None else cell for cell in row] for row in table.rows)
    return out.getvalue().encode("utf-8")
