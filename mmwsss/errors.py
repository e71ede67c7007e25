"""The errors mmwsss raises for a user's mistake (as opposed to its own bugs).

Every tool ends on an :class:`MMWSSSError` (or a ``FileNotFoundError``) with
its message and exit code 1, no traceback (:func:`mmwsss.cli.run_tool`);
any other exception keeps its traceback, since it is a bug to report.
"""


class MMWSSSError(Exception):
    """A user's mistake: bad input data, a bad config or option. The message
    says what is wrong, where, and how to fix it."""


class WSSSConfigError(MMWSSSError, ValueError):
    """A config or command-line option that cannot work (a key nothing reads,
    a setting out of range...)."""


class WSSSInputError(MMWSSSError, ValueError):
    """Bad input data (a CAM, saliency map, label list...).

    The message always names the image id (when there is one) and the file,
    so a user can find and fix the offending input.
    """

    def __init__(self, msg, img_id=None, path=None):
        parts = []
        if img_id is not None:
            parts.append(f'image {img_id!r}')
        if path is not None:
            parts.append(f'file {str(path)!r}')
        prefix = ', '.join(parts)
        super().__init__(f'{prefix}: {msg}' if prefix else msg)
        self.img_id = img_id
        self.path = path


def check_arg(name: str, ok: bool, allowed: str, value, choices=()) -> None:
    """Refuse a bad argument value: ``<name> must be <allowed>, got <value>``,
    and the closest of ``choices`` when one is close (a misspelled name).

    The message starts with the argument's name, so that the start-up check
    (:func:`mmwsss.config.checks.check_config_values`) can put the config
    key in front of it.

    Raises:
        WSSSConfigError: unless ``ok``.
    """
    if not ok:
        import difflib
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ''
        raise WSSSConfigError(f'{name} must be {allowed}, got {value!r}{hint}')
