"""Finding the play a command works on: a directory, a Python file, a YAML file or a module."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from voicehook.clova.extension import Extension
from voicehook.play import Play, parse_definition


class TargetError(Exception):
    """The play target could not be found or loaded."""


def load_play(target: str) -> Play:
    """Load a play from ``target``.

    - a directory: its ``app.py`` (which defines ``play``), else its ``play.yaml``;
    - a ``.py`` file defining ``play`` (a :class:`Play`) or ``create_play()``;
    - a ``.yaml``/``.yml`` play definition (actions without handlers answer the
      unknown-action code);
    - ``package.module:attribute``.
    """
    path = Path(target)
    if path.is_dir():
        if (path / "app.py").is_file():
            return _from_file(path / "app.py")
        if (path / "play.yaml").is_file():
            return Play.from_file((path / "play.yaml").resolve())
        raise TargetError(f"{target}: no app.py or play.yaml in this directory")
    if path.suffix == ".py":
        if not path.is_file():
            raise TargetError(f"{target}: no such file")
        return _from_file(path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise TargetError(f"{target}: no such file")
        return Play.from_file(path.resolve())
    if ":" in target:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise TargetError(f"{target}: cannot import {module_name!r}: {exc}") from exc
        return _pick(module, target, attr)
    raise TargetError(f"{target}: not a directory, .py file, .yaml file or module:attribute")


def _from_file(path: Path) -> Play:
    return _pick(_import_file(path), str(path), None)


def _import_file(path: Path) -> object:
    name = _module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path.resolve())
    if spec is None or spec.loader is None:
        raise TargetError(f"{path}: cannot load")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_clova(target: str) -> Extension | None:
    """The direct-mode CLOVA extension of ``target``: a module's ``clova`` attribute (a
    :class:`~voicehook.clova.Extension`), or ``module:attribute`` naming one. None when the
    target defines none (the play then answers CLOVA in play mode)."""
    path = Path(target)
    if path.is_dir():
        path = path / "app.py"
    module: object | None = None
    attr = "clova"
    if path.suffix == ".py" and path.is_file():
        module = _import_file(path)
    elif ":" in target and not path.suffix:
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
    found = getattr(module, attr, None) if module is not None else None
    return found if isinstance(found, Extension) else None


def _module_name(path: Path) -> str:
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode(), usedforsecurity=False).hexdigest()[:8]
    return f"voicehook_app_{resolved.parent.name}_{digest}"


def _pick(module: object, where: str, attr: str | None) -> Play:
    names = [attr] if attr else ["play", "create_play"]
    if attr is None and getattr(module, "play", None) is None:
        names.append("clova")
    for n in names:
        obj = getattr(module, n, None)
        if obj is None:
            continue
        if isinstance(obj, Play):
            return obj
        if isinstance(obj, Extension):  # direct mode only: an empty play for NUGU
            return Play(parse_definition(f"name: {obj.name}\n"))
        if callable(obj):
            made = obj()
            if isinstance(made, Play):
                return made
        raise TargetError(f"{where}: {n!r} is not a voicehook Play")
    raise TargetError(f"{where}: defines no 'play' (a voicehook Play) or 'create_play()'")
