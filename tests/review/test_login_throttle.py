"""The sign-in throttle: counted atomically (parallel wrong passwords get no more checks than the
limit), per account, plus a softer per-address limit that does not lock out colleagues."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from tests.review.seeding import make_config
from vaern.app import open_services
from vaern.review.auth import add_user, sign_in
from vaern.storage.db import transaction
from vaern.storage.tables import LoginFailureRow

PASSWORD = "correct horse battery"


def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(tmp_path: Path, db_url: str) -> None:
    config = make_config(tmp_path, database=db_url)
    services = open_services(config)
    with transaction(services.sessions) as db:
        add_user(db, config, "lene", "leader", ["boern-familie"], PASSWORD)
    attempts = 40
    start = threading.Barrier(attempts)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        with transaction(services.sessions) as db:
            result = sign_in(db, config, "lene", "wrong password", "10.0.0.7")
        outcomes.append("throttled" if result.throttled else "checked")

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    limit = config.review.login_max_failures
    assert outcomes.count("checked") == limit, outcomes
    assert outcomes.count("throttled") == attempts - limit
    with services.sessions() as db:
        checked = db.scalar(select(func.count()).select_from(LoginFailureRow).where(LoginFailureRow.username == "lene"))
    assert checked == limit
    # The right password is refused too until the window has passed.
    with transaction(services.sessions) as db:
        assert sign_in(db, config, "lene", PASSWORD, "10.0.0.8").throttled
    services.engine.dispose()


def test_a_locked_account_does_not_lock_out_its_colleagues_behind_the_same_address(tmp_path: Path) -> None:
    config = make_config(tmp_path, review={"login_max_failures": 3, "login_max_failures_per_address": 10})
    services = open_services(config)
    office = "192.0.2.10"
    with transaction(services.sessions) as db:
        for name in ("lene", "jens", "ny"):
            add_user(db, config, name, "analyst", [], PASSWORD)

    def attempt(name: str, password: str, address: str = office) -> str:
        with transaction(services.sessions) as db:
            result = sign_in(db, config, name, password, address)
        return "throttled" if result.throttled else "ok" if result.user else "failed"

    # Per account: three failures lock "lene", from any address; "jens" behind the same address is fine.
    assert [attempt("lene", "wrong") for _ in range(4)] == ["failed"] * 3 + ["throttled"]
    assert attempt("lene", PASSWORD, "198.51.100.1") == "throttled"
    assert attempt("jens", PASSWORD) == "ok"
    # Per address, softer: a script trying names from the office gets refused the names that failed
    # there once the address passed its limit ...
    names = [f"guess{n}" for n in range(8)]
    assert [attempt(n, "wrong") for n in names] == ["failed"] * 8  # 11 failures from the office now
    assert attempt("guess0", "wrong") == "throttled"
    # ... while a colleague who has not failed there still signs in.
    assert attempt("ny", PASSWORD) == "ok"
    services.engine.dispose()
