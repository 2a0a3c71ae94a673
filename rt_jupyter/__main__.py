"""Command line: ``rt-jupyter serve`` runs the local realtime service; ``rt-jupyter hub-service``
the JupyterHub service that holds the key (:mod:`rt_jupyter.hub`); ``rt-jupyter version``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys

from ._cli import until_stopped


def _accepted_keys(args: argparse.Namespace) -> tuple[list[str] | None, str]:
    """The standard keys ``serve`` accepts (None: any ``sk-…``) and how to print them: the
    ``--key`` ones, any with ``--accept-any-key``, else one generated key printed in full."""
    from .local.keys import mask_key

    if args.key:
        return list(args.key), ", ".join(mask_key(k) for k in args.key)
    if args.accept_any_key:
        return None, "any sk-... key (--accept-any-key)"
    key = "sk-local-" + secrets.token_urlsafe(24)
    return [key], f"{key}   (generated: use it as OPENAI_API_KEY, or choose one with --key)"


async def _serve(args: argparse.Namespace) -> int:
    from .local.asr_pool import RecogniserSettingsError
    from .local.handlers import DEFAULT_ALLOWED_ORIGINS
    from .local.service import LocalRealtimeService

    accept, shown = _accepted_keys(args)
    service = LocalRealtimeService(
        args.host,
        args.port,
        accept_keys=accept,
        beta_shape_disabled=args.reject_beta,
        max_session_s=args.max_session_s,
        max_sessions_per_key=args.max_sessions_per_key,
        ice_host=args.ice_host,
        allow_origins=(*DEFAULT_ALLOWED_ORIGINS, *(args.allow_origin or [])),
        asr=args.asr,
        asr_model=args.asr_model,
        asr_workers=args.asr_workers,
        asr_batch=args.asr_batch,
        asr_language=args.asr_language,
        voice_engine=args.voice_engine,
    )
    print("rt_jupyter local realtime service: loading engines...", flush=True)
    try:
        await service.start()
    except RecogniserSettingsError as exc:  # the user's settings: a message, not a traceback
        print(f"rt-jupyter serve: error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(f"  REST       {service.base_url}   (OPENAI_BASE_URL)", flush=True)
    print(f"  WebSocket  {service.ws_base_url}/realtime?model=gpt-realtime", flush=True)
    print(f"  WebRTC     POST {service.base_url}/realtime/calls", flush=True)
    print(
        f"  Azure      {service.azure_endpoint}   (AZURE_OPENAI_ENDPOINT: /openai/v1/realtime..., "
        f"or the preview API with OPENAI_API_VERSION; WebRTC {service.azure_webrtc_url})",
        flush=True,
    )
    print(f"  keys       {shown}", flush=True)
    print(f"  engines    {service.engines_summary}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    await until_stopped()
    print("stopping...", flush=True)
    await service.stop()
    print("stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rt-jupyter`` command."""
    from .local.asr_pool import RECOGNISERS
    from .local.session import VOICE_ENGINES

    parser = argparse.ArgumentParser(prog="rt-jupyter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the local realtime service")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    serve.add_argument(
        "--key",
        action="append",
        help="accept only this standard key (repeatable; default: one generated key, printed)",
    )
    serve.add_argument(
        "--accept-any-key",
        action="store_true",
        help="accept any sk-... key (offline demos; any local program can then use the service)",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help="let web pages of ORIGIN (e.g. https://app.example or http://host:*) call the "
        "service (repeatable; loopback pages are always allowed)",
    )
    serve.add_argument(
        "--reject-beta",
        action="store_true",
        help="reject the beta shape as OpenAI does since 2026-05-12",
    )
    serve.add_argument("--max-session-s", type=float, default=None, help="session length limit")
    serve.add_argument("--max-sessions-per-key", type=int, default=None)
    serve.add_argument(
        "--ice-host", default=None, help="address for WebRTC host candidates (default: --host)"
    )
    serve.add_argument(
        "--asr",
        choices=RECOGNISERS,
        default=None,
        help="speech recogniser (default $RT_JUPYTER_ASR or auto: Whisper when the asr extra "
        "is installed, else pocketsphinx)",
    )
    serve.add_argument(
        "--asr-model",
        default=None,
        metavar="NAME_OR_DIR",
        help="faster-whisper model: a name it downloads and caches (base.en, small, ...) or a "
        "model directory (default $RT_JUPYTER_ASR_MODEL or the bundled tiny.en); base is read "
        "from the asr-base extra with no network when it is installed",
    )
    serve.add_argument(
        "--asr-workers",
        type=int,
        default=None,
        help="recogniser processes (default $RT_JUPYTER_ASR_WORKERS or the usable CPU cores "
        "- 1, >= 1)",
    )
    serve.add_argument(
        "--asr-batch",
        type=int,
        default=None,
        help="at most this many waiting utterances transcribed together (default "
        "$RT_JUPYTER_ASR_BATCH or 8; 1: one at a time)",
    )
    serve.add_argument(
        "--asr-language",
        default=None,
        metavar="CODE",
        help="language of utterances whose session names none (default $RT_JUPYTER_ASR_LANGUAGE "
        "or en; auto: a multilingual model detects it per utterance)",
    )
    serve.add_argument(
        "--voice-engine",
        choices=VOICE_ENGINES,
        default=None,
        help="voice (default $RT_JUPYTER_VOICE_ENGINE or espeak; piper: the natural voice of "
        "the voice extra, auto: piper when installed)",
    )
    serve.add_argument("-v", "--verbose", action="store_true")
    sub.add_parser("version", help="print the version")
    from .hub.cli import add_parser as add_hub_service

    add_hub_service(sub)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is not None:  # a subcommand that runs itself (hub-service)
        return int(args.func(args))
    if args.command == "version":
        from . import __version__

        print(__version__)
        return 0
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())
