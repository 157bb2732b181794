"""voicehook."""
