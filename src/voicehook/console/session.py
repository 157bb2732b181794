"""The console's one conversation log: turns, channels, reload, replay and transcripts.

This module knows nothing about HTTP; :mod:`voicehook.console.web` serves it to the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicehook.console.adapters import (
    ChannelAdapter,
    ChannelChoice,
    ConsoleError,
    LoadedPlay,
    engine_settings,
)
from voicehook.dialog.engine import DeviceEvent, Reset, TurnInput, UserText
from voicehook.play import DefinitionError

__all__ = ["ConsoleError", "ConsoleSession", "describe_load_error", "parse_turn"]

logger = logging.getLogger("voicehook.console")

#: ``file:line:column (json path): message``, as DefinitionError problems read.
_PLACE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+)(?: \([^)]*\))?: (?P<msg>.*)$")
#: Files whose change reloads the play.
WATCHED_SUFFIXES = (".py", ".yaml", ".yml")
_SKIP_DIRS = frozenset({".venv", "venv", "__pycache__", ".git", "node_modules", ".mypy_cache"})


@dataclass(slots=True)
class TurnRecord:
    input: dict[str, Any]
    view: dict[str, Any]
    expect: dict[str, Any]  # what a transcript expects of it (the channel's keys)


@dataclass(slots=True)
class Conversation:
    name: str
    channel: str
    turns: list[TurnRecord] = field(default_factory=list)
    note: str = ""
    #: Marks in the conversation: ``{"after": turns before it, "text": ...}`` (a reload).
    marks: list[dict[str, Any]] = field(default_factory=list)


def describe_load_error(exc: BaseException, folder: Path) -> list[dict[str, Any]]:
    """Problems of a failed (re)load, each with file, line and column where known."""
    out: list[dict[str, Any]] = []
    if isinstance(exc, DefinitionError):
        for problem in exc.problems:
            m = _PLACE.match(problem)
            if m:
                out.append(
                    {
                        "file": m["file"],
                        "line": int(m["line"]),
                        "column": int(m["column"]),
                        "message": m["msg"],
                        "text": problem,
                    }
                )
            else:
                out.append({"file": None, "line": None, "column": None, "text": problem})
        return out
    if isinstance(exc, SyntaxError):
        text = f"{exc.filename}:{exc.lineno}:{exc.offset or 1}: {type(exc).__name__}: {exc.msg}"
        return [
            {
                "file": exc.filename,
                "line": exc.lineno,
                "column": exc.offset or 1,
                "message": exc.msg,
                "text": text,
            }
        ]
    frames = traceback.extract_tb(exc.__traceback__)
    base = str(folder.resolve())
    mine = [f for f in frames if os.path.abspath(f.filename).startswith(base)]
    picked = mine or list(frames)
    message = f"{type(exc).__name__}: {exc}"
    if not picked:
        return [{"file": None, "line": None, "column": None, "text": message}]
    frame = picked[-1]
    column = (frame.colno or 0) + 1
    return [
        {
            "file": frame.filename,
            "line": frame.lineno,
            "column": column,
            "message": message,
            "text": f"{frame.filename}:{frame.lineno}:{column}: {message}",
        }
    ]


def parse_turn(data: Any) -> tuple[TurnInput, dict[str, Any]]:
    """A turn from the page or a transcript: ``{user: TEXT}``, ``{event: NAME, fields: {..}}``
    or ``{reset: true}``. Returns the engine input and the turn as a transcript writes it."""
    if not isinstance(data, Mapping):
        raise ConsoleError("a turn is {user: TEXT}, {event: NAME} or {reset: true}")
    kinds = [k for k in ("user", "event", "reset") if k in data]
    if len(kinds) != 1:
        raise ConsoleError("give exactly one of user, event or reset")
    if kinds[0] == "user":
        text = data["user"]
        text = "" if text is None else str(text)
        return UserText(text), {"user": text}
    if kinds[0] == "event":
        name = str(data["event"] or "").strip()
        if not name:
            raise ConsoleError("an event needs a name, e.g. PlaybackFinished")
        fields = data.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise ConsoleError("'fields' must be a mapping")
        record: dict[str, Any] = {"event": name}
        if fields:
            record["fields"] = dict(fields)
        return DeviceEvent(name, dict(fields)), record
    return Reset(), {"reset": True}


class ConsoleSession:
    """The play, the chosen channel and the conversations typed or replayed so far.

    ``loader`` (re)loads the play; it is called again when a watched file changes. A load
    that fails keeps the last good play running and records the problems for the page.
    """

    def __init__(
        self,
        loader: Callable[[], LoadedPlay],
        choices: list[ChannelChoice],
        *,
        seed: int,
        watch: Path | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        if not choices:
            raise ValueError("the console needs at least one channel")
        self.loader = loader
        self.choices = {c.name: c for c in choices}
        self.channel = choices[0].name
        self.seed = seed
        self.watch = watch
        self.poll_interval = poll_interval
        self.loaded: LoadedPlay | None = None
        self.adapter: ChannelAdapter | None = None
        self.problems: list[dict[str, Any]] = []
        self.conversations: list[Conversation] = []
        self.version = 0  # changes whenever the page must redraw everything
        self.reloads = 0
        #: What the last reload did to the conversation (the page shows it).
        self.reload_note = ""
        self._lock = asyncio.Lock()
        self._snapshot: dict[str, tuple[int, int]] = {}
        self._watcher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Load the play and start watching its folder."""
        self._snapshot = self.snapshot()
        async with self._lock:
            await self._load()
        if self.watch is not None:
            self._watcher = asyncio.create_task(self._watch_loop(), name="console-watch")

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        async with self._lock:
            if self.adapter is not None:
                await self.adapter.aclose()
                self.adapter = None

    async def _load(self) -> bool:
        try:
            loaded = await asyncio.to_thread(self.loader)
        except Exception as exc:
            folder = self.watch or Path.cwd()
            self.problems = describe_load_error(exc, folder)
            self.version += 1
            logger.warning("play not (re)loaded: %s", "; ".join(p["text"] for p in self.problems))
            return False
        old = self.adapter
        new = self.choices[self.channel].build(loaded)
        current = self.conversations[-1] if self.conversations else None
        kept: str | None = "no conversation yet"
        if old is not None and current is not None and current.turns:
            try:
                kept = await new.adopt(old)
            except Exception as exc:  # a broken hand-over must not stop the reload
                logger.exception("console: the conversation could not be handed over")
                kept = f"{type(exc).__name__}: {exc}"
        self.loaded = loaded
        self.adapter = new
        self.problems = []
        if old is not None:
            await old.aclose()
        if old is not None and current is not None and current.turns:
            if kept is None:
                text = "play reloaded here; the conversation goes on with the new play"
                self.reload_note = f"play reloaded: {current.name} goes on (state kept)"
            else:
                text = f"play reloaded here; this conversation cannot go on: {kept}"
                self.reload_note = (
                    f"play reloaded: {current.name} cannot go on ({kept}); "
                    "a new conversation started"
                )
            current.marks.append({"after": len(current.turns), "text": text})
        elif old is not None:
            self.reload_note = "play reloaded"
        if kept is not None:
            self._new_conversation()
        self.version += 1
        return True

    # ------------------------------------------------------------------ watching

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """mtime and size of every watched file under the play folder."""
        out: dict[str, tuple[int, int]] = {}
        if self.watch is None:
            return out
        root = self.watch
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
            if len(Path(dirpath).relative_to(root).parts) > 3:
                dirnames[:] = []
            for name in filenames:
                if name.endswith(WATCHED_SUFFIXES):
                    path = os.path.join(dirpath, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    out[path] = (st.st_mtime_ns, st.st_size)
        return out

    async def check_files(self) -> bool:
        """Reload when a watched file changed since the last look. True when it reloaded."""
        now = await asyncio.to_thread(self.snapshot)
        if now == self._snapshot:
            return False
        self._snapshot = now
        await self.reload()
        return True

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.check_files()
            except Exception:  # never let the watcher die; the page shows load problems
                logger.exception("console: checking the play's files failed")

    async def reload(self) -> bool:
        """Load the play again. On failure the last good play keeps running."""
        async with self._lock:
            ok = await self._load()
        if ok:
            self.reloads += 1
            logger.info("%s", self.reload_note or "play reloaded")
        return ok

    # ------------------------------------------------------------------ conversations

    def _new_conversation(self) -> Conversation:
        if self.conversations and not self.conversations[-1].turns:
            self.conversations.pop()  # an empty conversation is not worth keeping
        taken = {c.name for c in self.conversations}
        n = len(self.conversations) + 1
        while f"대화 {n}" in taken:
            n += 1
        return self._start_conversation(f"대화 {n}")

    def _start_conversation(self, name: str) -> Conversation:
        if self.conversations and not self.conversations[-1].turns:
            self.conversations.pop()
        taken = {c.name for c in self.conversations}
        unique, k = name, 2
        while unique in taken:
            unique, k = f"{name} ({k})", k + 1
        conv = Conversation(unique, self.channel)
        self.conversations.append(conv)
        assert self.adapter is not None
        # The scope voicehook test gives the first conversation of this name.
        self.adapter.reset(f"1:{unique}")
        return conv

    def _require(self) -> ChannelAdapter:
        if self.adapter is None:
            raise ConsoleError("the play did not load; fix the problems shown and save the file")
        return self.adapter

    async def turn(self, data: Any) -> dict[str, Any]:
        """Run one turn from the page; returns the turn view."""
        inp, record = parse_turn(data)
        async with self._lock:
            adapter = self._require()
            view = await adapter.turn(inp)
            self.conversations[-1].turns.append(
                TurnRecord(record, view, adapter.expectations(view))
            )
        return view

    async def reset(self) -> None:
        """Start a new conversation (a new device, no session)."""
        async with self._lock:
            self._require()
            self._new_conversation()
            self.reload_note = ""
            self.version += 1

    async def select(self, channel: str) -> None:
        """Switch the channel; the conversation starts over."""
        if channel not in self.choices:
            raise ConsoleError(f"unknown channel {channel!r}; one of {', '.join(self.choices)}")
        async with self._lock:
            if channel == self.channel and self.adapter is not None:
                return
            self.channel = channel
            if self.loaded is None:
                return
            old = self.adapter
            self.adapter = self.choices[channel].build(self.loaded)
            if old is not None:
                await old.aclose()
            self._new_conversation()
            self.reload_note = ""
            self.version += 1

    async def replay(self, text: str) -> int:
        """Replay the turns of a transcript (YAML text). Returns how many turns ran."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConsoleError(f"invalid YAML: {exc}") from None
        convs = data.get("conversations") if isinstance(data, dict) else None
        if not isinstance(convs, list) or not convs:
            raise ConsoleError("a transcript has a non-empty 'conversations' list")
        plan: list[tuple[str, list[tuple[TurnInput, dict[str, Any]]]]] = []
        for i, conv in enumerate(convs, 1):
            if not isinstance(conv, dict) or not isinstance(conv.get("turns"), list):
                raise ConsoleError(f"conversation {i}: expected a mapping with 'turns'")
            try:
                turns = [parse_turn(t) for t in conv["turns"]]
            except ConsoleError as exc:
                raise ConsoleError(f"conversation {i}: {exc}") from None
            plan.append((str(conv.get("name") or f"conversation {i}"), turns))
        count = 0
        async with self._lock:
            adapter = self._require()
            for name, turns in plan:
                conv_rec = self._start_conversation(name)
                conv_rec.note = "replayed"
                for inp, record in turns:
                    view = await adapter.turn(inp)
                    conv_rec.turns.append(TurnRecord(record, view, adapter.expectations(view)))
                    count += 1
            self._new_conversation()
            self.version += 1
        return count

    # ------------------------------------------------------------------ transcripts

    def transcript(self, path: Path) -> str:
        """The conversations so far as a transcript file written at ``path``."""
        if self.loaded is None:
            raise ConsoleError("no play is loaded")
        adapter = self._require()
        if not adapter.transcripts:
            raise ConsoleError(
                f"conversations on {adapter.label} cannot be saved as transcripts: {adapter.note}"
            )
        convs = [c for c in self.conversations if c.turns and c.channel == adapter.name]
        others = sum(1 for c in self.conversations if c.turns and c.channel != adapter.name)
        if not convs:
            raise ConsoleError(f"nothing to save yet on {adapter.label}: say something first")
        target = self.loaded.target.resolve()
        play = os.path.relpath(target, path.resolve().parent)
        doc: dict[str, Any] = {"play": Path(play).as_posix()}
        backend_url = getattr(adapter, "backend_url", None)
        if backend_url:
            doc["backend"] = backend_url
        play_settings = engine_settings(self.loaded.definition, self.seed)
        if self.loaded.definition.settings.get("seed") is None:
            doc["settings"] = {"seed": play_settings.seed}
        doc["conversations"] = [
            {
                "name": c.name,
                "turns": [{**t.input, "expect": t.expect} for t in c.turns],
            }
            for c in convs
        ]
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        run = f"voicehook test {path.name}"
        if adapter.test_channel != "nugu":
            run += f" --channel {adapter.test_channel}"
        head = (
            f"# Saved by voicehook console ({stamp}) from {adapter.label}.\n"
            f"# Run it: {run}\n"
            "# The expectations are what the play answered; loosen prompt: to prompt_contains:\n"
            "# where the answer may change (dates, live data).\n"
        )
        if others:
            head += f"# {others} conversation(s) on other channels are not in this file.\n"
        if any(c.marks for c in convs):
            head += "# The play was reloaded during a conversation: its earlier turns are the\n"
            head += "# old play's answers. Run this file and fix what changed.\n"
        body = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
        return head + body

    def save(self, name: str, *, overwrite: bool = False) -> Path:
        """Write the transcript to ``name`` inside the play's folder."""
        if self.loaded is None:
            raise ConsoleError("no play is loaded")
        folder = self.loaded.folder.resolve()
        rel = Path(name.strip())
        if not name.strip() or rel.is_absolute() or rel.suffix not in (".yaml", ".yml"):
            raise ConsoleError("give a .yaml file name relative to the play's folder")
        path = (folder / rel).resolve()
        if not path.is_relative_to(folder):
            raise ConsoleError("the transcript must stay inside the play's folder")
        if path.exists() and not overwrite:
            raise ConsoleError(f"{rel} exists; choose another name or allow overwriting")
        text = self.transcript(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self._snapshot = self.snapshot()  # our own file is not an edit of the play
        return path

    # ------------------------------------------------------------------ views

    def info(self) -> dict[str, Any]:
        """Everything the page draws."""
        defn = self.loaded.definition if self.loaded is not None else None
        return {
            "version": self.version,
            "reloads": self.reloads,
            "play": None
            if defn is None
            else {
                "name": defn.name,
                "invocation": defn.invocation,
                "actions": len(defn.actions),
                "folder": str(self.loaded.folder) if self.loaded else None,
            },
            "channel": self.channel,
            "channels": [{"name": c.name, "label": c.label} for c in self.choices.values()],
            "channel_note": self.adapter.note if self.adapter is not None else "",
            "events": list(self.adapter.events) if self.adapter is not None else [],
            "transcripts": self.adapter.transcripts if self.adapter is not None else False,
            "test_channel": self.adapter.test_channel if self.adapter is not None else "nugu",
            "reload_note": self.reload_note,
            "problems": self.problems,
            "state": self.adapter.state() if self.adapter is not None else None,
            "conversations": [
                {
                    "name": c.name,
                    "channel": c.channel,
                    "note": c.note,
                    "marks": c.marks,
                    "turns": [{"input": t.input, "view": t.view} for t in c.turns],
                }
                for c in self.conversations
            ],
            "default_save_name": "console-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S") + ".yaml",
        }
