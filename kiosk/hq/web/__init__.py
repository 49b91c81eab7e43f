"""Headquarters' own web app (``kiosk hq serve``): the fleet, and more to come, for staff.

- ``common``: sessions, the guard (CSRF, Origin, roles), the page frame, the audit log;
- ``sign_in``: signing in and out;
- ``fleet``: every kiosk red, amber or green, and one kiosk's history;
- ``reach``: visits and guide views by month, kiosk, country, language, channel, journey
  step, resilience dimension and support type, under the k rule; each table as CSV;
- ``needs``: what people looked for and did not find, merged, and editors' marks on it;
- ``content``: the guide × language matrix and the help lines to check again first;
- ``releases``: candidates opened as kiosks show them, published, withdrawn.

It reads headquarters' root (hq.db, releases/, staff.db) and serves nothing to kiosks or
visitors. Every page is server-rendered HTML that works without JavaScript; charts are SVG
drawn on the server. Staff sign in with their own accounts (kiosk.hq.accounts).
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from kiosk.device.web.admin_sessions import Sessions
from kiosk.hq.accounts import Accounts
from kiosk.hq.web.state import KEY, Headquarters

IDLE_MINUTES = 30
SESSION_HOURS = 10  # a working day
MAX_SIGNED_IN = 500  # staff, each with a few browsers


def create_hq_app(
    root: str | Path,
    accounts: Accounts | None = None,
    content: str | Path | None = None,
    trusted: list | None = None,
) -> Flask:
    """The app on headquarters' ``root``; ``content`` is the content source staff edit, and
    ``trusted`` the public keys releases must be signed with (to check, preview, publish)."""
    from kiosk.hq.releases import Previews

    root = Path(root)
    app = Flask(__name__, static_folder=None, template_folder=str(Path(__file__).parent.parent
                                                                  / "templates"))  # fmt: skip
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, TEMPLATES_AUTO_RELOAD=False)
    app.config["HQ_CONTENT"] = str(content) if content else None
    app.config["HQ_TRUSTED"] = list(trusted or [])
    app.extensions[KEY] = Headquarters(
        root=root,
        previews=Previews(app.config["HQ_TRUSTED"]),
        accounts=accounts or Accounts(root),
        sessions=Sessions(IDLE_MINUTES * 60, SESSION_HOURS * 3600, max_signed_in=MAX_SIGNED_IN),
    )
    logging.getLogger("werkzeug").disabled = True  # staff's addresses are nobody's business

    from kiosk.hq.web import (  # noqa: F401 - routes
        common,
        content,
        fleet,
        needs,
        reach,
        releases,
        sign_in,
    )

    app.register_blueprint(common.hq)
    return app
