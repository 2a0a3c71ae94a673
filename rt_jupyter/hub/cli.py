"""``rt-jupyter hub-service``: run the hub service (JupyterHub starts it as a managed service).

``rt-jupyter`` registers it with ``add_parser(subparsers)``; ``python -m rt_jupyter.hub`` runs it
alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._cli import until_stopped

__all__ = ["add_parser", "main", "run"]

HELP = "run the JupyterHub service that holds the API key and mints keys for Hub users"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``hub-service`` subcommand to an ``add_subparsers()`` object; its ``func``
    default runs it."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "hub-service", help=HELP, description=__doc__
    )
    _arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a Python config file: c.RealtimeExtension.* (key, base URL, models, policy) and "
        "c.HubService.* (database URL, quotas)",
    )
    parser.add_argument(
        "--db-url", default=None, help="SQLAlchemy URL of the database (c.HubService.db_url)"
    )
    parser.add_argument(
        "--url",
        default=None,
        help="where to listen (default $JUPYTERHUB_SERVICE_URL, set by JupyterHub)",
    )
    parser.add_argument(
        "--ip",
        default=None,
        help="interface to bind (default: the host of the URL; on Kubernetes, where the URL "
        "names the hub's Service, 0.0.0.0)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def run(args: argparse.Namespace) -> int:
    """Run the service until SIGINT/SIGTERM."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="[%(levelname)s %(asctime)s %(name)s] %(message)s",
    )
    return asyncio.run(_serve(args))


def _config(path: str | None) -> Any:
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    if not path:
        return Config()
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"rt-jupyter hub-service: no config file {path!r}")
    return PyFileConfigLoader(file.name, path=str(file.parent)).load_config()


async def _serve(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from traitlets import TraitError

    from ..config import scrub
    from .service import Minter, make_app

    url = args.url or os.environ.get("JUPYTERHUB_SERVICE_URL")
    if not url:
        raise SystemExit(
            "rt-jupyter hub-service: no address: run it from JupyterHub (c.JupyterHub.services "
            "with a 'url') or pass --url http://127.0.0.1:PORT"
        )
    parts = urlsplit(url)
    name = os.environ.get("JUPYTERHUB_SERVICE_NAME") or "rt-jupyter"
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or f"/services/{name}/"
    try:
        minter = Minter(_config(args.config), name=name, db_url=args.db_url)
    except (ValueError, TraitError, SQLAlchemyError, ImportError) as exc:
        raise SystemExit(f"rt-jupyter hub-service: {scrub(str(exc))}") from None
    app = make_app(minter, prefix)
    address = args.ip or parts.hostname or "127.0.0.1"
    server = app.listen(parts.port or 80, address=address)
    logging.getLogger("rt_jupyter.hub").info(
        "rt-jupyter hub-service %s: %s%s, database %s, upstream %s",
        name,
        url.rstrip("/"),
        prefix,
        _safe_url(minter.store.url),
        urlsplit(minter.ext.resolved_base_url).hostname,
    )
    await until_stopped()
    server.stop()
    minter.store.close()
    return 0


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m rt_jupyter.hub [options]``."""
    parser = argparse.ArgumentParser(prog="rt-jupyter hub-service", description=__doc__)
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
