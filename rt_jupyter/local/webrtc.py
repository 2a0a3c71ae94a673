"""WebRTC calls of the local realtime service (aiortc).

:func:`start_call` answers a browser's (or any WebRTC peer's) SDP offer the way
``POST /v1/realtime/calls`` does: events travel as plain JSON text on the ``oai-events`` data
channel, the microphone arrives as an RTP audio track (server VAD runs on it) and the model's voice
leaves as an RTP audio track paced in real time. The answer is complete (no trickle ICE).

ICE: no STUN/TURN server is ever contacted (``RTCConfiguration(iceServers=[])``). Host candidates
are gathered only on the service's ``ice_host`` (``ServiceState.ice_host``, by default the address
the service is bound to, ``127.0.0.1``); aioice leaves loopback out of its host candidates, so
:func:`ice_host_addresses` lets our own connections (and only them) gather on it. With a loopback
``ice_host`` only loopback remote candidates are accepted. A service that browsers on other
machines must reach sets it to an address they can route to, e.g.
``LocalRealtimeService(host="0.0.0.0", ice_host="192.168.1.20")`` (several addresses may be given
comma-separated; ``"0.0.0.0"`` means every interface plus loopback); remote candidates are then
accepted from any address.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import functools
import ipaddress
import json
import logging
import os
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import av
import numpy as np
import numpy.typing as npt
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription

from ..protocol import Dialect, ProtocolError, SessionConfig
from ..protocol.events import ascii_json
from ..protocol.limits import DATA_CHANNEL_MAX_MESSAGE_BYTES
from ._udp import batch_datagram_reads
from .faults import FaultyTransport
from .session import LocalSession, SessionOptions, Transport

if TYPE_CHECKING:
    from .handlers import ServiceState
    from .keys import Principal

__all__ = [
    "AudioOutputTrack",
    "Call",
    "ice_host_addresses",
    "start_call",
]

log = logging.getLogger("rt_jupyter.local.webrtc")

# A call's RTP, RTCP and data channel share one UDP socket: read it in batches, or a busy event
# loop (one datagram per socket per iteration) leaves seconds of packets in the kernel's queue.
batch_datagram_reads()

Samples = npt.NDArray[np.float32]

EVENTS_CHANNEL = "oai-events"
#: The largest event the service sends on the data channel where it can slim it (the shared
#: sender limit, a margin under the ~64 KiB SCTP max-message-size that can close the channel).
#: Received messages are not checked against it: aiortc itself accepts up to the SCTP limit.
MAX_CHANNEL_MESSAGE = DATA_CHANNEL_MAX_MESSAGE_BYTES
#: A call whose data channel has not opened by then is hung up.
CONNECT_TIMEOUT_S = 30.0
_AUDIO_CODECS = ("audio/opus", "audio/pcmu", "audio/pcma")
_INPUT_RATE = 24000
_WILDCARDS = ("", "0.0.0.0", "::", "*")

# --- host candidates -----------------------------------------------------------------------------

# The addresses aioice gathers host candidates on, for connections created inside
# ice_host_addresses(); ``None`` (everywhere else) keeps aioice's own behaviour.
_ICE_HOSTS: ContextVar[tuple[str, ...] | None] = ContextVar("rt_jupyter_ice_hosts", default=None)


def _resolve_ice_host(ice_host: str) -> tuple[list[str] | None, bool]:
    """``(addresses, loopback_only)`` for an ``ice_host`` setting; ``None`` means every
    interface (plus loopback)."""
    addresses: list[str] = []
    wildcard = False
    for part in (p.strip() for p in ice_host.split(",")):
        if part in _WILDCARDS:
            wildcard = True
        elif part.lower() == "localhost":
            addresses.append("127.0.0.1")
        else:
            try:
                addresses.append(str(ipaddress.ip_address(part.strip("[]"))))
            except ValueError:
                raise ValueError(
                    f"ice_host must be IP addresses (or 'localhost', '0.0.0.0'), not {part!r}"
                ) from None
    if wildcard:
        return None, False
    loopback_only = all(ipaddress.ip_address(a).is_loopback for a in addresses)
    return addresses, loopback_only


def _install_hook() -> None:
    """Wrap ``aioice.ice.get_host_addresses`` once so it honours :data:`_ICE_HOSTS`."""
    import aioice.ice

    current = aioice.ice.get_host_addresses
    if getattr(current, "_rt_jupyter", False):
        return
    original: Callable[[bool, bool], list[str]] = current

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        hosts = _ICE_HOSTS.get()
        if hosts is None:
            return original(use_ipv4, use_ipv6)
        out: list[str] = []
        for host in hosts:
            if host == "*":
                out += [a for a in original(use_ipv4, use_ipv6) if a not in out]
                continue
            version = ipaddress.ip_address(host).version
            if ((version == 4 and use_ipv4) or (version == 6 and use_ipv6)) and host not in out:
                out.append(host)
        return out

    get_host_addresses._rt_jupyter = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = get_host_addresses


@contextlib.contextmanager
def ice_host_addresses(ice_host: str = "127.0.0.1") -> Iterator[None]:
    """Inside this context (and tasks started from it), aiortc gathers host candidates only on
    ``ice_host`` (loopback included); elsewhere aioice behaves as usual.

    Wrap ``pc.setLocalDescription(...)``, where gathering happens::

        with ice_host_addresses("127.0.0.1"):
            await pc.setLocalDescription(await pc.createOffer())
    """
    _install_hook()
    addresses, _ = _resolve_ice_host(ice_host)
    hosts = ("*", "127.0.0.1") if addresses is None else tuple(addresses)
    token = _ICE_HOSTS.set(hosts)
    try:
        yield
    finally:
        _ICE_HOSTS.reset(token)


def _filter_remote_candidates(sdp: str, loopback_only: bool) -> tuple[str, int, int]:
    """Drop remote candidates we will not use; returns ``(sdp, kept, dropped)``."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    kept_lines: list[str] = []
    kept = dropped = 0
    for line in lines:
        if line.startswith("a=candidate:"):
            fields = line.split()
            ok = len(fields) >= 8 and fields[2].lower() == "udp"
            if ok and loopback_only:
                try:
                    ok = ipaddress.ip_address(fields[4]).is_loopback
                except ValueError:  # mDNS (.local) or a host name
                    ok = False
            if not ok:
                dropped += 1
                continue
            kept += 1
        kept_lines.append(line)
    if dropped and not kept:  # leave ICE open to peer-reflexive candidates, as with none offered
        kept_lines = [line for line in kept_lines if not line.startswith("a=end-of-candidates")]
    return "\r\n".join(kept_lines), kept, dropped


