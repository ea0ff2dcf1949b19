"""Accounts after they were added: `vaern user list | remove | passwd | role` and the same for admins
in the app; every change audited, sign-ins of a changed account ended, the last admin kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from tests.review.conftest import LiveServer, csrf_of, sign_in
from tests.review.seeding import PASSWORD, World, build_world
from vaern.cli import main
from vaern.review.webapp import create_app
from vaern.storage.db import make_engine, session_factory
from vaern.storage.tables import AuditRow, UserRow


def _config_file(world: World, root: Path) -> Path:
    data = world.config.model_dump(mode="json", exclude={"source"})
    path = root / "vaern.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _cli(path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(main, ["-c", str(path), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _audit(world: World) -> list[AuditRow]:
    engine = make_engine(world.config.database)
    with session_factory(engine)() as db:
        rows = list(db.scalars(select(AuditRow).order_by(AuditRow.id)))
    engine.dispose()
    return rows


def _users(world: World) -> dict[str, UserRow]:
    engine = make_engine(world.config.database)
    with session_factory(engine)() as db:
        rows = {u.username: u for u in db.scalars(select(UserRow))}
    engine.dispose()
    return rows


def test_vaern_user_list_remove_passwd_role(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    path = _config_file(world, tmp_path)
    code, out = _cli(path, "user", "list", "--json")
    assert code == 0, out
    listed = {u["name"]: u for u in json.loads(out)}
    assert listed["lene"]["role"] == "leader" and listed["lene"]["units"] == ["boern-familie"]
    assert set(listed) == {"admin", "analytiker", "lene", "jens"}
    code, out = _cli(path, "user", "list")
    assert code == 0 and "lene" in out and "leader   (boern-familie)" in out

    env = {"NEW_PW": "a brand new passphrase"}
    assert _cli(path, "user", "passwd", "jens", "--password-env", "NEW_PW", env=env)[0] == 0
    assert _cli(path, "user", "role", "jens", "leader", "--unit", "jobcenter", "--unit", "boern-familie")[0] == 0
    assert _users(world)["jens"].units == ["boern-familie", "jobcenter"]
    assert _cli(path, "user", "role", "analytiker", "admin")[0] == 0
    assert _cli(path, "user", "remove", "lene")[0] == 0
    assert "lene" not in _users(world)

    # Refusals are bad usage (exit 2) and change nothing.
    code, out = _cli(path, "user", "role", "jens", "leader")
    assert code == 2 and "a leader needs at least one unit" in out
    code, out = _cli(path, "user", "remove", "nobody")
    assert code == 2 and "no user named 'nobody'" in out
    code, out = _cli(path, "user", "passwd", "jens", "--password-env", "SHORT", env={"SHORT": "short"})
    assert code == 2 and "at least 8 characters" in out
    assert _cli(path, "user", "role", "admin", "analyst")[0] == 0  # analytiker is an admin now
    code, out = _cli(path, "user", "remove", "analytiker")
    assert code == 2 and "'analytiker' is the last admin" in out

    actions = [(a.action, a.detail.get("user")) for a in _audit(world) if a.action.startswith("user_")]
    assert actions == [
        ("user_password", "jens"), ("user_role", "jens"), ("user_role", "analytiker"), ("user_remove", "lene"),
        ("user_role", "admin"),
    ]
    assert all(a.username.startswith("cli") for a in _audit(world) if a.action.startswith("user_"))
    role = next(a for a in _audit(world) if a.action == "user_role")
    assert role.detail["before"] == {"role": "leader", "units": ["jobcenter"]}
    assert "a brand new passphrase" not in json.dumps([a.detail for a in _audit(world)])


@pytest.fixture
def accounts_world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def test_admins_manage_accounts_in_the_app(accounts_world: World) -> None:
    world = accounts_world
    with LiveServer(create_app(world.config)) as live:
        jens = sign_in(live.url, "jens")
        assert jens.get("/hits").status_code == 200
        admin = sign_in(live.url, "admin")
        page = admin.get("/admin/users")
        assert page.status_code == 200 and 'data-user="lene"' in page.text
        csrf = csrf_of(page.text)

        def post(path: str, **data: object) -> httpx.Response:
            return admin.post(path, data={"csrf": csrf, **data})  # type: ignore[dict-item]

        assert post("/admin/users/jens/role", role="analyst").status_code == 303
        assert jens.get("/hits").status_code == 303  # his sign-in ended with the change
        assert post("/admin/users/lene/password", password="another good one").status_code == 303
        sign_in(live.url, "lene", "another good one").close()
        refused = post("/admin/users/jens/role", role="leader")
        assert refused.status_code == 400 and "a leader needs at least one unit" in refused.text
        assert post("/admin/users/add", username="ny", role="leader", units="jobcenter",
                    password="correct horse battery").status_code == 303
        assert post("/admin/users/ny/remove").status_code == 303
        last = post("/admin/users/admin/remove")
        assert last.status_code == 400 and "is the last admin" in last.text
        # Other roles cannot reach any of it.
        analyst = sign_in(live.url, "analytiker")
        form = csrf_of(analyst.get("/hits").text)
        assert analyst.post("/admin/users/lene/remove", data={"csrf": form}).status_code == 404
    users = _users(world)
    assert users["jens"].role == "analyst" and "ny" not in users and "lene" in users
    actions = [(a.username, a.action, a.detail.get("user")) for a in _audit(world) if a.action.startswith("user_")]
    assert actions == [
        ("admin", "user_role", "jens"), ("admin", "user_password", "lene"), ("admin", "user_add", "ny"),
        ("admin", "user_remove", "ny"),
    ]


def test_the_accounts_page_is_for_admins_only(world: World, client_as: Callable[[str], httpx.Client]) -> None:
    assert client_as("lene").get("/admin/users").status_code == 404
    assert PASSWORD not in client_as("admin").get("/admin/users").text
