"""Headquarters' staff: their accounts and roles, and the audit log of what they did.

Accounts live in ``staff.db`` in headquarters' root (readable by its owner only), apart from
the figures in hq.db. Passwords are Argon2id hashes with the librarian's parameters, and
sign-ins go through the librarian's throttle (kiosk.device.admin.Auth): at most 100 wrong tries an
hour per account name (and one more bucket for names nobody has), so guessing at one account
never locks the others out. There is no default account and no default password: the first
one is made on the command line (``kiosk hq user add NAME --role admin``).

Roles, each allowed what those before it may do:

- ``viewer``: the reports (fleet, reach, needs, content);
- ``publisher``: also publish and withdraw releases, and mark unmet needs;
- ``admin``: also accounts and kiosks.
"""

from __future__ import annotations

import datetime as dt
import os
import re

from kiosk.device.admin import HASHER, MIN_PASSWORD, THROTTLE_SCHEMA, Auth
from kiosk.errors import KioskError

ROLES = ("viewer", "publisher", "admin")
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")
SCHEMA = (
    *THROTTLE_SCHEMA,
    "CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
    "hash TEXT NOT NULL, created TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, "
    "who TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)",
)


def may(role: str | None, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (roles are ordered)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


class Accounts(Auth):
    schema = SCHEMA
    db_name = "staff.db"

    def _connect(self):
        fresh = not self.db_path.exists()
        conn = super()._connect()
        if fresh:
            os.chmod(self.db_path, 0o600)  # password hashes: for headquarters' own user only
        return conn

    # ---------------------------------------------------------------- accounts

    @staticmethod
    def _checked(name: str, role: str | None = None, password: str | None = None) -> None:
        if not NAME.fullmatch(name):
            raise KioskError(
                "An account name uses a-z, 0-9, '.', '_' and '-' (up to 40 characters)."
            )
        if role is not None and role not in ROLES:
            raise KioskError(f"A role is one of: {', '.join(ROLES)}.")
        if password is not None and len(password) < MIN_PASSWORD:
            raise KioskError(f"The password needs at least {MIN_PASSWORD} characters.")
        if password is not None and "\0" in password:
            raise KioskError("The password cannot contain a NUL character.")

    def add(self, name: str, role: str, password: str, by: str = "command line") -> None:
        self._checked(name, role, password)
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM accounts WHERE name = ?", [name]).fetchone():
                conn.execute("ROLLBACK")
                raise KioskError(f"There is already an account called {name}.")
            conn.execute(
                "INSERT INTO accounts VALUES (?, ?, ?, ?)",
                [name, role, HASHER.hash(password), _now()],
            )
            self._audit(conn, by, "add account", f"{name} ({role})")
            conn.execute("COMMIT")
        finally:
            conn.close()

    def set_password(self, name: str, password: str, by: str = "command line") -> None:  # type: ignore[override]
        self._checked(name, password=password)
        self._update(name, "hash = ?", [HASHER.hash(password)], by, "set password", name)

    def set_role(self, name: str, role: str, by: str) -> None:
        self._checked(name, role)
        self._update(name, "role = ?", [role], by, "set role", f"{name} ({role})")

    def remove(self, name: str, by: str) -> None:
        self._checked(name)
        conn = self._connect()
        try:
            if not conn.execute("DELETE FROM accounts WHERE name = ?", [name]).rowcount:
                raise KioskError(f"There is no account called {name}.")
            self._audit(conn, by, "remove account", name)
        finally:
            conn.close()

    def _update(self, name: str, what: str, values: list, by: str, action: str, detail: str):
        conn = self._connect()
        try:
            changed = conn.execute(
                f"UPDATE accounts SET {what} WHERE name = ?",  # noqa: S608 - our own text
                [*values, name],
            ).rowcount
            if not changed:
                raise KioskError(f"There is no account called {name}.")
            self._audit(conn, by, action, detail)
        finally:
            conn.close()

    def _rows(self, sql: str, args: list | tuple = ()) -> list[tuple]:
        conn = self._connect()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def role_of(self, name: str) -> str | None:
        rows = self._rows("SELECT role FROM accounts WHERE name = ?", [name])
        return rows[0][0] if rows else None

    def accounts(self) -> list[dict]:
        rows = self._rows("SELECT name, role, created FROM accounts ORDER BY name")
        return [dict(zip(("name", "role", "created"), r, strict=True)) for r in rows]

    def has_password(self) -> bool:
        """Whether anybody can sign in at all (the page says how to make the first account)."""
        return bool(self._rows("SELECT 1 FROM accounts LIMIT 1"))

    def stored_hash(self, user: str) -> str | None:
        rows = self._rows("SELECT hash FROM accounts WHERE name = ?", [user])
        return rows[0][0] if rows else None

    def sign_in(self, name: str, password: str) -> str | None:
        """The account's role when the name and password are right, else None.

        Raises kiosk.device.admin.Throttled after 100 wrong tries in an hour at that name.
        """
        known = NAME.fullmatch(name) is not None and self.stored_hash(name) is not None
        source = f"account:{name}" if known else "account:?"
        if not self.check(name, password, source):
            return None
        role = self.role_of(name)
        self.log(name, "sign in", "")
        return role

    # ---------------------------------------------------------------- audit log

    @staticmethod
    def _audit(conn, who: str, action: str, detail: str) -> None:
        conn.execute(
            "INSERT INTO audit (at, who, action, detail) VALUES (?, ?, ?, ?)",
            [_now(), who, action, detail],
        )

    def log(self, who: str, action: str, detail: str) -> None:
        """Write one line of the audit log: who did what, when."""
        conn = self._connect()
        try:
            self._audit(conn, who, action, detail)
        finally:
            conn.close()

    def audit(self, limit: int = 200) -> list[dict]:
        rows = self._rows(
            "SELECT at, who, action, detail FROM audit ORDER BY id DESC LIMIT ?", [limit]
        )
        return [dict(zip(("at", "who", "action", "detail"), r, strict=True)) for r in rows]


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
