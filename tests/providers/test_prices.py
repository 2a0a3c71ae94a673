"""The frames' price table follows the provider: sessions through the local service playing Azure
(real sockets, the kernel client) are priced as the model their deployment runs, an unknown
deployment is flagged and not priced, a gateway's price says it is a guess, and OpenAI's logs are
priced as before (model prefix, no provider recorded)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from rt_jupyter import frames
from rt_jupyter.client import connect
from rt_jupyter.config import resolve_settings
from rt_jupyter.frames import PRICES, PriceWarning
from rt_jupyter.jupyter.mint import build_session, mint_remote
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.log import EventLog
from tests.providers.conftest import AZ_KEY, DEPLOYMENT

MINI = PRICES["gpt-realtime-mini"]
FULL = PRICES["gpt-realtime"]


def _cost(row: Any, price: dict[str, float]) -> float:
    """A usage row's cost at ``price`` (no cached tokens in these sessions)."""
    assert row["cached_in"] == 0
    total = sum(row[name] * price[name] for name in ("text_in", "audio_in", "image_in"))
    total += row["text_out"] * price["text_out"] + row["audio_out"] * price["audio_out"]
    return round(float(total) / 1_000_000, 6)


async def _azure_log(endpoint: str, deployment: str, **provider: Any) -> EventLog:
    """The log of a two-turn text session with ``deployment`` on the Azure v1 API."""
    async with connect(
        provider={"name": "azure", "endpoint": endpoint, **provider},
        api_key=AZ_KEY,
        model=deployment,
        output_modalities="text",
        quiet=True,
    ) as session:
        await session.say("hello there")
        await session.say("and again")
        return session.log


async def test_a_deployment_is_priced_as_the_model_it_runs(
    azure_text: LocalRealtimeService,
) -> None:
    log = await _azure_log(
        azure_text.azure_endpoint, DEPLOYMENT, deployments={DEPLOYMENT: "gpt-realtime-mini"}
    )
    notes = log.of_kind("rt.provider")
    assert [n.event["name"] for n in notes] == ["azure"] and notes[0].event["runs"] == (
        "gpt-realtime-mini"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriceWarning)  # no guess: no warning
        costs = frames.usage(log)
    assert len(costs) == 2 and (costs["total"] > 0).all()
    assert costs["provider"].tolist() == ["azure"] * 2
    assert costs["model"].tolist() == [DEPLOYMENT] * 2  # the session's name for it
    assert costs["priced_as"].tolist() == ["gpt-realtime-mini"] * 2
    assert not costs["price_guessed"].any()
    for _, row in costs.iterrows():
        assert row["cost_usd"] == _cost(row, MINI) and row["cost_usd"] != _cost(row, FULL)


async def test_an_unknown_deployment_is_flagged_not_priced(
    azure_text: LocalRealtimeService,
) -> None:
    log = await _azure_log(azure_text.azure_endpoint, DEPLOYMENT)  # no deployments map
    with pytest.warns(PriceWarning, match=f"deployment '{DEPLOYMENT}' runs an unknown model"):
        costs = frames.usage(log)
    assert costs["cost_usd"].isna().all() and costs["priced_as"].isna().all()
    assert costs["price_guessed"].all()
    # saying which model it runs prices it, after the fact
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriceWarning)
        known = frames.usage(log, deployments={DEPLOYMENT: "gpt-realtime"})
        forced = frames.usage(log, model="gpt-realtime-mini")
    assert known["priced_as"].tolist() == ["gpt-realtime"] * 2
    assert [_cost(r, FULL) for _, r in known.iterrows()] == known["cost_usd"].tolist()
    assert forced["priced_as"].tolist() == ["gpt-realtime-mini"] * 2


async def test_a_deployment_named_like_a_model_is_a_guess_that_says_so() -> None:
    async with LocalRealtimeService(
        engines=Engines(), accept_keys=[AZ_KEY], deployments=["gpt-realtime-mini-eu"]
    ) as svc:
        log = await _azure_log(svc.azure_endpoint, "gpt-realtime-mini-eu")
    with pytest.warns(PriceWarning, match="priced as 'gpt-realtime-mini' by its name"):
        costs = frames.usage(log)
    assert costs["priced_as"].tolist() == ["gpt-realtime-mini"] * 2
    assert costs["price_guessed"].all()
    assert [_cost(r, MINI) for _, r in costs.iterrows()] == costs["cost_usd"].tolist()


