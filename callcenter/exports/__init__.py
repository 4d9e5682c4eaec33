"""Exports of the console's lists (the ticket list, the call log) as CSV and XLSX files,
pure: rows in, bytes out. `tables` turns store rows into a header and cells, each text
cell already guarded against formula injection; `csv` and `xlsx` write a table."""

from callcenter.exports.tables import (
    CALL_COLUMNS,
    MAX_ROWS,
    TICKET_COLUMNS,
    Column,
    Table,
    call_table,
    guard,
    ticket_table,
)

__all__ = ["CALL_COLUMNS", "MAX_ROWS", "TICKET_COLUMNS", "Column", "Table", "call_table", "guard", "ticket_table"]
