"""How every mmwsss tool starts and ends: without the OpenMMLab stack's deprecation
notices (:mod:`mmwsss.utils.upstream_noise`), and with a user's mistake as a message,
a bug as a traceback.

    if __name__ == '__main__':
        run_tool(main)

A user's mistake is an :class:`mmwsss.errors.MMWSSSError` (bad input data, a
bad config or option) or a ``FileNotFoundError`` (a path the user gave): the
tool prints ``<tool>: error: <message>`` on stderr and exits with code 1, no
traceback, since the message already says what to fix. ``SystemExit`` (what
the tools raise with a message) passes as it is; Ctrl-C exits with 130 and one
line, SIGTERM (``kill``, ``timeout``) with 143 and one line, after every ``with``
block has unwound as for Ctrl-C (the output lock let go, pool workers ended).
Anything else is our bug: its traceback is kept, to be reported.
``MMWSSS_TRACEBACK=1`` keeps the traceback of a user's mistake too.
"""
import argparse
import os
import os.path as osp
import re
import signal
import sys
import threading
from typing import Callable

from mmwsss.errors import MMWSSSError
from mmwsss.utils.upstream_noise import filter_upstream_warnings

USER_ERRORS = (MMWSSSError, FileNotFoundError)


def user_error_message(e: BaseException) -> str:
    """The one paragraph a user reads for a user's mistake ``e``."""
    msg = str(e) or type(e).__name__
    if isinstance(e, FileNotFoundError) and e.filename and str(e.filename) not in msg:
        msg = f'{msg}: {e.filename}'
    return msg


def refuse_overwrite(dst: str, force: bool, src: str = None, is_src: str = None) -> None:
    """Refuse to write ``dst``: when it is the input ``src`` (``is_src`` says why,
    after the path: ``--force`` would replace the input by the output), or when it
    exists and ``force`` is not set.

    Raises:
        SystemExit: with the message.
    """
    if src is not None and osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise SystemExit(f'{dst} {is_src}')
    if osp.exists(dst) and not force:
        raise SystemExit(f'{dst} exists; use --force to overwrite it')


class Terminated(BaseException):
    """SIGTERM reached a tool: raised where the main thread is, as Ctrl-C's
    ``KeyboardInterrupt`` is, so that the run unwinds instead of vanishing."""


def _raise_terminated(signum, frame):
    raise Terminated()


def run_tool(main: Callable, *args, prog: str = None, **kwargs):
    """Call ``main(*args, **kwargs)`` as a tool's entry point (see the module's
    docstring). Returns what ``main`` returns."""
    prog = prog or osp.basename(sys.argv[0] or 'mmwsss')
    filter_upstream_warnings()  # the stack's deprecation notices, each named there
    on_term = None
    # not in a launcher's rank (torchrun): a rank blocked in a collective runs no
    # Python handler, and its launcher's SIGTERM must end it as before
    if threading.current_thread() is threading.main_thread() and \
            'LOCAL_RANK' not in os.environ and \
            signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        on_term = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return main(*args, **kwargs)
    except USER_ERRORS as e:
        if os.environ.get('MMWSSS_TRACEBACK') == '1':
            raise
        print(f'{prog}: error: {user_error_message(e)}', file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print(f'{prog}: interrupted', file=sys.stderr)
        raise SystemExit(130) from None
    except Terminated:
        print(f'{prog}: terminated', file=sys.stderr)
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:
        if on_term is not None:
            signal.signal(signal.SIGTERM, on_term)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default once, as argparse's
    ``ArgumentDefaultsHelpFormatter``, but none for options whose default is
    None or False (required, or a switch): ``(default: None)`` says nothing; and
    none where the help already says it (``'... (default: min(4, CPUs))'``)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.required or \
                re.search(r'\bdefault\b', action.help or '', re.IGNORECASE):
            return action.help
        return super()._get_help_string(action)