async def test_the_widgets_token_carries_the_deployments_model(
    azure_text: LocalRealtimeService,
) -> None:
    """The mint answer the browser gets names the provider and the model behind the deployment;
    the widget logs it with ``rt.call_started`` and the frames price the call by it."""
    settings = resolve_settings(
        provider={
            "name": "azure",
            "endpoint": azure_text.azure_endpoint,
            "deployments": {DEPLOYMENT: "gpt-realtime-mini"},
        },
        api_key=AZ_KEY,
    )
    session = build_session({"output_modalities": ["text"]}, model=DEPLOYMENT)
    token = await mint_remote(settings=settings, session=session, model=DEPLOYMENT, ttl=60)
    provider = token.to_json()["provider"]
    assert provider == {
        "name": "azure",
        "layout": "azure-v1",
        "model": DEPLOYMENT,
        "runs": "gpt-realtime-mini",
    }
    # what the widget's log holds for that call (the browser relays rt.call_started as is)
    log = EventLog()
    log.note(
        "rt.call_started", dialect="ga", model=DEPLOYMENT, upstream="remote", provider=provider
    )
    log.add("in", {"type": "session.created", "session": {"type": "realtime", "model": DEPLOYMENT}})
    usage = {
        "total_tokens": 300,
        "input_tokens": 100,
        "output_tokens": 200,
        "input_token_details": {"text_tokens": 100, "audio_tokens": 0},
        "output_token_details": {"text_tokens": 0, "audio_tokens": 200},
    }
    log.add("in", {"type": "response.done", "response": {"id": "r1", "usage": usage}})
    costs = frames.usage(log)
    assert costs.loc[0, "priced_as"] == "gpt-realtime-mini" and not costs.loc[0, "price_guessed"]
    assert costs.loc[0, "cost_usd"] == round((100 * 0.60 + 200 * 20.00) / 1e6, 6)


def _openai_log(model: str, *, note: dict[str, str] | None = None) -> EventLog:
    log = EventLog()
    if note is not None:
        log.note("rt.provider", **note)
    log.add("in", {"type": "session.created", "session": {"type": "realtime", "model": model}})
    usage = {
        "total_tokens": 1500,
        "input_token_details": {"text_tokens": 1000, "audio_tokens": 0},
        "output_token_details": {"text_tokens": 500, "audio_tokens": 0},
    }
    log.add("in", {"type": "response.done", "response": {"id": "r1", "usage": usage}})
    return log


@pytest.mark.parametrize("note", [None, {"name": "openai", "layout": "openai"}])
def test_openai_prices_are_unchanged(note: dict[str, str] | None) -> None:
    """A log with no provider recorded (older logs) or OpenAI's: priced by model prefix."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriceWarning)
        mini = frames.usage(_openai_log("gpt-realtime-mini-2025-10-06", note=note))
        preview = frames.usage(_openai_log("gpt-4o-realtime-preview-2024-12-17", note=note))
    assert mini.loc[0, "cost_usd"] == round((1000 * 0.60 + 500 * 2.40) / 1e6, 6)
    assert mini.loc[0, "provider"] == "openai" and mini.loc[0, "priced_as"] == "gpt-realtime-mini"
    assert preview.loc[0, "cost_usd"] == round((1000 * 5.00 + 500 * 20.00) / 1e6, 6)
    # an unknown model keeps its old price (gpt-realtime's) but now says it is a guess
    with pytest.warns(PriceWarning, match="no price row"):
        odd = frames.usage(_openai_log("my-finetune", note=note))
    assert odd.loc[0, "cost_usd"] == round((1000 * 4.00 + 500 * 16.00) / 1e6, 6)
    assert odd.loc[0, "price_guessed"]


def test_a_gateways_price_is_a_guess_unless_given() -> None:
    log = _openai_log("gpt-realtime", note={"name": "gateway", "layout": "openai"})
    with pytest.warns(PriceWarning, match="gateway.*OpenAI's list price"):
        guessed = frames.usage(log)
    assert guessed.loc[0, "price_guessed"] and guessed.loc[0, "priced_as"] == "gpt-realtime"
    own = {"gpt-realtime": {"text_in": 1.0, "text_out": 2.0}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriceWarning)
        given = frames.usage(log, prices=own)
    assert not given.loc[0, "price_guessed"]
    assert given.loc[0, "cost_usd"] == round((1000 * 1.0 + 500 * 2.0) / 1e6, 6)


def test_deployments_must_map_names_to_models() -> None:
    from rt_jupyter import ConfigurationError

    with pytest.raises(ConfigurationError, match="deployments"):
        resolve_settings(
            provider={"name": "azure", "endpoint": "https://x.openai.azure.com", "deployments": 1},
            api_key="k",
        )
    with pytest.raises(ConfigurationError, match="deployments"):
        resolve_settings(
            provider={
                "name": "azure",
                "endpoint": "https://x.openai.azure.com",
                "deployments": {"my-rt": ""},
            },
            api_key="k",
        )


def test_an_older_log_can_be_told_its_provider() -> None:
    """A log with no provider recorded is OpenAI's, unless ``provider=`` says otherwise (a name,
    or a provider description with its deployments)."""
    from rt_jupyter.protocol.providers import Layout, Provider

    log = _openai_log(DEPLOYMENT)
    with pytest.warns(PriceWarning, match="runs an unknown model"):
        unknown = frames.usage(log, provider="azure")
    assert unknown.loc[0, "provider"] == "azure" and unknown["cost_usd"].isna().all()
    azure = Provider(
        "azure",
        "https://res.openai.azure.com",
        Layout.AZURE_V1,
        deployments=((DEPLOYMENT, "gpt-realtime-mini"),),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriceWarning)
        known = frames.usage(log, provider=azure)
    assert known.loc[0, "priced_as"] == "gpt-realtime-mini"
    assert known.loc[0, "cost_usd"] == round((1000 * 0.60 + 500 * 2.40) / 1e6, 6)
