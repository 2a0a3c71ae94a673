"""The JupyterHub service that holds the standard key (``rt-jupyter hub-service``): it mints
ephemeral keys for Hub users authenticated with JupyterHub's own tokens, under the admin policy,
per-user and per-group quotas kept in a database, with an audit log and an admin page.

Users' Jupyter servers find it through ``$RT_JUPYTER_HUB_SERVICE_URL`` (set by the admin in
``c.Spawner.environment``) and mint through it with their ``$JUPYTERHUB_API_TOKEN``; no user
server, kernel or browser holds the standard key.
"""

from __future__ import annotations

__all__: list[str] = []
