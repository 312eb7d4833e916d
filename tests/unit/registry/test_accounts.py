"""Who may do what: the rights table of accounts.py, and robots, passwords, sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.registry.auth.accounts import ADMIN, NONE, PULL, PUSH, Accounts
from dockyard.registry.auth.sessions import Sessions


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    a = Accounts(str(tmp_path / "accounts.db"), bcrypt_rounds=4)
    for user in ("alice", "bob", "carol", "root"):
        a.add_user(user, f"{user}-password", admin=user == "root")
    a.add_org("acme", owner="alice")
    a.add_team("acme", "dev")
    a.add_member("acme", "dev", "carol")
    return a


def test_rights_table(accounts: Accounts) -> None:
    a = accounts
    assert a.level("alice", "user", "alice/app") == ADMIN
    assert a.level("bob", "user", "alice/app") == NONE
    assert a.level(None, "anonymous", "alice/app") == NONE
    assert a.level("root", "user", "alice/app") == ADMIN
    assert a.level("alice", "user", "acme/api") == ADMIN  # owners team
    assert a.level("carol", "user", "acme/api") == NONE
    a.grant("acme/*", "acme/dev", "push")
    assert a.level("carol", "user", "acme/api") == PUSH
    a.grant("alice/app", "bob", "pull")
    assert a.level("bob", "user", "alice/app") == PULL
    assert a.level("bob", "user", "alice/other") == NONE
    a.set_public("alice/app", True)
    assert a.level(None, "anonymous", "alice/app") == PULL
    a.grant("alice/app", "bob", "none")
    assert a.level("bob", "user", "alice/app") == PULL  # public still
    assert a.level("carol", "user", "nobody/app") == NONE


def test_robots_are_revocable(accounts: Accounts) -> None:
    name, token = accounts.add_robot("acme", "ci", "push")
    assert name == "acme+ci"
    assert accounts.check_robot(name, token)
    assert not accounts.check_robot(name, token + "x")
    assert accounts.level(name, "robot", "acme/api") == PUSH
    assert accounts.level(name, "robot", "alice/app") == NONE
    accounts.remove_robot(name)
    assert not accounts.check_robot(name, token)
    assert accounts.level(name, "robot", "acme/api") == NONE


def test_passwords_and_errors(accounts: Accounts) -> None:
    assert accounts.check_password("alice", "alice-password")
    assert not accounts.check_password("alice", "wrong")
    assert not accounts.check_password("nobody", "whatever1")
    accounts.set_password("alice", "new-password")
    assert accounts.check_password("alice", "new-password")
    with pytest.raises(Conflict):
        accounts.add_user("alice", "another-pass")
    with pytest.raises(InvalidArgument, match="shorter than 8"):
        accounts.add_user("dave", "short")
    with pytest.raises(InvalidArgument, match="invalid account name"):
        accounts.add_user("Dave!", "long-enough")
    with pytest.raises(NotFound):
        accounts.remove_user("nobody")
    accounts.remove_user("bob")
    assert "bob" not in [u["name"] for u in accounts.list_users()]


def test_sessions_and_refresh_tokens(accounts: Accounts) -> None:
    s = Sessions(accounts)
    token = s.new_refresh_token("alice")
    assert s.refresh_account(token) == "alice"
    assert s.refresh_account("bogus") is None
    sid, csrf = s.new_web_session("alice")
    assert s.web_session(sid) == ("alice", csrf)
    s.end_web_session(sid)
    assert s.web_session(sid) is None
    sid, _ = s.new_web_session("alice")
    accounts.set_password("alice", "changed-password")  # ends sessions and refresh tokens
    assert s.web_session(sid) is None
    assert s.refresh_account(token) is None
