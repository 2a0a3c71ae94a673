"""Responders: what the local service "says". Deterministic by default, so tests can rely on it.

:class:`EchoResponder` rules, in order:

1. The last item is a function call output → it reports the result:
   ``"The get_weather tool returned: {...}."``
2. Tools are available and ``tool_choice`` allows them, and the user's last words name a tool (its
   name, or all the words of its name split on ``_``, e.g. "weather" for ``get_weather``), or
   ``tool_choice`` is ``"required"`` / names a function → a **function call**, with arguments
   filled from the words: numbers for integer/number parameters, an ``enum`` value that was said,
   yes/no for booleans, and for strings the words after "in", "for", "of", "about", "to", "at" or
   "called" (else the last word), in the case they were said or typed ("Paris" stays "Paris").
3. Otherwise a text answer about what it heard: ``"You said: hello there."``; for audio it could not
   recognise, ``"I heard 1.2 seconds of audio."``. If the instructions ask to translate
   ("translate ... into French/Spanish/German"), it says so and repeats the words with the target
   language named (there is no translation engine offline). If the user asks for code or a
   computation ("write code", "compute", "plot"), the answer contains a fenced Python block.

:class:`ChatCompletionsResponder` forwards the conversation to any OpenAI-compatible
``/chat/completions`` URL instead (optional; needs network access to that URL).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "Answer",
    "ChatCompletionsResponder",
    "ContextItem",
    "EchoResponder",
    "Responder",
    "ToolCall",
]


@dataclass(frozen=True)
class ContextItem:
    """One conversation item as the responder sees it."""

    role: str  # "user", "assistant", "system", "tool" (function call output), "call"
    text: str = ""
    audio_ms: float = 0.0
    name: str | None = None  # function name for calls and outputs
    call_id: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """A function call the responder decided to make."""

    name: str
    arguments: dict[str, Any]


@dataclass
class Answer:
    """What to answer: text (spoken or written) and/or function calls."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)


class Responder(Protocol):
    """Decides the content of a response from the conversation."""

    def respond(
        self,
        items: Sequence[ContextItem],
        *,
        instructions: str = "",
        tools: Sequence[Mapping[str, Any]] = (),
        tool_choice: Any = "auto",
    ) -> Answer:
        """The answer to the conversation so far."""
        ...


_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}  # fmt: skip
_PREPOSITIONS = ("in", "for", "of", "about", "to", "at", "called", "named", "from")
_STOP = {"the", "a", "an", "please", "now", "today", "tomorrow", "is", "what", "whats"}
_LANGUAGES = ("french", "spanish", "german", "italian", "portuguese", "japanese", "chinese")
_CODE_WORDS = ("code", "compute", "calculate", "plot", "python", "function", "program")


def _tokens(text: str) -> list[str]:
    """The words of ``text`` as said (case kept: "Paris" stays a name)."""
    return re.findall(r"[A-Za-z0-9']+", text)


def _words(text: str) -> list[str]:
    """The words of ``text`` in lower case, for matching."""
    return [t.lower() for t in _tokens(text)]


def _numbers(words: Sequence[str]) -> list[float]:
    out: list[float] = []
    i = 0
    while i < len(words):
        w = words[i]
        if re.fullmatch(r"\d+(\.\d+)?", w):
            out.append(float(w))
        elif w in _NUMBER_WORDS:
            value = _NUMBER_WORDS[w]
            if i + 1 < len(words) and words[i + 1] in _NUMBER_WORDS and value >= 20:
                nxt = _NUMBER_WORDS[words[i + 1]]
                if nxt < 10:
                    value += nxt
                    i += 1
            out.append(float(value))
        i += 1
    return out


def _tool_words(name: str) -> list[str]:
    parts = [p for p in re.split(r"[_\-\s]+|(?<=[a-z])(?=[A-Z])", name) if p]
    return [p.lower() for p in parts if p.lower() not in ("get", "set", "do", "run", "fn")]


def _names_tool(words: Sequence[str], tool: Mapping[str, Any]) -> bool:
    name = str(tool.get("name", ""))
    joined = " ".join(words)
    if name.lower() in joined or name.lower().replace("_", " ") in joined:
        return True
    key = _tool_words(name)
    return bool(key) and all(k in words for k in key)


def _content(tokens: Sequence[str], used: set[str]) -> list[str]:
    """The tokens that are neither stop words nor already used (compared in lower case)."""
    return [t for t in tokens if t.lower() not in _STOP and t.lower() not in used]


def _string_argument(tokens: Sequence[str], used: set[str]) -> str:
    for i, w in enumerate(tokens[:-1]):
        if w.lower() in _PREPOSITIONS:
            rest = _content(tokens[i + 1 :], used)
            if rest:
                return " ".join(rest[:3])
    candidates = _content(tokens, used)
    return candidates[-1] if candidates else ""


def fill_arguments(schema: Mapping[str, Any], text: str, tool_name: str = "") -> dict[str, Any]:
    """Arguments for a JSON-schema ``parameters`` object, filled from the user's words (strings
    keep the words' case, as a model would: "weather in Paris" gives "Paris")."""
    tokens = _tokens(text)
    words = [t.lower() for t in tokens]
    used = set(_tool_words(tool_name))
    numbers = _numbers(words)
    props = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(props, Mapping):
        return {}  # a schema without properties (or a malformed one): no arguments to fill
    required_value = schema.get("required")
    required = (
        [str(r) for r in required_value]
        if isinstance(required_value, list)
        else [str(k) for k in props]
    )
    args: dict[str, Any] = {}
    for pname, pschema in props.items():
        ptype = pschema.get("type") if isinstance(pschema, Mapping) else None
        enum = pschema.get("enum") if isinstance(pschema, Mapping) else None
        value: Any = None
        if enum:
            spoken = [e for e in enum if str(e).lower() in words]
            value = spoken[0] if spoken else (enum[0] if pname in required else None)
        elif ptype in ("integer", "number"):
            if numbers:
                n = numbers.pop(0)
                value = int(n) if ptype == "integer" else n
            elif pname in required:
                value = 0
        elif ptype == "boolean":
            if any(w in words for w in ("yes", "true", "on", "enable")):
                value = True
            elif any(w in words for w in ("no", "false", "off", "disable")) or pname in required:
                value = False
        elif ptype == "array":
            value = _content(tokens, used)[:3]
        elif ptype == "object":
            value = {}
        else:
            value = _string_argument(tokens, used)
            if value:
                used.update(value.lower().split())
        if value is not None and (value != "" or pname in required):
            args[pname] = value
    return args


