"""Users, organizations and their teams, robots, grants and repository visibility.

Who may do what (``level``): 0 nothing, 1 pull, 2 push, 3 admin.

- a site administrator: 3 everywhere;
- a user: 3 on ``<user>/*``; in an organization's ``owners`` team: 3 on ``<org>/*``;
- grants: a user (collaborator) or ``ORG/TEAM`` gets a level on one repository, or on every
  repository of a namespace with ``<ns>/*``;
- a robot (``OWNER+NAME``): its fixed level on ``<owner>/*`` and nothing else;
- anyone, signed in or not: 1 on a public repository. Repositories are private until made public.

Passwords are hashed with bcrypt. Robot tokens are 32 random bytes, stored as their SHA-256
(a secret with that much entropy needs no slow hash), so checking one is a single lookup and a
removed robot fails on its very next request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

import bcrypt

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.registry.auth.db import Database
from dockyard.registry.names import NAME_RE, namespace

NONE, PULL, PUSH, ADMIN = 0, 1, 2, 3
LEVELS = {"none": NONE, "pull": PULL, "push": PUSH, "admin": ADMIN}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
OWNERS = "owners"
_ACCOUNT = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_TEAM = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_PASSWORD = 72  # bcrypt reads at most 72 bytes


def _check_account_name(name: str) -> str:
    if not _ACCOUNT.fullmatch(name) or len(name) > 64:
        raise InvalidArgument(
            f"invalid account name {name!r}: use up to 64 lowercase letters and digits, "
            "with single . _ or - between them (it becomes a repository namespace)"
        )
    return name


def _check_password(pw: str) -> bytes:
    raw = pw.encode()
    if len(raw) < 8:
        raise InvalidArgument("password is shorter than 8 characters: choose a longer one")
    if len(raw) > MAX_PASSWORD:
        raise InvalidArgument(
            f"password is longer than {MAX_PASSWORD} bytes (bcrypt's limit): choose a shorter one"
        )
    return raw


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    def __init__(self, path: str, *, bcrypt_rounds: int = 12) -> None:
        self.db = Database(path)
        self.rounds = bcrypt_rounds
        self._dummy: bytes | None = None

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ users and orgs

    def add_user(self, name: str, password: str, *, admin: bool = False) -> None:
        _check_account_name(name)
        hashed = bcrypt.hashpw(_check_password(password), bcrypt.gensalt(self.rounds)).decode()
        if self.db.one("SELECT 1 FROM accounts WHERE name = ?", name):
            raise Conflict(f"account {name!r} exists already: choose another name or `user passwd {name}`")
        self.db.query(
            "INSERT INTO accounts (name, kind, password_hash, admin, created) VALUES (?, 'user', ?, ?, ?)",
            name,
            hashed,
            int(admin),
            time.time(),
        )

    def set_password(self, name: str, password: str) -> None:
        hashed = bcrypt.hashpw(_check_password(password), bcrypt.gensalt(self.rounds)).decode()
        self._user(name)
        self.db.query("UPDATE accounts SET password_hash = ? WHERE name = ?", hashed, name)
        self.db.query("DELETE FROM refresh_tokens WHERE account = ?", name)
        self.db.query("DELETE FROM web_sessions WHERE account = ?", name)

    def remove_user(self, name: str) -> None:
        """Remove a user or an organization; their robots, sessions and grants go with them."""
        if not self.db.one("SELECT 1 FROM accounts WHERE name = ?", name):
            raise NotFound(f"no account {name!r}: `dockyard registry user ls` lists them")
        with self.db.transaction() as c:
            c.execute("DELETE FROM accounts WHERE name = ?", (name,))
            c.execute("DELETE FROM grants WHERE grantee = ? OR grantee LIKE ?", (name, f"{name}/%"))
            c.execute("DELETE FROM refresh_tokens WHERE account = ?", (name,))
            c.execute("DELETE FROM web_sessions WHERE account = ?", (name,))

    def list_users(self) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT name, admin FROM accounts WHERE kind = 'user' ORDER BY name")
        return [{"name": r["name"], "admin": bool(r["admin"])} for r in rows]

    def _user(self, name: str) -> Any:
        row = self.db.one("SELECT * FROM accounts WHERE name = ? AND kind = 'user'", name)
        if row is None:
            raise NotFound(f"no user {name!r}: add one with `dockyard registry user add {name}`")
        return row

    def user_row(self, name: str) -> Any:
        return self.db.one("SELECT * FROM accounts WHERE name = ? AND kind = 'user'", name)

    def check_password(self, name: str, password: str) -> bool:
        """bcrypt check (slow on purpose: call it off the event loop)."""
        row = self.user_row(name)
        raw = password.encode()
        if row is None or not row["password_hash"] or len(raw) > MAX_PASSWORD:
            # Same work for an unknown name, so timing does not tell which names exist.
            if self._dummy is None:
                self._dummy = bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(self.rounds))
            bcrypt.checkpw(b"x", self._dummy)
            return False
        return bcrypt.checkpw(raw, row["password_hash"].encode())

    def is_admin(self, name: str) -> bool:
        row = self.user_row(name)
        return bool(row and row["admin"])

    def add_org(self, name: str, *, owner: str) -> None:
        _check_account_name(name)
        self._user(owner)
        if self.db.one("SELECT 1 FROM accounts WHERE name = ?", name):
            raise Conflict(f"account {name!r} exists already: choose another organization name")
        with self.db.transaction() as c:
            c.execute("INSERT INTO accounts (name, kind, created) VALUES (?, 'org', ?)", (name, time.time()))
            c.execute("INSERT INTO teams (org, team) VALUES (?, ?)", (name, OWNERS))
            c.execute("INSERT INTO team_members (org, team, user) VALUES (?, ?, ?)", (name, OWNERS, owner))

    def list_orgs(self) -> list[str]:
        return [
            r["name"] for r in self.db.query("SELECT name FROM accounts WHERE kind = 'org' ORDER BY name")
        ]

    def _org(self, org: str) -> None:
        if not self.db.one("SELECT 1 FROM accounts WHERE name = ? AND kind = 'org'", org):
            raise NotFound(
                f"no organization {org!r}: add one with `dockyard registry org add {org} --owner USER`"
            )

    def add_team(self, org: str, team: str) -> None:
        self._org(org)
        if not _TEAM.fullmatch(team):
            raise InvalidArgument(f"invalid team name {team!r}: use lowercase letters, digits, _ and -")
        if self.db.one("SELECT 1 FROM teams WHERE org = ? AND team = ?", org, team):
            raise Conflict(f"team {org}/{team} exists already")
        self.db.query("INSERT INTO teams (org, team) VALUES (?, ?)", org, team)

    def _team(self, org: str, team: str) -> None:
        if not self.db.one("SELECT 1 FROM teams WHERE org = ? AND team = ?", org, team):
            raise NotFound(f"no team {org}/{team}: add it with `dockyard registry team add {org} {team}`")

    def add_member(self, org: str, team: str, user: str) -> None:
        self._team(org, team)
        self._user(user)
        self.db.query(
            "INSERT OR IGNORE INTO team_members (org, team, user) VALUES (?, ?, ?)", org, team, user
        )

    def remove_member(self, org: str, team: str, user: str) -> None:
        self.db.query("DELETE FROM team_members WHERE org = ? AND team = ? AND user = ?", org, team, user)

    def teams_of(self, user: str) -> list[str]:
        rows = self.db.query("SELECT org, team FROM team_members WHERE user = ?", user)
        return [f"{r['org']}/{r['team']}" for r in rows]

    # ------------------------------------------------------------------ repositories

    def grant(self, repo: str, grantee: str, level: str) -> None:
        if level not in LEVELS:
            raise InvalidArgument(f"invalid level {level!r}: use pull, push, admin or none")
        self._check_repo_pattern(repo)
        if "/" in grantee:
            org, team = grantee.split("/", 1)
            self._team(org, team)
        else:
            self._user(grantee)
        if LEVELS[level] == NONE:
            self.db.query("DELETE FROM grants WHERE repo = ? AND grantee = ?", repo, grantee)
        else:
            self.db.query(
                "INSERT INTO grants (repo, grantee, level) VALUES (?, ?, ?) "
                "ON CONFLICT (repo, grantee) DO UPDATE SET level = excluded.level",
                repo,
                grantee,
                LEVELS[level],
            )

    def grants_on(self, repo: str) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT grantee, level FROM grants WHERE repo = ? ORDER BY grantee", repo)
        return [{"grantee": r["grantee"], "level": LEVEL_NAMES[r["level"]]} for r in rows]

    @staticmethod
    def _check_repo_pattern(repo: str) -> None:
        base = repo[:-2] if repo.endswith("/*") else repo
        if not NAME_RE.fullmatch(base):
            raise InvalidArgument(f"invalid repository {repo!r}: give NAMESPACE/NAME or NAMESPACE/*")

    def set_public(self, repo: str, public: bool) -> None:
        self._check_repo_pattern(repo)
        self.db.query(
            "INSERT INTO repos (name, public) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET public = excluded.public",
            repo,
            int(public),
        )

    def is_public(self, repo: str) -> bool:
        row = self.db.one("SELECT public FROM repos WHERE name = ?", repo)
        return bool(row and row["public"])

    def public_repos(self) -> set[str]:
        return {r["name"] for r in self.db.query("SELECT name FROM repos WHERE public = 1")}

    def level(self, account: str | None, kind: str, repo: str) -> int:
        """What ``account`` (a user, a robot, or None) may do on ``repo``: see the module doc."""
        public = PULL if self.is_public(repo) else NONE
        if account is None:
            return public
        ns = namespace(repo)
        if kind == "robot":
            row = self.db.one("SELECT owner, level FROM robots WHERE name = ?", account)
            if row is None:
                return NONE
            return max(public, row["level"] if row["owner"] == ns else NONE)
        user = self.user_row(account)
        if user is None:
            return NONE
        if user["admin"] or account == ns:
            return ADMIN
        teams = self.teams_of(account)
        if f"{ns}/{OWNERS}" in teams:
            return ADMIN
        grantees = [account, *teams]
        marks = ",".join("?" * len(grantees))
        row = self.db.one(
            f"SELECT MAX(level) AS level FROM grants WHERE repo IN (?, ?) AND grantee IN ({marks})",
            repo,
            f"{ns}/*",
            *grantees,
        )
        granted = row["level"] if row and row["level"] is not None else NONE
        return max(public, granted)

    # ------------------------------------------------------------------ robots

    def add_robot(self, owner: str, name: str, access: str) -> tuple[str, str]:
        """Create ``OWNER+NAME``; returns (name, token). The token is shown once, stored hashed."""
        if not self.db.one("SELECT 1 FROM accounts WHERE name = ?", owner):
            raise NotFound(f"no user or organization {owner!r} to own the robot")
        _check_account_name(name)
        if access not in ("pull", "push"):
            raise InvalidArgument(f"invalid robot access {access!r}: use pull or push")
        full = f"{owner}+{name}"
        token = secrets.token_urlsafe(32)
        if self.db.one("SELECT 1 FROM robots WHERE name = ?", full):
            raise Conflict(f"robot {full} exists already: remove it first to issue a new token")
        self.db.query(
            "INSERT INTO robots (name, owner, level, secret_hash, created) VALUES (?, ?, ?, ?, ?)",
            full,
            owner,
            LEVELS[access],
            secret_hash(token),
            time.time(),
        )
        return full, token

    def remove_robot(self, name: str) -> None:
        if not self.db.one("SELECT 1 FROM robots WHERE name = ?", name):
            raise NotFound(f"no robot {name!r}: `dockyard registry robot ls` lists them")
        self.db.query("DELETE FROM robots WHERE name = ?", name)
        self.db.query("DELETE FROM refresh_tokens WHERE account = ?", name)

    def list_robots(self, owner: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT name, level FROM robots WHERE (? IS NULL OR owner = ?) ORDER BY name", owner, owner
        )
        return [{"name": r["name"], "access": LEVEL_NAMES[r["level"]]} for r in rows]

    def check_robot(self, name: str, token: str) -> bool:
        row = self.db.one("SELECT secret_hash FROM robots WHERE name = ?", name)
        return row is not None and secrets.compare_digest(row["secret_hash"], secret_hash(token))

    def robot_exists(self, name: str) -> bool:
        return self.db.one("SELECT 1 FROM robots WHERE name = ?", name) is not None

    def account_exists(self, name: str, kind: str) -> bool:
        if kind == "robot":
            return self.robot_exists(name)
        return self.user_row(name) is not None
