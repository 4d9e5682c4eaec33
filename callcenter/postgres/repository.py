"""The server's own SQL: the roles and databases made on a server of the hotline's own."""

from __future__ import annotations

import psycopg
from psycopg import sql


def ensure_role(conn: psycopg.Connection[tuple[object, ...]], name: str, password: str) -> None:
    """A login role, made if missing (an existing one keeps its password)."""
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))


def ensure_database(conn: psycopg.Connection[tuple[object, ...]], name: str, owner: str) -> None:
    """A database owned by `owner`, made if missing (CREATE DATABASE outside a transaction)."""
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