#: The echo repeats at most this many words (a model's answer is bounded too).
ECHO_MAX_WORDS = 60


def _brief(text: str) -> str:
    """What was heard, to quote in a sentence of the answer: at most :data:`ECHO_MAX_WORDS`
    words, without the closing punctuation a recogniser adds (the answer ends its own sentence:
    "You said: hello." rather than "You said: hello..")."""
    words = text.split()
    if len(words) <= ECHO_MAX_WORDS:
        return text.strip().rstrip(".!?,;:")
    return " ".join(words[:ECHO_MAX_WORDS]) + " …"


_CODE_TEMPLATE = """```python
{code}
```"""


def _code_for(text: str) -> str:
    numbers = _numbers(_words(text))
    if "plot" in text.lower():
        code = (
            "import numpy as np\nimport matplotlib.pyplot as plt\n\n"
            "x = np.linspace(0, 2 * np.pi, 200)\nplt.plot(x, np.sin(x))\nplt.show()"
        )
    elif len(numbers) >= 2 and ("times" in text or "multiply" in text):
        code = f"result = {numbers[0]:g} * {numbers[1]:g}\nprint(result)"
    elif len(numbers) >= 2:
        code = f"result = {numbers[0]:g} + {numbers[1]:g}\nprint(result)"
    elif numbers:
        n = int(numbers[0])
        code = f"squares = [i * i for i in range({n})]\nprint(squares)"
    else:
        code = 'print("hello from rt_jupyter")'
    return _CODE_TEMPLATE.format(code=code)


class EchoResponder:
    """The deterministic offline responder (see the module docstring for its rules)."""

    def respond(
        self,
        items: Sequence[ContextItem],
        *,
        instructions: str = "",
        tools: Sequence[Mapping[str, Any]] = (),
        tool_choice: Any = "auto",
    ) -> Answer:
        last = items[-1] if items else None
        if last is not None and last.role == "tool":
            return Answer(text=f"The {last.name or 'tool'} tool returned: {last.text}.")
        user = next((i for i in reversed(items) if i.role == "user"), None)
        heard = user.text.strip() if user else ""
        words = _words(heard)
        functions = [t for t in tools if t.get("type", "function") == "function" and t.get("name")]
        if functions and tool_choice != "none":
            forced = None
            if isinstance(tool_choice, Mapping) and tool_choice.get("name"):
                forced = next((t for t in functions if t["name"] == tool_choice["name"]), None)
            chosen = forced or next((t for t in functions if _names_tool(words, t)), None)
            if chosen is None and tool_choice == "required":
                chosen = functions[0]
            if chosen is not None:
                schema = chosen.get("parameters") or {}
                args = fill_arguments(schema, heard, str(chosen["name"]))
                return Answer(tool_calls=[ToolCall(str(chosen["name"]), args)])
        if user is None:
            return Answer(text="Hello! I am the rt_jupyter local service. Say something.")
        if not heard:
            seconds = user.audio_ms / 1000
            return Answer(text=f"I heard {seconds:.1f} seconds of audio.")
        lowered = instructions.lower()
        language = next((lang for lang in _LANGUAGES if lang in lowered), None)
        if "translat" in lowered and language:
            return Answer(text=f"In {language.capitalize()}: {_brief(heard)}.")
        if any(w in words for w in _CODE_WORDS):
            return Answer(text=f"Here is code for: {_brief(heard)}.\n\n{_code_for(heard)}")
        return Answer(text=f"You said: {_brief(heard)}.")


class ChatCompletionsResponder:
    """Forwards the conversation to an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def respond(
        self,
        items: Sequence[ContextItem],
        *,
        instructions: str = "",
        tools: Sequence[Mapping[str, Any]] = (),
        tool_choice: Any = "auto",
    ) -> Answer:
        import urllib.request

        messages: list[dict[str, Any]] = []
        if instructions:
            messages.append({"role": "system", "content": instructions})
        for item in items:
            if item.role in ("user", "assistant", "system") and item.text:
                messages.append({"role": item.role, "content": item.text})
            elif item.role == "call":
                messages.append(
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": item.call_id,
                                "type": "function",
                                "function": {"name": item.name, "arguments": item.text},
                            }
                        ],
                    }
                )
            elif item.role == "tool":
                messages.append(
                    {"role": "tool", "tool_call_id": item.call_id, "content": item.text}
                )
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        functions = [t for t in tools if t.get("type", "function") == "function"]
        if functions:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {k: t[k] for k in ("name", "description", "parameters") if k in t},
                }
                for t in functions
            ]
            body["tool_choice"] = tool_choice
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as resp:
            data = json.load(resp)
        message = data["choices"][0]["message"]
        calls = [
            ToolCall(c["function"]["name"], json.loads(c["function"].get("arguments") or "{}"))
            for c in message.get("tool_calls") or []
        ]
        return Answer(text=message.get("content") or "", tool_calls=calls)
