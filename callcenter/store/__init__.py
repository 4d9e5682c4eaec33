"""The store: one thread, batched writes, versioned schema, on SQLite (the embedded
default) or PostgreSQL (`store.url`). Repositories (one per noun, in that noun's
package) hold the SQL; see `runtime` for the why, `backend` for the two databases."""

from callcenter.store.backend import Database
from callcenter.store.columns import Columns, Kind, checked, clean_text, iso_second
from callcenter.store.runtime import BUSY_TIMEOUT, THREAD_NAME, Row, Store, StoreError
from callcenter.store.schema import SCHEMA_VERSION
from callcenter.store.url import store_target

__all__ = [
    "BUSY_TIMEOUT", "SCHEMA_VERSION", "THREAD_NAME", "Columns", "Database", "Kind", "Row", "Store", "StoreError",
    "checked", "clean_text", "iso_second", "store_target",
]
