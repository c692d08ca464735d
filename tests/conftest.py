from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Databases, ServerProcess, Shop, base_database_url, new_shop


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    base_url, embedded = base_database_url()
    dbs = Databases(base_url)
    dbs.build_template()
    yield dbs
    dbs.drop_all()
    if embedded is not None:
        embedded.cleanup()


@pytest.fixture(scope="session")
def app_database(databases: Databases) -> str:
    """The database of the shared server; tests isolate themselves by tenant."""
    return databases.fresh()


@pytest.fixture(scope="session")
def server(app_database: str) -> Iterator[ServerProcess]:
    process = ServerProcess(app_database).start()
    yield process
    process.stop()


@pytest.fixture
def shop(server: ServerProcess, app_database: str) -> Shop:
    return new_shop(server.url, app_database)
