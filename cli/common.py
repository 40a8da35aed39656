"""What every command line of the library shares: errors that name the bad field, never a traceback.

:func:`command` wraps a command's ``main``: a :class:`~persuaders.envs.game.validation.SpecError` (a bad
game, config, option or file, named), a refused enumeration, an unreadable or unwritable path and
a full disk all end with one ``error: ...`` line on stderr and exit status 2; output piped into a
command that stops reading (``| head``) ends quietly; Ctrl+C exits with status 130. Set
``PERSUADERS_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from persuaders.envs.game.validation import SpecError

__all__ = ["command", "EXIT_BAD_INPUT"]

#: Exit status of a command given bad input (a game, config, option or file it cannot use).
EXIT_BAD_INPUT = 2


def _os_error(exc: OSError) -> str:
    path = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno == errno.EROFS:
        reason = "read-only file system: choose another --out"
    return f"{path}: {reason}" if path else reason


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (``| head``): end without a traceback (Python's recommended way)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def command(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a command's ``main(argv) -> status`` with the library's error handling (module docstring)."""

    @functools.wraps(main)
    def run(argv: Sequence[str] | None = None, *args: Any, **kwargs: Any) -> int:
        if os.environ.get("PERSUADERS_DEBUG"):
            return main(argv, *args, **kwargs)
        try:
            status = main(argv, *args, **kwargs)
            sys.stdout.flush()
            return status
        except BrokenPipeError:
            return _quiet_broken_pipe()
        except SpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
        except OSError as exc:
            print(f"error: {_os_error(exc)}", file=sys.stderr)
        except MemoryError:
            print("error: out of memory: the game or the run is too large for this machine", file=sys.stderr)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except ValueError as exc:  # the library's own checks (enumeration limits, profiles, options)
            print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    return run