# --- the offer -----------------------------------------------------------------------------------


def _invalid(message: str) -> ProtocolError:
    return ProtocolError(message, code="invalid_offer")


def _check_offer(offer_sdp: str) -> tuple[SessionDescription, list[str]]:
    """Parse the offer; returns it and the audio codecs to answer with, in the offer's order."""
    try:
        description = SessionDescription.parse(offer_sdp)
    except Exception as exc:
        raise _invalid(f"The SDP offer could not be parsed ({exc}).") from exc
    kinds = [m.kind for m in description.media]
    if "application" not in kinds:
        raise _invalid(
            "The SDP offer has no data channel (m=application): create the 'oai-events' data "
            "channel before createOffer()."
        )
    codecs: list[str] = []
    audio = next((m for m in description.media if m.kind == "audio"), None)
    if audio is not None:
        for codec in audio.rtp.codecs:
            name = codec.mimeType.lower()
            if name in _AUDIO_CODECS and name not in codecs:
                codecs.append(name)
        if not codecs:
            raise _invalid("The SDP offer has no supported audio codec (opus, PCMU or PCMA).")
    return description, codecs


# --- audio ---------------------------------------------------------------------------------------


def frame_to_mono(frame: av.AudioFrame) -> tuple[Samples, int]:
    """A decoded audio frame as mono float32 samples in [-1, 1] and its sample rate.

    Channels are averaged by summing into one float32 row and scaling once (about 3x faster
    than converting every channel and taking the mean: it runs for every 20 ms of every call)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    data = data.reshape(channels, -1) if frame.format.is_planar else data.reshape(-1, channels).T
    kind = data.dtype.kind
    mono = data[0].astype(np.float32)
    for channel in range(1, channels):
        mono += data[channel]
    if kind == "u":  # u8: 128 is zero
        mono -= 128.0 * channels
        scale = 1.0 / 128.0
    elif kind == "i":
        scale = 1.0 / float(2 ** (8 * data.dtype.itemsize - 1))
    else:
        scale = 1.0
    if channels > 1 or scale != 1.0:
        mono *= scale / channels
    return mono, int(frame.sample_rate)


class AudioOutputTrack(MediaStreamTrack):
    """The model's voice: an outgoing audio track that is also the session's ``AudioOutput``.

    :meth:`write` queues float32 48 kHz mono samples; :meth:`recv` hands aiortc one 20 ms frame
    per 20 ms of monotonic time (silence when nothing is queued, so RTP keeps flowing), with
    continuous ``pts``.

    Once :meth:`encode_opus` is called (the call negotiated Opus, as every browser does), recv
    returns Opus packets it encodes itself: aiortc would encode each frame on the default thread
    pool, and under load that round trip through a busy event loop, not the ~60 µs encode, is
    what made calls fall below 50 frames/s. Continued silence reuses the encoder's steady
    silence packet instead of encoding it again. Other codecs (G.711) keep aiortc's encoder.
    """

    kind = "audio"
    sample_rate = 48000
    frame_samples = 960  # 20 ms
    #: Behind schedule by more than this, the clock is re-based instead of catching up in a burst.
    #: A loaded event loop wakes the track 100-300 ms late at times: catching up keeps 50 frames/s
    #: (the peer's jitter buffer absorbs the burst), re-basing would lose that time for good.
    max_lag_s = 0.5

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._queue: deque[Samples] = deque()
        self._offset = 0  # samples of _queue[0] already played
        self._pending = 0
        self._item_played = 0
        self._start: float | None = None
        self._pts = 0
        self._time_base = fractions.Fraction(1, self.sample_rate)
        self._silence = np.zeros(self.frame_samples, dtype=np.int16)
        self._opus: Any = None
        self._silent_payload: bytes | None = None  # the last silent frame's packet
        self._steady_silence: bytes | None = None  # repeated as long as silence lasts
        #: Monotonic time of the first frame with audio after each :meth:`reset_item`.
        self.first_audio_at: float | None = None
        self.frames_sent = 0

    # --- AudioOutput ---

    def write(self, samples: Samples) -> None:
        """Queue float32 mono samples at 48 kHz for real-time playback."""
        data = np.asarray(samples, dtype=np.float32).reshape(-1)
        if len(data):
            self._queue.append(data)
            self._pending += len(data)

    def clear(self) -> float:
        """Drop everything not yet played; returns the ms played of the current item."""
        played = self.played_ms
        self._queue.clear()
        self._offset = 0
        self._pending = 0
        return played

    @property
    def played_ms(self) -> float:
        """Milliseconds of the current item handed to the encoder so far."""
        return self._item_played * 1000 / self.sample_rate

    @property
    def pending_ms(self) -> float:
        """Milliseconds queued and not yet played."""
        return self._pending * 1000 / self.sample_rate

    def reset_item(self) -> None:
        """Start counting played time for a new assistant item."""
        self._item_played = 0
        self.first_audio_at = None

    def encode_opus(self, bit_rate: int = 64000) -> None:
        """Hand aiortc Opus packets (mono, ``bit_rate`` bit/s) instead of frames to encode."""
        codec = av.CodecContext.create("libopus", "w")
        codec.bit_rate = bit_rate
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = self.sample_rate
        codec.time_base = self._time_base
        codec.options = {"application": "voip"}
        self._opus = codec

    # --- MediaStreamTrack ---

    def _take(self, n: int) -> npt.NDArray[np.int16] | None:
        if not self._pending:
            return None
        out = np.zeros(n, dtype=np.float32)
        filled = 0
        while filled < n and self._queue:
            head = self._queue[0]
            take = min(n - filled, len(head) - self._offset)
            out[filled : filled + take] = head[self._offset : self._offset + take]
            filled += take
            self._offset += take
            if self._offset >= len(head):
                self._queue.popleft()
                self._offset = 0
        self._pending -= filled
        self._item_played += filled
        return (np.clip(out, -1.0, 1.0) * 32767.0).astype(np.int16)

    async def recv(self) -> av.AudioFrame | av.Packet[Any]:
        """The next 20 ms frame (or Opus packet), when it is due."""
        if self.readyState != "live":
            raise MediaStreamError
        now = self._clock()
        if self._start is None:
            self._start = now
        else:
            due = self._start + self._pts / self.sample_rate
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > self.max_lag_s:
                self._start = now - self._pts / self.sample_rate
        pcm = self._take(self.frame_samples)
        if pcm is not None and self.first_audio_at is None:
            self.first_audio_at = self._clock()
        out: av.AudioFrame | av.Packet[Any]
        if pcm is None and self._steady_silence is not None:
            out = av.Packet(self._steady_silence)
        else:
            frame = av.AudioFrame.from_ndarray(
                (self._silence if pcm is None else pcm).reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = self.sample_rate
            out = frame if self._opus is None else self._encode(frame, silent=pcm is None)
        out.pts = self._pts
        out.time_base = self._time_base
        self._pts += self.frame_samples
        self.frames_sent += 1
        return out

    def _encode(self, frame: av.AudioFrame, *, silent: bool) -> av.Packet[Any]:
        packets = self._opus.encode(frame)  # 20 ms in, one packet out (libopus keeps no frames)
        payload = bytes(packets[0]) if packets else b""
        if not silent:
            self._silent_payload = self._steady_silence = None
        elif payload == self._silent_payload:
            self._steady_silence = payload  # the encoder has settled on digital silence
        else:
            self._silent_payload = payload
        return av.Packet(payload)


def _sends_opus(answer_sdp: str) -> bool:
    """Whether the answer's audio section sends Opus (its first codec is the one aiortc uses)."""
    for media in SessionDescription.parse(answer_sdp).media:
        if media.kind == "audio" and media.rtp.codecs:
            return str(media.rtp.codecs[0].mimeType).lower() == "audio/opus"
    return False


