"""marshmallow fields and validators the request schemas share (``schemas.py``, and
the parameter specs of ``definitions.py``, which ``schemas.py`` imports)."""

import typing

from marshmallow import ValidationError, fields, validate


class FullMatch(validate.Regexp):
    """``validate.Regexp`` on the whole value: its ``re.match`` lets ``$`` accept a
    trailing newline."""

    @typing.overload
    def __call__(self, value: str) -> str: ...

    @typing.overload
    def __call__(self, value: bytes) -> bytes: ...

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def storable_text(value: str) -> None:
    r"""Refuse what JSON can carry but PostgreSQL text cannot hold, rather than fail on insert.

    Parameters
    ----------
    value : str

    Raises
    ------
    marshmallow.ValidationError
        ``value`` holds a NUL or an unpaired surrogate (\ud800-\udfff).
    """
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("must not contain unpaired surrogates (\\ud800-\\udfff)")


class JsonBoolean(fields.Boolean):
    """A boolean in a JSON body: ``true`` or ``false`` only. marshmallow's Boolean
    also takes "yes", "on", 1 and "off", so a typo'd or mistyped value would pass
    as one a client did not mean (``"execute": "no"`` is not false). Query
    parameters keep ``fields.Boolean``: they arrive as text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):  # 1 == True: a set of {True} would take it
            raise self.make_error("invalid")
        return value
