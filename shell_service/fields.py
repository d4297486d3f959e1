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


class DependsOn(fields.Field):
    """A job's ``depends_on`` (``dependencies.parse_depends_on``): loads to a list
    of ``(job id, condition)``; every id must be a job's name.

    Raises
    ------
    marshmallow.ValidationError
        Saying what is wrong (a 400 names the field).
    """

    def _deserialize(self, value, attr, data, **kwargs) -> list[tuple[str, str]]:
        from .dependencies import DependencyError, parse_depends_on
        from .job_paths import is_job_id

        try:
            pairs = parse_depends_on(value)
        except DependencyError as exc:
            raise ValidationError(str(exc)) from exc
        for job_id, _ in pairs:
            if not is_job_id(job_id):
                raise ValidationError(f"{job_id[:140]!r} is not a job id")
        return pairs


class ArrayField(fields.Field):
    """A job's ``array``: a size (an integer) or sbatch's ``--array`` text, loaded
    as given; the handler reads it with ``arrays.parse_array`` (it needs the
    config's ``arrays.max_size``).

    Raises
    ------
    marshmallow.ValidationError
        Neither an integer nor a string, or a string over 10,000 characters.
    """

    def _deserialize(self, value, attr, data, **kwargs) -> int | str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValidationError("must be a size (an integer) or a string such as '0-99%10'")
        if isinstance(value, str):
            if len(value) > 10_000:
                raise ValidationError("must be at most 10,000 characters")
            storable_text(value)
        return value
