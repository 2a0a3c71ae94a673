"""The hub service under a real JupyterHub (proxy, login page, spawner, OAuth, API tokens): users'
servers mint through it, the standard key stays in the service, quotas hold across two service
processes, and the attacks a user could try from their server or browser fail."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import FrameLog, connect, lab_command, run_all_cells, wait_for_notebook

from .conftest import ATTEMPTS_PER_MINUTE, SERVICE, SERVICE_2, Hub, Upstream, _http

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context(viewport={"width": 1100, "height": 900})
    yield ctx
    ctx.close()


def login(context: Any, hub: Hub, user: str) -> Any:
    """Log ``user`` in through the Hub's login page; returns the page once their server runs."""
    page = context.new_page()
    page.goto(f"{hub.url}hub/login", wait_until="domcontentloaded")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{user}/lab"), timeout=240_000)
    return page


def open_voice_notebook(page: Any, hub: Hub, user: str, frames: FrameLog | None = None) -> None:
    """Open ``voice.ipynb`` in ``user``'s JupyterLab and run it once its kernel is attached."""
    if frames is not None:
        frames.attach(page)
    page.goto(f"{hub.url}user/{user}/lab/tree/voice.ipynb?reset", wait_until="domcontentloaded")
    wait_for_notebook(page, 120_000)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, kernels, _ = _http(f"{hub.url}user/{user}/api/kernels", token=hub.admin_token)
        if status == 200 and any(
            k.get("execution_state") == "idle" and k.get("connections", 0) > 0 for k in kernels
        ):
            break
        time.sleep(0.5)
    else:
        raise TimeoutError(f"no idle kernel for {user}")
    run_all_cells(page)
    page.wait_for_selector(".rtj-connect:not([disabled])", timeout=120_000)


def in_kernel(page: Any, code: str) -> str:
    """Run ``code`` in the kernel of the notebook open in ``page``: its printed output."""
    return str(
        page.evaluate(
            """async (code) => {
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const future = kernel.requestExecute({ code });
                let out = "";
                future.onIOPub = (msg) => {
                    if (msg.header.msg_type === "stream") out += msg.content.text;
                    if (msg.header.msg_type === "error") out += msg.content.evalue;
                };
                await future.done;
                return out;
            }""",
            code,
        )
    )


def is_session(response: Any) -> bool:
    return "/rt-jupyter/session" in response.url


def test_first_user_connects_and_the_key_is_nowhere_in_their_server(
    hub: Hub, upstream: Upstream, context: Any, tmp_path: Path
) -> None:
    frames = FrameLog()
    page = login(context, hub, "alice")
    open_voice_notebook(page, hub, "alice", frames)
    with page.expect_response(is_session, timeout=120_000) as minted:
        connect(page)
    response = minted.value
    assert response.status == 200
    token = response.json()
    assert token["value"].startswith("ek_") and token["sdp_url"].startswith(upstream.base_url)
    # the user's server says where its keys come from, and that it holds none
    status, info, _ = _http(f"{hub.url}user/alice/rt-jupyter/status", token=hub.admin_token)
    assert status == 200 and info["mode"] == "hub" and info["key_configured"] is False
    # and %rt doctor in the user's kernel reaches that server (authenticated as the server)
    report = in_kernel(page, "import rt_jupyter; print(rt_jupyter.check(engines=False, timeout=5))")
    extension = next(line for line in report.splitlines() if "server extension" in line)
    assert extension.startswith("✔") and "mode: hub" in extension, report
    lab_command(page, "docmanager:save")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=60_000
    )
    key = upstream.key
    # nowhere in the user's server or kernel environment (the kernel is alive: the call runs)
    processes = hub.user_processes("alice")
    assert len(processes) >= 2, processes  # jupyterhub-singleuser and the kernel
    for proc in processes:
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
        assert key.encode() not in environ, proc.cmdline()
        assert b"OPENAI_API_KEY" not in environ
        assert b"RT_JUPYTER_HUB_SERVICE_URL=" in environ
    # nor in the Hub's log (the user server's and the services' output), the notebook, the page
    assert "alice" in hub.log() and key not in hub.log()
    saved = (hub.base / "home" / "alice" / "voice.ipynb").read_text()
    assert "VoiceChat" in saved and key not in saved
    assert key not in page.content() and not frames.contains(key)
    assert key not in json.dumps(page.context.storage_state())
    assert page.get_attribute(".rtj", "data-status") == "connected"


