"""``error_from_http``: one parser for HTTP error bodies, whatever the upstream sends."""

from __future__ import annotations

import json

import pytest

from rt_jupyter.config import scrub
from rt_jupyter.jupyter.mint import _upstream_error
from rt_jupyter.protocol.errors import error_from_http, scrub_secrets


def test_openai_shape() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "Incorrect API key provided: sk-abc***xyz.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
    ).encode()
    assert error_from_http(401, body) == {
        "type": "invalid_request_error",
        "code": "invalid_api_key",
        "message": "Incorrect API key provided: [redacted]",
        "param": None,
    }


def test_openai_shape_with_param() -> None:
    body = '{"error": {"message": "Bad voice.", "type": "invalid_request_error", '
    body += '"code": "invalid_value", "param": "session.audio.output.voice"}}'
    assert error_from_http(400, body) == {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Bad voice.",
        "param": "session.audio.output.voice",
    }


def test_azure_shape_with_a_numeric_code() -> None:
    body = (
        b'{"error": {"code": "401", "message": "Access denied due to invalid subscription key."}}'
    )
    assert error_from_http(401, body) == {
        "type": "invalid_request_error",
        "code": "401",
        "message": "Access denied due to invalid subscription key.",
        "param": None,
    }
    assert error_from_http(500, b'{"error": {"code": 500, "message": "boom"}}')["code"] == "500"


def test_error_as_a_string() -> None:
    assert error_from_http(404, b'{"error": "model not found"}') == {
        "type": "invalid_request_error",
        "code": None,
        "message": "model not found",
        "param": None,
    }


def test_top_level_message_apim_and_detail() -> None:
    apim = error_from_http(429, b'{"statusCode": 429, "message": "Rate limit is exceeded."}')
    assert apim == {
        "type": "rate_limit_error",
        "code": None,
        "message": "Rate limit is exceeded.",
        "param": None,
    }
    assert error_from_http(404, b'{"detail": "Not Found"}')["message"] == "Not Found"


def test_unknown_json_is_kept_as_text() -> None:
    assert error_from_http(400, b'{"foo": "bar"}')["message"] == '{"foo":"bar"}'
    assert error_from_http(400, b'{"error": {"code": "x"}}')["message"] == '{"code":"x"}'
    assert error_from_http(400, b"{}")["message"] == ""
    assert error_from_http(400, b'{"error": null}')["message"] == ""
    assert error_from_http(400, b'{"error": {"code": true}}')["code"] is None


def test_plain_text_and_empty_bodies() -> None:
    assert error_from_http(503, b"upstream connect error\n  or disconnect") == {
        "type": "server_error",
        "code": None,
        "message": "upstream connect error or disconnect",
        "param": None,
    }
    assert error_from_http(500, b"")["message"] == ""
    assert error_from_http(500, None)["message"] == ""
    assert error_from_http(400, "{not json")["message"] == "{not json"


def test_invalid_utf8_does_not_raise() -> None:
    out = error_from_http(502, b"bad \xff\xfe bytes")
    assert out["message"] == "bad \ufffd\ufffd bytes"
    assert out["type"] == "server_error"


def test_html_pages_give_their_title() -> None:
    page = (
        b"<html><head><title>502 Bad Gateway</title></head>"
        b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
    )
    assert error_from_http(502, page, {"Content-Type": "text/html"})["message"] == "502 Bad Gateway"
    untitled = b"<p>Service &amp; co. <b>unavailable</b></p><script>var k = 1;</script>"
    assert error_from_http(503, untitled)["message"] == "Service & co. unavailable"


def test_huge_bodies_are_capped() -> None:
    out = error_from_http(500, b"x" * 5_000_000)
    assert len(out["message"]) == 2000
    assert out["message"].endswith("…")
    huge_json = json.dumps({"error": {"message": "y" * 100_000, "code": "c"}})
    out = error_from_http(400, huge_json)
    assert len(out["message"]) == 2000 and out["code"] == "c"


def test_secrets_are_scrubbed_before_the_cut() -> None:
    secret = "Zsecretvalue12345"
    body = "a" * 1995 + secret + " and more"
    message = error_from_http(400, body, secrets=[secret])["message"]
    assert "Zsec" not in message
    assert message == "a" * 1995 + "[red…"


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": {"message": "bad key sk-proj-ABCDEFGH123", "code": "sk-proj-ABCDEFGH123"}}',
        b"Authorization: Bearer ABCDEFGH123456 was refused (sk-proj-ABCDEFGH123)",
        b'{"error": "ek_ABCDEFGH123 expired"}',
    ],
)
def test_keys_never_come_back(body: bytes) -> None:
    out = error_from_http(401, body)
    text = json.dumps(out)
    assert "ABCDEFGH123" not in text
    assert "[redacted]" in out["message"]


def test_explicit_secrets_are_removed() -> None:
    out = error_from_http(
        401,
        b'{"error": {"message": "key my-custom-key-42 refused"}}',
        secrets=[
            "my-custom-key-42",
            None,
        ],
    )
    assert out["message"] == "key [redacted] refused"


def test_config_scrub_is_the_same_rule() -> None:
    text = "keys sk-abc123def and ek_456789 and Bearer abcdefgh12345"
    assert (
        scrub(text) == scrub_secrets(text) == "keys [redacted] and [redacted] and Bearer [redacted]"
    )


def test_mint_uses_the_parser() -> None:
    body = b'{"error": "too many requests from sk-live-SECRETSECRET"}'
    exc = _upstream_error(
        429, body, host="api.example.com", api_key="sk-live-SECRETSECRET", key_hint="hint"
    )
    assert exc.status == 429 and exc.code == "upstream_rate_limited"
    assert exc.message == (
        "The realtime service at api.example.com is rate limiting this key (HTTP 429): "
        "too many requests from [redacted]"
    )
    html = _upstream_error(
        502, b"<title>Bad Gateway</title>", host="h", api_key="k" * 20, key_hint="hint"
    )
    assert html.message == "The realtime service at h failed (HTTP 502): Bad Gateway"
    empty = _upstream_error(401, b"", host="h", api_key="k" * 20, key_hint="hint")
    assert empty.message == "The realtime service at h rejected the server's API key (HTTP 401)"
