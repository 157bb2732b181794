"""``python -m voicehook`` is the ``voicehook`` command."""

from voicehook.cli import entry

entry()