# --- the data channel ----------------------------------------------------------------------------


def _fit_message(text: str) -> str:
    """Keep data-channel messages under :data:`MAX_CHANNEL_MESSAGE` where it is safe to."""
    if len(text) <= MAX_CHANNEL_MESSAGE and len(text.encode()) <= MAX_CHANNEL_MESSAGE:
        return text
    event = json.loads(text)
    if event.get("type") == "conversation.item.retrieved":
        for part in (event.get("item") or {}).get("content") or []:
            if isinstance(part, dict):
                part.pop("audio", None)
        slim = json.dumps(event)
        log.info(
            "conversation.item.retrieved: audio dropped (%d bytes on a data channel)", len(text)
        )
        return slim
    log.warning(
        "a %d-byte %s event on the data channel: browsers may close the channel on messages "
        "over 64 KiB",
        len(text.encode()),
        event.get("type"),
    )
    return text


class _ChannelTransport:
    """The session's :class:`Transport` onto ``oai-events``; queues until the channel opens."""

    def __init__(self, call: Call) -> None:
        # weak: the call holds this transport, and a cycle would keep every ended call (its
        # peer connection and conversation) alive until the cyclic GC's next full collection
        self._call = weakref.ref(call)
        self.channel: Any = None
        self.queue: list[str] = []

    def _end(self, reason: str) -> None:
        _end_call(self._call, reason)

    def attach(self, channel: Any) -> None:
        self.channel = channel

    def flush(self) -> None:
        queued, self.queue = self.queue, []
        for text in queued:
            self.send_text(text)

    def send_text(self, text: str) -> None:
        channel = self.channel
        if channel is None or channel.readyState == "connecting":
            self.queue.append(text)
            return
        if channel.readyState != "open":
            return
        try:
            try:
                channel.send(_fit_message(text))
            except UnicodeEncodeError:  # an unpaired surrogate: send it escaped
                channel.send(_fit_message(ascii_json(text)))
        except Exception as exc:  # too large for the peer, or closing
            log.error("could not send an event on the data channel: %s", exc)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._end(reason or "session closed")

    def abort(self) -> None:
        """Drop the call at once (fault injection): the peer sees the connection fail."""
        self._end("fault injection: connection dropped")


