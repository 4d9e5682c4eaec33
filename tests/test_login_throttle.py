"""The log-in throttle's failures are kept in the store: a restart of the console does
not reset a guesser's wait, and what the store keeps is pruned and names no user."""

from __future__ import annotations

import json
from pathlib import Path

from callcenter.store import Store
from callcenter.web.repository import LoginFailureRepository
from callcenter.web.sessions import FailureKey, LoginThrottle, failure_keys
from tests.web_helpers import FakeFloor, console_running, console_settings, http_session, log_in

GUESSER = "127.0.0.1"  # the tests' console is reached over loopback


class KeptFailures:
    """A throttle's store, in a dict: what it was last told for each count."""

    def __init__(self) -> None:
        self.rows: dict[FailureKey, list[float]] = {}

    def save(self, key: FailureKey, times: list[float]) -> None:
        self.rows[key] = list(times)


async def test_a_guessers_wait_survives_a_restart_of_the_console_and_its_store(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with http_session() as http:
        async with Store(settings.paths.database) as store, \
                console_running(settings, FakeFloor(settings, store)) as console:
            statuses = [(await log_in(http, console.url, "supervisor", f"guess-{n}")).status for n in range(6)]
            assert statuses == [401] * 5 + [429]
            stored = await store.reading(lambda db: [dict(r) for r in db.query("SELECT * FROM login_failures")])
        # The user name is kept only as a hash: a password typed as a name is not in the store.
        assert {row["kind"] for row in stored} == {"address", "user"}
        assert "supervisor" not in json.dumps(stored) and "guess" not in json.dumps(stored)
        # A new store and console on the same database, as after `hotline up` is started again.
        async with Store(settings.paths.database) as store, \
                console_running(settings, FakeFloor(settings, store)) as again:
            refused = await log_in(http, again.url, "supervisor", again.passwords["supervisor"])
            assert refused.status == 429
            assert int(refused.headers["Retry-After"]) >= 1
            # Another address is not held back by this one's failures.
            throttle_elsewhere = LoginThrottle(lambda: 1000.0)
            throttle_elsewhere.restore(await LoginFailureRepository(store).recent(0.0))
            assert throttle_elsewhere.retry_after(GUESSER, "seat1") > 0
            assert throttle_elsewhere.retry_after("192.0.2.10", "supervisor") == 0


def test_the_failures_written_through_restore_the_same_waits_in_a_new_throttle() -> None:
    now = [1000.0]
    kept = KeptFailures()
    first = LoginThrottle(lambda: now[0], store=kept)
    for _ in range(7):
        first.failed("198.51.100.7", "supervisor")
    first.failed("198.51.100.8", "seat1")
    now[0] += 1.0
    again = LoginThrottle(lambda: now[0])
    again.restore(kept.rows)
    for address, user in (("198.51.100.7", "supervisor"), ("198.51.100.7", "seat2"), ("198.51.100.8", "seat1")):
        assert again.retry_after(address, user) == first.retry_after(address, user)
    assert again.retry_after("198.51.100.7", "seat2") > 0  # the address's count, whatever the name


def test_a_success_clears_the_users_count_in_the_store_but_not_the_addresss() -> None:
    now = [1000.0]
    kept = KeptFailures()
    throttle = LoginThrottle(lambda: now[0], free_failures=2, store=kept)
    by_address, by_user = failure_keys("198.51.100.7", "seat1")
    for _ in range(3):
        throttle.failed("198.51.100.7", "seat1")
    assert len(kept.rows[by_user]) == 3 and len(kept.rows[by_address]) == 3
    throttle.failed("198.51.100.7", "seat1")  # the right password's attempt, counted up front
    throttle.succeeded("198.51.100.7", "seat1")
    assert kept.rows[by_user] == [] and len(kept.rows[by_address]) == 3
    restored = LoginThrottle(lambda: now[0], free_failures=2)
    restored.restore(kept.rows)
    assert restored.retry_after("198.51.100.7", "somebody-else") > 0


def test_a_restore_keeps_at_most_max_keys_counts_the_most_recent() -> None:
    now = [10000.0]
    throttle = LoginThrottle(lambda: now[0], free_failures=0, window=900.0, max_keys=2)
    # With no free failure, one failure means a wait of 2 s after it.
    throttle.restore({("address", "a"): [now[0] - 1.5], ("address", "b"): [now[0] - 1.0],
                      ("address", "c"): [now[0] - 0.5]})
    assert throttle.retry_after("a", "x") == 0.0  # the stalest of three over the bound of two: left out
    assert throttle.retry_after("b", "x") > 0 and throttle.retry_after("c", "x") > 0


async def test_the_store_forgets_counts_whose_last_failure_is_past_the_window(tmp_path: Path) -> None:
    async with Store(tmp_path / "hotline.db") as store:
        repository = LoginFailureRepository(store)
        repository.save(("address", "198.51.100.7"), [100.0, 200.0])
        repository.save(("address", "198.51.100.8"), [1000.0])
        repository.save(("user", "f" * 64), [])  # cleared by a success
        assert await repository.recent(500.0) == {("address", "198.51.100.8"): [1000.0]}
        left = await store.reading(lambda db: [r["key"] for r in db.query("SELECT key FROM login_failures")])
        assert left == ["address 198.51.100.8"]