def test_second_user_over_quota_sees_the_reason_and_so_does_the_second_service(
    hub: Hub, context: Any
) -> None:
    # bob (group "students": one key a day) spends his key through the API first
    bob = hub.token_for(
        "bob", [f"access:services!service={SERVICE}", f"access:services!service={SERVICE_2}"]
    )
    status, body, _ = hub.mint(bob)
    assert status == 200, body
    page = login(context, hub, "bob")
    open_voice_notebook(page, hub, "bob")
    for _attempt in range(2):  # a replay is refused the same way
        with page.expect_response(is_session, timeout=120_000) as refused:
            page.click(".rtj-connect")
        assert refused.value.status == 429
        page.wait_for_function(
            "() => document.querySelector('.rtj').dataset.status === 'error'", timeout=60_000
        )
        shown = page.inner_text(".rtj-error-text")
        assert "30 of 30 session minutes" in shown, shown
        page.wait_for_selector(".rtj-connect:not([disabled])", timeout=60_000)
    # the second service process reads the same database: the same refusal
    status, body, headers = hub.mint(bob, service=SERVICE_2)
    assert status == 429 and body["error"]["code"] == "quota_exceeded", body
    assert int(headers["Retry-After"]) >= 1
    # a fresh token (a new login) does not reset the quota: it belongs to the Hub user
    fresh = hub.token_for("bob", [f"access:services!service={SERVICE}"])
    assert hub.mint(fresh)[0] == 429


def test_two_service_processes_count_one_quota_exactly(hub: Hub) -> None:
    """carol may take four keys today: twelve requests at once, split over both processes."""
    carol = hub.token_for(
        "carol", [f"access:services!service={SERVICE}", f"access:services!service={SERVICE_2}"]
    )
    services = [SERVICE, SERVICE_2] * 6
    with ThreadPoolExecutor(len(services)) as pool:
        results = list(pool.map(lambda s: hub.mint(carol, service=s)[0], services))
    assert sorted(results) == [200] * 4 + [429] * 8, results


def test_tokens_the_service_refuses(hub: Hub) -> None:
    # no token, a forged one
    assert hub.mint(None)[0] == 401
    status, body, _ = hub.mint("0" * 32)
    assert status == 403 and body["error"]["code"] == "bad_token"
    # alice's token without access to the service: the Hub knows her, the service refuses her
    narrow = hub.token_for("alice", ["read:users:name!user=alice"])
    status, body, _ = hub.mint(narrow)
    assert status == 403 and body["error"]["code"] == "not_allowed", body
    # a Hub service's token (even one with access to the service) is not a user
    status, body, _ = hub.mint(hub.admin_token)
    assert status == 403 and body["error"]["code"] == "not_a_user", body
    # the identity is the token's: a body naming another user is refused, not obeyed
    alice = hub.token_for("alice", [f"access:services!service={SERVICE}"])
    status, body, _ = hub.mint(alice, {"user": "bob"})
    assert status == 400 and body["error"]["code"] == "unknown_parameter"
    # the admin policy holds: a model outside allowed_models is refused
    status, body, _ = hub.mint(alice, {"model": "gpt-4o-realtime-preview"})
    assert status == 400 and body["error"]["code"] == "model_not_allowed"


