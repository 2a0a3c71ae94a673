"""``%load_ext rt_jupyter``: the ``%rt`` line magic and the ``%%rt`` cell magic.

::

    %rt chat --voice marin                 # a VoiceChat, bound to `chat`
    %rt connect --instructions "Be brief"  # a kernel session (local service without a key)
    %%rt                                   # the cell's text goes to the current session
    What is the weather in Paris?
    %rt transcribe question.wav            # transcribe a file (timed segments)
    %%rt --transcribe question.wav         # the same; the cell's text is the prompt
    %rt events | turns | usage | timeline | latency | transcript | status
    %rt local start|stop|status
    %rt save runs/one     %rt load runs/one     %rt doctor     %rt code

``%rt --help`` and ``%rt SUBCOMMAND --help`` explain every option. Kernel sessions opened by
magics are blocking (:class:`~rt_jupyter.client.SyncRealtimeSession`): each cell waits for its
reply.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

__all__ = ["RealtimeMagics", "load_ipython_extension", "unload_ipython_extension"]


def display(obj: Any) -> None:
    """IPython's display (untyped)."""
    from IPython.display import display as show

    show(obj)  # type: ignore[no-untyped-call]


class _UsageError(Exception):
    """A bad command line: show the usage, not a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise _UsageError(f"{self.format_usage()}{self.prog}: error: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise _UsageError(message or "")


def _session_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--voice", help="output voice, e.g. marin, cedar, alloy")
    parser.add_argument("--instructions", help="system instructions")
    parser.add_argument("--model", help="realtime model")
    parser.add_argument("--text", action="store_true", help="answer in text, not speech")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--vad", action="store_true", help="server voice activity detection")
    mode.add_argument("--ptt", action="store_true", help="push-to-talk (manual turns)")


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="%rt", description="rt_jupyter magics (the OpenAI Realtime API)", add_help=True
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chat = sub.add_parser("chat", help="display a VoiceChat widget and bind it to a name")
    _session_options(chat)
    chat.add_argument("--name", default="chat", help="variable to bind (default: chat)")
    conn = sub.add_parser("connect", help="open a kernel-side session (local without a key)")
    _session_options(conn)
    conn.add_argument("--dialect", choices=["ga", "beta"], help="protocol dialect")
    conn.add_argument("--transcription", action="store_true", help="transcription-only session")
    conn.add_argument("--name", default="session", help="variable to bind (default: session)")
    for name, text in (
        ("events", "one row per event"),
        ("turns", "one row per user turn, with latencies"),
        ("responses", "one row per response"),
        ("transcript", "who said what, when"),
        ("usage", "tokens and cost per response"),
        ("latency", "latency percentiles"),
        ("timeline", "plot the turns"),
        ("status", "the current session and widget"),
        ("doctor", "what will and won't work here"),
        ("code", "put the latest code block from the assistant into the next cell"),
        ("close", "close the current kernel session"),
    ):
        command = sub.add_parser(name, help=text)
        if name not in ("status", "doctor", "close"):
            command.add_argument(
                "--source",
                choices=["session", "chat"],
                help="which to use (default: the most recent)",
            )
    transcribe = sub.add_parser("transcribe", help="transcribe an audio file (timed segments)")
    transcribe.add_argument("file")
    local = sub.add_parser("local", help="the in-process local realtime service")
    local.add_argument("action", choices=["start", "stop", "status"])
    save = sub.add_parser("save", help="record the current session to a directory")
    save.add_argument("path")
    load = sub.add_parser("load", help="load a recording (bound to `recording`)")
    load.add_argument("path")
    return parser


def _cell_parser() -> _Parser:
    parser = _Parser(prog="%%rt", description="send the cell's text in the current session")
    _session_options(parser)
    parser.add_argument(
        "--transcribe",
        metavar="FILE",
        help="transcribe an audio file instead; the cell's text is the transcription prompt "
        "(or use the line magic %%rt transcribe FILE)",
    )
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str | None) -> Any:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    return None


@dataclass
class _Current:
    session: Any = None
    chat: Any = None
    last: str = ""  # "session" or "chat": the most recent


@magics_class
class RealtimeMagics(Magics):
    """The ``%rt`` / ``%%rt`` magics."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.current = _Current()
        self.parser = _build_parser()
        self.cell_parser = _cell_parser()

    @property
    def _ip(self) -> Any:
        """The IPython shell (set once the magics are registered)."""
        return self.shell

    # --- helpers -------------------------------------------------------------------------------

    def _settings(self, args: argparse.Namespace) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if args.voice:
            out["voice"] = args.voice
        if args.instructions:
            out["instructions"] = args.instructions
        if args.text:
            out["output_modalities"] = "text"
        if args.vad:
            out["turn_detection"] = "server_vad"
        if args.ptt:
            out["turn_detection"] = None
        return out

    def _source(self, which: str | None) -> Any:
        which = which or self.current.last
        source = self.current.chat if which == "chat" else self.current.session
        if source is None:
            source = self.current.session or self.current.chat
        if source is None:
            raise _UsageError("no session or chat yet: run %rt connect or %rt chat first")
        return source

    # --- line magic ----------------------------------------------------------------------------

    @line_magic
    def rt(self, line: str) -> Any:
        """rt_jupyter: %rt chat | connect | events | turns | usage | timeline | local | save |
        load | doctor | code | status (``%rt --help``)."""
        try:
            args, extra = self.parser.parse_known_args(shlex.split(line))
            if extra:
                sub = _subparser(self.parser, args.command) or self.parser
                sub.error(f"unrecognized arguments: {' '.join(extra)}")
            if args.command is None:
                raise _UsageError(self.parser.format_help())
            return getattr(self, f"_cmd_{args.command}")(args)
        except _UsageError as exc:
            print(str(exc).rstrip())
            return None
        except ValueError as exc:  # a bad setting: say which
            print(f"%rt: {exc}")
            return None

    def _cmd_chat(self, args: argparse.Namespace) -> Any:
        from .jupyter.widget import VoiceChat

        settings = self._settings(args)
        if "output_modalities" in settings:
            settings["output_modalities"] = [settings["output_modalities"]]
        if args.model:
            settings["model"] = args.model
        chat = VoiceChat(**settings)
        self._ip.user_ns[args.name] = chat
        self.current.chat = chat
        self.current.last = "chat"
        display(chat)
        return None

    def _cmd_connect(self, args: argparse.Namespace) -> Any:
        from .client import connect_sync

        if self.current.session is not None:
            self.current.session.close()
        kwargs: dict[str, Any] = self._settings(args)
        if args.model:
            kwargs["model"] = args.model
        if args.dialect:
            kwargs["dialect"] = args.dialect
        if args.transcription:
            kwargs["intent"] = "transcription"
        session = connect_sync(**kwargs)
        self._ip.user_ns[args.name] = session
        self.current.session = session
        self.current.last = "session"
        print(f"rt_jupyter: {session!r} bound to `{args.name}`")
        return None

    def _cmd_close(self, args: argparse.Namespace) -> Any:
        if self.current.session is not None:
            self.current.session.close()
            self.current.session = None
        return None

    def _frame(self, name: str, args: argparse.Namespace) -> Any:
        from . import frames

        log = self._source(args.source).log
        return getattr(frames, name)(log)

    def _cmd_events(self, args: argparse.Namespace) -> Any:
        return self._frame("events", args)

    def _cmd_turns(self, args: argparse.Namespace) -> Any:
        return self._frame("turns", args)

    def _cmd_responses(self, args: argparse.Namespace) -> Any:
        return self._frame("responses", args)

    def _cmd_transcript(self, args: argparse.Namespace) -> Any:
        return self._frame("transcript", args)

    def _cmd_usage(self, args: argparse.Namespace) -> Any:
        return self._frame("usage", args)

    def _cmd_latency(self, args: argparse.Namespace) -> Any:
        return self._frame("latency", args)

    def _cmd_timeline(self, args: argparse.Namespace) -> Any:
        from .plots import timeline

        figure = timeline(self._source(args.source).log)
        display(figure)
        import matplotlib.pyplot as plt

        plt.close(figure)
        return None

    def _cmd_status(self, args: argparse.Namespace) -> Any:
        from .local.default import local_service_running

        print(f"session: {self.current.session!r}")
        chat = self.current.chat
        print(f"chat:    {'none' if chat is None else f'VoiceChat status={chat.status!r}'}")
        print(f"local service: {'running' if local_service_running() else 'not running'}")
        return None

    def _cmd_local(self, args: argparse.Namespace) -> Any:
        from .local import default

        if args.action == "stop":
            default.stop_local_service()
            print("local realtime service stopped")
        elif args.action == "start" or default.local_service_running():
            service = default.get_local_service()
            print(f"local realtime service: running at {service.base_url}")
            print(f"  engines: {service.engines_summary}")
        else:
            print("local realtime service: not running")
        return None

    def _cmd_save(self, args: argparse.Namespace) -> Any:
        from .record import Recording

        session = self.current.session
        if session is None:
            raise _UsageError("%rt save records a kernel session: run %rt connect first")
        recording = Recording.from_session(session.session)
        path = recording.save(args.path)
        print(f"saved {len(recording.log)} events and {len(recording.inputs)} inputs to {path}")
        return None

    def _cmd_load(self, args: argparse.Namespace) -> Any:
        from .record import Recording

        recording = Recording.load(args.path)
        self._ip.user_ns["recording"] = recording
        print(
            f"loaded {len(recording.log)} events and {len(recording.inputs)} inputs as "
            "`recording` (recording.turns(), await recording.replay(...))"
        )
        return recording.turns()

    def _cmd_doctor(self, args: argparse.Namespace) -> Any:
        from .diagnostics import check

        session = self.current.session
        return check(widget=self.current.chat, session=getattr(session, "session", session))

    def _cmd_code(self, args: argparse.Namespace) -> Any:
        source = self._source(args.source)
        blocks = source.code_blocks
        if not blocks:
            print("no code block in the assistant's answers yet")
            return None
        self._ip.set_next_input(blocks[-1], replace=False)
        return None

    # --- cell magic ----------------------------------------------------------------------------

    @cell_magic("rt")  # type: ignore[arg-type]
    def rt_cell(self, line: str, cell: str) -> Any:
        """Send the cell's text in the current kernel session (``%%rt --help``)."""
        try:
            args = self.cell_parser.parse_args(shlex.split(line))
            if args.transcribe:
                return self._transcribe(args.transcribe, prompt=cell.strip() or None)
            session = self.current.session
            if session is None:
                self._cmd_connect(self.parser.parse_args(["connect"]))
                session = self.current.session
            settings = self._settings(args)
            if settings:
                session.update(**settings)
            text = cell.strip()
            if not text:
                raise _UsageError("%%rt: the cell is empty; write what to say below the %%rt line")
            reply = session.say(text)
            self.current.last = "session"
            return reply
        except _UsageError as exc:
            print(str(exc).rstrip())
            return None
        except ValueError as exc:
            print(f"%%rt: {exc}")
            return None

    def _cmd_transcribe(self, args: argparse.Namespace) -> Any:
        return self._transcribe(args.file)

    def _transcribe(self, file: str, prompt: str | None = None) -> Any:
        from pathlib import Path

        from .client import connect_sync

        path = Path(file)
        if not path.exists():
            raise _UsageError(f"%rt transcribe: no such file: {path}")
        with connect_sync(intent="transcription", quiet=True) as session:
            if prompt:
                session.update(input_transcription={"model": "gpt-4o-transcribe", "prompt": prompt})
            result = session.transcribe(str(path))
        import pandas as pd

        print(result.text)
        return pd.DataFrame([vars(s) for s in result.segments])


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext rt_jupyter``."""
    ipython.register_magics(RealtimeMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext rt_jupyter``: close the magics' session and remove the magics."""
    manager = ipython.magics_manager
    instance = manager.registry.get("RealtimeMagics")
    if instance is not None and instance.current.session is not None:
        instance.current.session.close()
    manager.magics["line"].pop("rt", None)
    manager.magics["cell"].pop("rt", None)
    manager.registry.pop("RealtimeMagics", None)