# --- calls ---------------------------------------------------------------------------------------


def _end_call(ref: weakref.ref[Call], reason: str) -> None:
    call = ref()
    if call is not None:
        call.end(reason)


class Call:
    """One WebRTC call: the peer connection, its session and the tracks."""

    def __init__(
        self,
        state: ServiceState,
        principal: Principal,
        pc: RTCPeerConnection,
        dialect: Dialect,
        config: SessionConfig,
    ) -> None:
        self.state = state
        self.principal = principal
        self.pc = pc
        self.call_id = "rtc_" + os.urandom(16).hex()
        self.answer_sdp = ""
        self.audio_out = AudioOutputTrack()
        self.transport = _ChannelTransport(self)
        self.channel: Any = None
        faulty = FaultyTransport(self.transport, functools.partial(getattr, state, "faults"))
        self.session = LocalSession(
            faulty,
            dialect=dialect,
            session=config,
            engines=state.engines,
            options=SessionOptions(
                max_duration_s=state.max_session_s[dialect],
                webrtc=True,
                executor=state.executor,
                on_close=functools.partial(_end_call, weakref.ref(self), "session closed"),
            ),
        )
        faulty.attach(self.session)
        self.session.audio_out = self.audio_out
        self.created_at = time.monotonic()
        self.answered_at: float | None = None
        self.opened_at: float | None = None
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()
        self._registered = False
        self._released = False
        self._ending: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timeout: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"Call({self.call_id!r}, {self.pc.connectionState})"

    # --- sideband ---

    def add_sideband(self, transport: Transport) -> None:
        """Also send this call's events to a sideband WebSocket (``?call_id=``)."""
        self.session.add_transport(transport)

    def remove_sideband(self, transport: Transport) -> None:
        """Stop sending to a sideband WebSocket."""
        self.session.remove_transport(transport)

    # --- setting up ---

    async def negotiate(self, offer_sdp: str, codecs: list[str]) -> None:
        """Apply the offer and make the full answer (after ICE gathering)."""
        pc = self.pc
        _, loopback_only = _resolve_ice_host(self.state.ice_host)
        offer_sdp, kept, dropped = _filter_remote_candidates(offer_sdp, loopback_only)
        if dropped:  # peer-reflexive candidates may still connect (as for candidate-less offers)
            log.info(
                "%s: ignored %d remote ICE candidate(s) (%s); kept %d",
                self.call_id,
                dropped,
                "loopback UDP only" if loopback_only else "UDP only",
                kept,
            )
        pc.on("datachannel", self._on_datachannel)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_connection_state)
        transceiver: Any = None
        if codecs:
            transceiver = pc.addTransceiver(self.audio_out, direction="sendrecv")
            capabilities = RTCRtpSender.getCapabilities("audio").codecs
            transceiver.setCodecPreferences(
                [c for name in codecs for c in capabilities if c.mimeType.lower() == name]
            )
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            answer = await pc.createAnswer()
        except Exception as exc:
            raise _invalid(f"The SDP offer could not be applied ({exc}).") from exc
        with ice_host_addresses(self.state.ice_host):
            await pc.setLocalDescription(answer)
        self.answer_sdp = pc.localDescription.sdp
        if transceiver is not None and _sends_opus(self.answer_sdp):
            self.audio_out.encode_opus()
        self.answered_at = time.monotonic()
        if transceiver is None or transceiver.currentDirection not in ("sendrecv", "sendonly"):
            # nobody receives our audio: play it into nothing so output_audio_buffer.* still work
            self._spawn(self._drain_unsent())

    def register(self) -> None:
        """Make the call and its session visible to the service."""
        self.state.calls[self.call_id] = self
        self.state.sessions.add(self.session)
        self._registered = True
        if self.state.on_session is not None:
            self.state.on_session(self.session)
        loop = asyncio.get_running_loop()
        self._timeout = loop.call_later(CONNECT_TIMEOUT_S, self._connect_timeout)

    def _connect_timeout(self) -> None:
        if not self.opened.is_set():
            log.warning(
                "%s: the data channel did not open in %g s", self.call_id, CONNECT_TIMEOUT_S
            )
            self.end("connect timeout")

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- peer events ---

    def _on_datachannel(self, channel: Any) -> None:
        if channel.label != EVENTS_CHANNEL or self.channel is not None:
            log.info("%s: ignoring data channel %r", self.call_id, channel.label)
            return
        self.channel = channel
        self.transport.attach(channel)
        channel.on("message", self._on_message)
        channel.on("close", lambda: self.end("data channel closed"))
        if channel.readyState == "open":
            self._on_open()
        else:
            channel.on("open", self._on_open)

    def _on_open(self) -> None:
        if self.opened.is_set() or self._ending is not None:
            return
        self.opened_at = time.monotonic()
        self.opened.set()
        if self._timeout is not None:
            self._timeout.cancel()
        self.session.start()
        self.transport.flush()

    def _on_message(self, message: str | bytes) -> None:
        self.session.receive(message)

    def _on_track(self, track: Any) -> None:
        if track.kind == "audio":
            self._spawn(self._pump_input(track))

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        log.debug("%s: connection %s", self.call_id, state)
        if state in ("failed", "closed"):
            self.end(f"connection {state}")

    async def _pump_input(self, track: Any) -> None:
        """Microphone frames → mono float32 24 kHz → the session (VAD, input buffer)."""
        import soxr

        resampler: Any = None
        rate = 0
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            samples, frame_rate = frame_to_mono(frame)
            if frame_rate != rate:
                rate = frame_rate
                resampler = (
                    None
                    if rate == _INPUT_RATE
                    else soxr.ResampleStream(rate, _INPUT_RATE, 1, dtype="float32")
                )
            if resampler is not None:
                samples = resampler.resample_chunk(samples)
            if not len(samples) or not self.opened.is_set() or self.session.closed:
                continue
            try:
                self.session.push_input_audio(samples)
            except Exception:  # an engine failed: keep the call
                log.exception("%s: input audio failed", self.call_id)

    async def _drain_unsent(self) -> None:
        while self.audio_out.readyState == "live":
            try:
                await self.audio_out.recv()
            except MediaStreamError:
                return

    # --- ending ---

    def end(self, reason: str = "") -> None:
        """Start ending the call (idempotent): close the session and the peer connection and
        release the key's session slot."""
        if self._ending is not None:
            return
        log.info("%s: ending (%s)", self.call_id, reason)
        self._ending = asyncio.ensure_future(self._teardown())

    async def _teardown(self) -> None:
        if self._timeout is not None:
            self._timeout.cancel()
        self.session.close()
        self.audio_out.stop()
        for task in list(self._tasks):
            task.cancel()
        self.release()
        try:
            await asyncio.wait_for(self.pc.close(), 5.0)
        except Exception as exc:
            log.warning("%s: closing the peer connection failed: %r", self.call_id, exc)
        self.closed.set()

    def release(self) -> None:
        """Forget the call and free its session slot (once)."""
        if self._released:
            return
        self._released = True
        if self._registered:
            self.state.calls.pop(self.call_id, None)
            self.state.sessions.discard(self.session)
            self.state.keys.close_session(self.principal)

    async def hangup(self) -> None:
        """End the call and wait until the peer connection is closed."""
        self.end("hangup")
        assert self._ending is not None
        await asyncio.shield(self._ending)


async def start_call(
    state: ServiceState,
    principal: Principal,
    offer_sdp: str,
    dialect: Dialect,
    config: SessionConfig,
) -> Call:
    """Answer ``offer_sdp`` and run a :class:`LocalSession` over WebRTC.

    Raises :class:`ProtocolError` (``invalid_offer``) for an unusable offer; the caller then
    releases the key's session slot. Once this returns, the call releases it when it ends.
    """
    _, codecs = _check_offer(offer_sdp)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    call = Call(state, principal, pc, dialect, config)
    try:
        await call.negotiate(offer_sdp, codecs)
    except BaseException:
        call.end("offer failed")  # not registered yet: the caller releases the slot
        assert call._ending is not None
        await asyncio.shield(call._ending)
        raise
    call.register()
    return call
