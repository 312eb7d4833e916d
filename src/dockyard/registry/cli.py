"""``dockyard registry``: serve, gc, and account management (user, org, team, grant, repo, robot).

Glue only: the behaviour lives in server.py, gc.py and auth/accounts.py. Account commands work on
the SQLite file directly (``--accounts``, default <storage>/accounts.db), the way
``docker-registry``'s htpasswd file is edited beside a running registry.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.registry import config

PROG = "dockyard registry"


def _common_storage(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML settings file (names as in dockyard.registry.config)")
    p.add_argument("--storage", help=f"folder or s3://bucket/prefix (default {config.DEFAULT_STORAGE})")
    p.add_argument("--s3-endpoint", dest="s3_endpoint", help="S3 endpoint URL (default: AWS's)")
    p.add_argument("--accounts", help="accounts SQLite file (default <storage>/accounts.db)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="An OCI distribution registry with accounts.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="run the registry server")
    _common_storage(s)
    s.add_argument("--addr", help="HOST:PORT to listen on (default 127.0.0.1:5000)")
    s.add_argument("--tls-cert", dest="tls_cert")
    s.add_argument("--tls-key", dest="tls_key")
    s.add_argument("--token-key", dest="token_key", help="PEM key that signs tokens (made if missing)")
    s.add_argument("--read-only", dest="read_only", action="store_true", default=None)
    s.add_argument(
        "--no-auth",
        dest="auth",
        action="store_false",
        default=None,
        help="no accounts: anyone may pull and push (the reference registry's default)",
    )
    s.add_argument(
        "--no-fsync",
        dest="fsync",
        action="store_false",
        default=None,
        help="do not fsync blobs before publishing them (faster, not crash-safe)",
    )
    s.add_argument("--workers", type=int, help="server processes sharing the port (default: one per CPU)")
    s.add_argument("--log-level", default="INFO")

    g = sub.add_parser("gc", help="remove blobs no manifest references (safe while pushes go on)")
    _common_storage(g)
    g.add_argument("--dry-run", action="store_true")
    g.add_argument("--delete-untagged", action="store_true", help="also remove manifests no tag reaches")
    g.add_argument("--grace", type=float, help="seconds: newer blobs and uploads are kept (default 3600)")

    u = sub.add_parser("user", help="user accounts: add, passwd, rm, ls")
    _common_storage(u)
    us = u.add_subparsers(dest="action", required=True)
    ua = us.add_parser("add")
    ua.add_argument("name")
    ua.add_argument("--admin", action="store_true", help="site administrator")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    up = us.add_parser("passwd")
    up.add_argument("name")
    up.add_argument("--password-stdin", action="store_true")
    us.add_parser("rm").add_argument("name")
    us.add_parser("ls")

    o = sub.add_parser("org", help="organizations: add ORG --owner USER, rm, ls")
    _common_storage(o)
    os_ = o.add_subparsers(dest="action", required=True)
    oa = os_.add_parser("add")
    oa.add_argument("name")
    oa.add_argument("--owner", required=True, help="user put in the org's owners team")
    os_.add_parser("rm").add_argument("name")
    os_.add_parser("ls")

    t = sub.add_parser("team", help="teams of an organization: add ORG TEAM, member ORG TEAM USER [--remove]")
    _common_storage(t)
    ts = t.add_subparsers(dest="action", required=True)
    ta = ts.add_parser("add")
    ta.add_argument("org")
    ta.add_argument("team")
    tm = ts.add_parser("member")
    tm.add_argument("org")
    tm.add_argument("team")
    tm.add_argument("user")
    tm.add_argument("--remove", action="store_true")

    gr = sub.add_parser("grant", help="give a user or ORG/TEAM pull, push or admin on a repository")
    _common_storage(gr)
    gr.add_argument("repository")
    gr.add_argument("grantee", help="USER or ORG/TEAM")
    gr.add_argument("level", choices=["pull", "push", "admin", "none"])

    r = sub.add_parser("repo", help="make a repository public or private")
    _common_storage(r)
    r.add_argument("repository")
    r.add_argument("visibility", choices=["public", "private"])

    rb = sub.add_parser("robot", help="robot (CI) accounts: add OWNER NAME --access LEVEL, rm, ls")
    _common_storage(rb)
    rbs = rb.add_subparsers(dest="action", required=True)
    rba = rbs.add_parser("add")
    rba.add_argument("owner", help="user or organization whose repositories the robot reaches")
    rba.add_argument("name")
    rba.add_argument("--access", choices=["pull", "push"], default="pull")
    rbr = rbs.add_parser("rm", help="revoke: its token and every JWT issued to it stop working at once")
    rbr.add_argument("robot", help="OWNER+NAME")
    rbs.add_parser("ls").add_argument("owner", nargs="?")
    return parser


def _settings(args: argparse.Namespace, *names: str) -> config.Settings:
    overrides: dict[str, Any] = {
        n: getattr(args, n, None) for n in ("storage", "s3_endpoint", "accounts", *names)
    }
    return config.load(getattr(args, "config", None), overrides)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        pw = sys.stdin.readline().rstrip("\n")
    else:
        pw = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != pw:
            raise InvalidArgument("the two passwords differ: type the same password twice")
    return pw


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from dockyard.registry import server

        settings = _settings(
            args, "addr", "tls_cert", "tls_key", "token_key", "read_only", "auth", "fsync", "workers"
        )
        server.setup_logging(args.log_level.upper())
        server.run(settings)
        return 0
    if args.command == "gc":
        from dockyard.registry import gc
        from dockyard.registry.storage import open_driver

        settings = _settings(args)
        grace = args.grace if args.grace is not None else settings.upload_grace
        driver = open_driver(settings.storage, s3_endpoint=settings.s3_endpoint)
        report = gc.collect(driver, dry_run=args.dry_run, delete_untagged=args.delete_untagged, grace=grace)
        print(json.dumps(report.summary(), indent=2))
        return 0
    from dockyard.registry.auth.accounts import Accounts

    settings = _settings(args)
    accounts = Accounts(settings.accounts_path(), bcrypt_rounds=settings.bcrypt_rounds)
    try:
        return _accounts_command(args, accounts)
    finally:
        accounts.close()


def _accounts_command(args: argparse.Namespace, a: Any) -> int:
    cmd, action = args.command, getattr(args, "action", None)
    if cmd == "user":
        if action == "add":
            a.add_user(args.name, _password(args), admin=args.admin)
        elif action == "passwd":
            a.set_password(args.name, _password(args))
        elif action == "rm":
            a.remove_user(args.name)
        else:
            for u in a.list_users():
                print(f"{u['name']}\t{'admin' if u['admin'] else 'user'}")
    elif cmd == "org":
        if action == "add":
            a.add_org(args.name, owner=args.owner)
        elif action == "rm":
            a.remove_user(args.name)
        else:
            for o in a.list_orgs():
                print(o)
    elif cmd == "team":
        if action == "add":
            a.add_team(args.org, args.team)
        elif args.remove:
            a.remove_member(args.org, args.team, args.user)
        else:
            a.add_member(args.org, args.team, args.user)
    elif cmd == "grant":
        a.grant(args.repository, args.grantee, args.level)
    elif cmd == "repo":
        a.set_public(args.repository, args.visibility == "public")
    elif cmd == "robot":
        if action == "add":
            name, token = a.add_robot(args.owner, args.name, args.access)
            print(f"{name}\n{token}")
        elif action == "rm":
            a.remove_robot(args.robot)
        else:
            for r in a.list_robots(args.owner):
                print(f"{r['name']}\t{r['access']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _run(args)
    except DockyardError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
