"""bthub credentials from a config file only its owner can read.

The environment (OBVIEW_BTHUB_USER / OBVIEW_BTHUB_PASSWORD) comes first; otherwise
`$XDG_CONFIG_HOME/obview/bthub.toml` (default `~/.config/obview/bthub.toml`):

    user = "alice"
    password = "..."

A file that group or others may read is refused, as ssh refuses such a key: a password
other accounts can read is already leaked. Only a regular file is read (a FIFO there
would otherwise block the start for ever). Light module: the CLI imports it.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

MAX_FILE_BYTES = 64 * 1024  # two short strings; anything bigger is not this file


class CredentialsError(ValueError):
    """The config file exists but cannot be used; the message is one line for the user."""


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "obview" / "bthub.toml"


def load_credentials(path: Path | None = None) -> tuple[str, str] | None:
    """(user, password) from the config file, None when there is no file."""
    path = path or config_path()
    try:
        # O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; what is
        # opened is then checked with fstat, so nothing can be swapped in between.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CredentialsError(f"refusing {path}: not a regular file")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CredentialsError(
                f"refusing {path}: other users can access it (mode {stat.S_IMODE(info.st_mode):03o}); "
                f"run: chmod 600 {path}"
            )
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise CredentialsError(f"refusing {path}: it belongs to another user")
        if info.st_size > MAX_FILE_BYTES:
            raise CredentialsError(f"refusing {path}: larger than {MAX_FILE_BYTES} bytes")
        try:
            data = tomllib.loads(handle.read(MAX_FILE_BYTES).decode("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            # The parser's message may quote a line of the file, i.e. the password: not shown.
            raise CredentialsError(f"cannot parse {path}: {type(exc).__name__}") from None
    user, password = data.get("user"), data.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user or not password:
        raise CredentialsError(f"{path} needs both user = \"...\" and password = \"...\"")
    return user, password
