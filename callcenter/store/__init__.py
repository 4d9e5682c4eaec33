"""The local SQLite store: one thread, batched writes, versioned schema. Repositories
(one per noun, in that noun's package) hold the SQL; see `runtime` for the why."""

from callcenter.store.columns import Columns, Kind, checked, clean_text, iso_second
from callcenter.store.runtime import BUSY_TIMEOUT, THREAD_NAME, Row, Store, StoreError
from callcenter.store.schema import SCHEMA_VERSION

__all__ = [
    "BUSY_TIMEOUT", "SCHEMA_VERSION", "THREAD_NAME", "Columns", "Kind", "Row", "Store", "StoreError", "checked",
    "clean_text", "iso_second",
]
