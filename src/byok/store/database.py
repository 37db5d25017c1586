"""The one seam to the metadata database: engines, sessions, migrations, error translation.

Every SQL statement byok runs goes through a :class:`Store` (STYLE.md guideline 2). By
default it is an SQLite file (embedded, zero set-up); a ``postgresql://`` URL selects
PostgreSQL for more than one machine.

SQLite is opened in WAL mode with foreign keys on, ``synchronous=FULL`` (a commit that
returned survives power loss, which the document store's crash guarantees rely on) and a
busy timeout. Write transactions start with ``BEGIN IMMEDIATE``: SQLite then serialises
writers up front instead of failing a reader that tries to upgrade to a writer half-way
(``SQLITE_BUSY_SNAPSHOT``, which no busy timeout can wait out). PostgreSQL runs at READ
COMMITTED and the repositories take the row locks they need (``SELECT ... FOR UPDATE``).

The schema is created and upgraded only by Alembic (``byok/store/migrations``), never by
``create_all``; :meth:`Store.open` applies pending migrations unless told not to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from byok.errors import ByokError, Conflict, StorageError
from byok.private_files import create_private_file, make_private_dir
from byok.store.group_commit import GroupCommit

if TYPE_CHECKING:
    from alembic.config import Config

    from byok.store.signals import SignalBus

__all__ = ["Clock", "Store", "utc_now"]

Clock = Callable[[], datetime]
SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE = "byok_write"
_MIGRATION_LOCK = threading.Lock()


def utc_now() -> datetime:
    """Return the current time, timezone-aware UTC (the default :data:`Clock`)."""
    return datetime.now(UTC)


class Store:
    """A connection to the metadata database.

    Build with :meth:`open`. Repositories (``byok.store.tenants`` and friends) take a
    ``Store`` and use :meth:`read` / :meth:`write` for every statement.
    """

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{_WRITE: True})
        self.clock = clock
        #: Shared durable write transactions for the short writes of concurrent requests
        #: (audit appends, document rows): ``store.batched.run(lambda batch: ...)``.
        self.batched = GroupCommit(self.write, translate_errors)
        self._signals: SignalBus | None = None
        self._signals_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, clock: Clock = utc_now) -> Store:
        """Connect to ``url`` (``sqlite:///path`` or ``postgresql://...``).

        Args:
            url: SQLAlchemy URL. ``postgresql://`` means the psycopg 3 driver.
            migrate: apply pending Alembic migrations first (default).
            clock: source of timestamps (injectable for tests).

        Returns:
            The store.

        Raises:
            StorageError: the database cannot be reached or migrated.
        """
        with translate_errors("open the metadata database"):
            store = cls(_make_engine(url), clock=clock)
            if migrate:
                store.migrate()
            return store

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tooling and tests; product code uses read/write)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def migrate(self) -> None:
        """Upgrade the schema to the newest Alembic revision. Safe to run concurrently.

        Raises:
            StorageError: when a migration fails (the schema is left as it was).
        """
        operation = "migrate the metadata database"
        # Alembic keeps its running context in module globals: one migration per process at
        # a time (other processes are kept out by the lock in migrations/env.py).
        from alembic import command  # imported on use: it is slow and only needed here

        with _MIGRATION_LOCK, translate_errors(operation), self._write_engine.begin() as connection:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """Return the Alembic revision the database is at (None: not migrated).

        Raises:
            StorageError: the database cannot be read.
        """
        from alembic.runtime.migration import MigrationContext

        with translate_errors("read the schema revision"), self._engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str:
        """Return the newest revision shipped with this version of byok."""
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        assert head is not None
        return head

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in a read transaction (rolled back at the end).

        Raises:
            StorageError: on any database failure.
        """
        # Closing (not rolling back) ends the transaction without expiring the rows read,
        # so callers may use them after the block.
        with translate_errors("read metadata"), Session(self._engine) as session:
            session.begin()
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction, committed when the block ends without error.

        Raises:
            Conflict: a uniqueness or foreign-key rule refused the write.
            StorageError: on any other database failure.
        """
        session = Session(self._write_engine, expire_on_commit=False)
        with translate_errors("write metadata"), session, session.begin():
            yield session

    @property
    def signals(self) -> SignalBus:
        """This process's cluster signal bus over this database (``byok.store.signals``).

        Created on first use, not started: the API server starts its listener.
        """
        with self._signals_lock:
            if self._signals is None:
                from byok.store.signals import SignalBus

                self._signals = SignalBus(self)
            return self._signals

    def close(self) -> None:
        """Stop the signal listener (if any) and close every pooled connection."""
        if self._signals is not None:
            self._signals.stop()
        self._engine.dispose()


@contextmanager
def translate_errors(operation: str, *, tenant: str | None = None) -> Iterator[None]:
    """Turn SQLAlchemy errors raised in the block into byok storage errors.

    Raises:
        Conflict: for integrity violations (unique, foreign key, check).
        StorageError: for every other database error.
    """
    try:
        yield
    except ByokError:
        raise
    except SqlIntegrityError as exc:
        raise Conflict(
            f"the database refused to {operation}: a concurrent or conflicting write",
            tenant=tenant,
            operation=operation,
        ) from exc
    except SQLAlchemyError as exc:
        raise StorageError(
            f"could not {operation}: {type(exc).__name__}", tenant=tenant, operation=operation
        ) from exc


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "byok.store:migrations")
    return config


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        # 0600 in a 0700 folder before SQLite opens it: SQLite gives -wal and -shm the
        # database file's mode, so they are private too (docs/OPERATIONS.md#file-modes).
        make_private_dir(Path(url.database).parent)
        create_private_file(url.database)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred only).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