def test_a_user_server_token_mints_only_as_its_user(hub: Hub, upstream: Upstream) -> None:
    """What a kernel can do with the server's $JUPYTERHUB_API_TOKEN: mint as alice, no one else,
    and not read the key from the Hub's API."""
    server = next(
        p for p in hub.user_processes("alice") if "jupyterhub-singleuser" in " ".join(p.cmdline())
    )
    server_token = server.environ()["JUPYTERHUB_API_TOKEN"]
    before = _rows(hub, "alice")
    status, body, _ = hub.mint(server_token)
    assert status == 200 and body["value"].startswith("ek_")
    assert _rows(hub, "alice") == before + 1 and _rows(hub, "bob", "minted") == 1
    # the server token was not given the second service's scope
    assert hub.mint(server_token, service=SERVICE_2)[0] == 403
    # the Hub's API shows the services' models, never their environment (where the key is)
    for token in (server_token, hub.admin_token):
        for path in ("services", f"services/{SERVICE}"):
            _, model, _ = _http(f"{hub.url}hub/api/{path}", token=token)
            assert upstream.key not in json.dumps(model)
    status, model, _ = _http(f"{hub.url}hub/api/services/{SERVICE}", token=hub.admin_token)
    assert status == 200 and model["command"]  # an admin's view: the command, not the env


def _rows(hub: Hub, user: str, outcome: str | None = "minted") -> int:
    """Rows of ``user`` in the service's database (with ``outcome``, or all)."""
    import sqlite3

    query = 'SELECT count(*) FROM rtj_mints WHERE "user" = ?'
    args: tuple[str, ...] = (user,)
    if outcome is not None:
        query, args = query + " AND outcome = ?", (user, outcome)
    with sqlite3.connect(hub.db_path) as db:
        (count,) = db.execute(query, args).fetchone()
    return int(count)


def test_floods_do_not_grow_the_database(hub: Hub) -> None:
    """Refusals are audited rows, but neither a stranger nor a user can add rows without end."""
    for _ in range(30):
        assert hub.mint("f" * 40)[0] == 403
        assert hub.mint(None)[0] == 401
    assert _rows(hub, "-", None) == 0  # strangers: audit lines in the log only
    dave = hub.token_for("dave", [f"access:services!service={SERVICE}"])
    answers = [hub.mint(dave, {"model": "not allowed!"}) for _ in range(ATTEMPTS_PER_MINUTE + 20)]
    assert {status for status, _, _ in answers} == {400, 429}
    last = answers[-1][1]["error"]
    assert last["code"] == "rate_limited" and "Too many requests" in last["message"], last
    assert _rows(hub, "dave", None) == ATTEMPTS_PER_MINUTE
    assert "mint user=dave model=- " in hub.log() and "outcome=too_many_attempts" in hub.log()


def test_audit_names_both_users_and_the_admin_page_is_for_admins(hub: Hub, context: Any) -> None:
    admin = hub.token_for("root-admin", [f"access:services!service={SERVICE}"])
    status, usage, _ = _http(hub.service_urls[SERVICE] + "api/usage", token=admin)
    assert status == 200, usage
    users = {u["user"]: u for u in usage["usage"]}
    assert users["alice"]["minted_today"] >= 1 and users["bob"]["refused_today"] >= 2
    assert {"alice", "bob"} <= {row["user"] for row in usage["audit"]}
    assert re.search(r"mint user=bob .*outcome=quota_exceeded status=429", hub.log())
    assert re.search(r"mint user=alice .*outcome=minted status=200", hub.log())
    # a user who is not a Hub admin gets no usage
    alice = hub.token_for("alice", [f"access:services!service={SERVICE}"])
    assert _http(hub.service_urls[SERVICE] + "api/usage", token=alice)[0] == 403
    # the HTML page through the proxy, after the Hub's login and OAuth
    page = context.new_page()
    page.goto(f"{hub.url}services/{SERVICE}/admin", wait_until="domcontentloaded")
    page.fill("#username_input", "root-admin")
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_selector("#usage", timeout=120_000)
    table = page.inner_text("#usage")
    assert "alice" in table and "bob" in table
    # the browser now holds the service's login cookie: it never stands in for a token, so no
    # page can mint with it
    url = f"{hub.url}services/{SERVICE}/api/session"
    assert page.request.post(url, data="{}").status == 401
    assert page.request.get(f"{hub.url}services/{SERVICE}/api/usage").status == 200
