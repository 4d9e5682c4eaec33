"""A table as an Excel workbook (openpyxl, write-only: rows go straight to the file):
the header row bold and frozen, the columns as wide as their content needs.

openpyxl takes a string that starts with "=" for a formula. The table's guard has already
put an apostrophe in front of every such text; a text that still starts with "=" (a table
built without the guard) is written as a cell whose data type is set to string."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from callcenter.exports.tables import Cell, Table

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _value(sheet: WriteOnlyWorksheet, value: Cell) -> Cell | SheetCell:
    if not isinstance(value, str):
        return value
    # Control characters are not allowed in the file's XML (openpyxl would refuse the row).
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not text.startswith("="):
        return text  # plain values are written fast; openpyxl types them as strings
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    return cell


def to_xlsx(table: Table) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.title)
    assert isinstance(sheet, WriteOnlyWorksheet)
    sheet.freeze_panes = "A2"
    # Write-only sheets have column dimensions (written before the rows); the stubs miss them.
    dimensions = sheet.column_dimensions  # type: ignore[attr-defined]
    for index, width in enumerate(table.widths, start=1):
        dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for text in table.headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in table.rows:
        sheet.append([_value(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
