"""Job definitions: typed parameters, their values, and the job a run makes.

A definition's version holds a script, the job options it gives by default and
a list of typed parameters (``ParameterSpec``). A run checks each value the
caller sends against its parameter (``check_values``) and makes the job's
fields (``job_from_version``): the version's code, shell, args, env and stdin,
its options under the caller's overrides, and each parameter passed as an
environment variable (by default) or a positional argument after the version's
own args. The API's run and the scheduler's fire both call it.

Where the rules come from: the types are script-server's and Rundeck's option
types (string, integer, number, boolean, choice, multichoice) plus ``secret``
(Rundeck's secure option): a secret's value reaches the job only in its
environment, is stored apart from the job's fields (``jobs.secret_env``) and is
shown as ``SECRET_MASK`` wherever the job's parameters are shown.

Patterns are user text run against user text, so they are RE2 patterns
(google-re2: the syntax of Go's regexp, no lookaround or backreference): RE2
matches in time linear in the value and compiles within a memory budget
(``PATTERN_MEMORY``), so no pattern can backtrack for ever or fill the host's
memory (Python's ``re``, and ``regex`` with a time limit, can do the latter:
``a{1000000000}``).
"""

import functools
import math
import re
from dataclasses import dataclass

import re2
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from .fields import FullMatch, JsonBoolean, storable_text

#: The parameter types (``ParameterSpec.type``).
PARAMETER_TYPES = ("string", "integer", "number", "boolean", "choice", "multichoice", "secret")

#: What a secret parameter's value is shown as, wherever a job's parameters are shown.
SECRET_MASK = "********"

#: Bytes of memory RE2 may use to compile and run one parameter's pattern.
PATTERN_MEMORY = 1 << 20

#: The longest value a string or secret parameter takes, UTF-8 bytes (far inside
#: execve's 128 KiB per variable, and what one pattern match reads at most).
MAX_VALUE_BYTES = 65536

#: A whole number, and a decimal number, as integer and number parameters take them
#: in a string: ASCII digits only (``float()`` also takes "1_0", " 1.5" and other
#: scripts' digits).
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,19}")
_NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")

#: What an integer parameter holds: a PostgreSQL bigint (the job's recorded values).
INTEGER_RANGE = (-(2**63), 2**63 - 1)


@functools.lru_cache(maxsize=1024)
def compiled_pattern(pattern: str) -> "re2._Regexp":
    """A parameter's pattern, compiled by RE2 within ``PATTERN_MEMORY``.

    Raises
    ------
    re2.error
        Not an RE2 pattern, or one too big to compile.
    """
    options = re2.Options()
    options.max_mem = PATTERN_MEMORY
    options.log_errors = False
    return re2.compile(pattern, options=options)


#: Names of definitions and parameters: one word.
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]{0,63}"
PARAMETER_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
ENV_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,127}"

#: The job options a definition gives by default and a run may override.
JOB_OPTIONS = (
    "queue", "timeout", "cpus", "memory_mb", "priority", "requeue_on_host_loss", "retry",
)  # fmt: skip

#: Most parameters in one definition, most choices in one parameter.
MAX_PARAMETERS = 100
MAX_CHOICES = 500


class ParameterError(ValueError):
    """A value a parameter refuses; ``str()`` says what is wrong (without the value)."""


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ParameterSpec(Schema):
    """One typed parameter of a definition (as stored and shown).

    ``type`` decides what else may be given: ``choices`` (choice, multichoice),
    ``min``/``max`` (integer, number: the value's bounds, inclusive),
    ``pattern`` (string, secret: a regular expression the whole value must
    match), ``separator`` (multichoice: how the chosen values are joined, ","
    by default). ``pass_as`` is ``env`` (the variable ``env_var``, by default the
    parameter's name) or ``arg`` (a positional argument, in the order the
    parameters are listed, after the definition's args; an unset one is an empty
    argument, so positions do not move). A secret is passed only as ``env`` and
    has no default (a default would be stored, and shown, in the definition).
    Loading raises ``marshmallow.ValidationError`` keyed by field.
    """

    name = fields.String(
        required=True,
        validate=FullMatch(
            PARAMETER_NAME_PATTERN,
            error="must be 1-64 letters, digits or '_', not starting with a digit",
        ),
    )
    type = fields.String(required=True, validate=validate.OneOf(PARAMETER_TYPES))
    description = fields.String(validate=[validate.Length(max=4096), storable_text])
    required = JsonBoolean(load_default=False)
    default = fields.Raw(allow_none=True)
    choices = fields.List(
        fields.String(validate=[validate.Length(min=1, max=1024), storable_text]),
        validate=validate.Length(min=1, max=MAX_CHOICES),
    )
    min = fields.Float(allow_nan=False)
    max = fields.Float(allow_nan=False)
    pattern = fields.String(validate=[validate.Length(min=1, max=1024), storable_text])
    separator = fields.String(validate=[validate.Length(min=1, max=8), storable_text])
    pass_as = fields.String(load_default="env", validate=validate.OneOf(["env", "arg"]))
    env_var = fields.String(
        validate=FullMatch(
            ENV_NAME_PATTERN,
            error="environment variable names are letters, digits and '_', "
            "not starting with a digit",
        )
    )

    @validates_schema
    def _fits_its_type(self, data: dict, **kwargs) -> None:
        kind = data.get("type")
        if kind is None:
            return
        errors: dict[str, list[str]] = {}

        def refuse(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        if kind in ("choice", "multichoice"):
            if "choices" not in data:
                refuse("choices", f"a {kind} parameter needs its choices")
            elif len(set(data["choices"])) != len(data["choices"]):
                refuse("choices", "must not repeat a choice")
        elif "choices" in data:
            refuse("choices", f"only choice and multichoice parameters have choices, not {kind}")
        for bound in ("min", "max"):
            if bound in data and kind not in ("integer", "number"):
                refuse(bound, f"only integer and number parameters have bounds, not {kind}")
            elif bound in data and kind == "integer" and not float(data[bound]).is_integer():
                refuse(bound, "an integer parameter's bound must be a whole number")
            elif (
                bound in data
                and kind == "integer"
                and not (INTEGER_RANGE[0] <= data[bound] <= INTEGER_RANGE[1])
            ):
                refuse(bound, f"must be between {INTEGER_RANGE[0]} and {INTEGER_RANGE[1]}")
        if "min" in data and "max" in data and data["min"] > data["max"]:
            refuse("max", "must not be less than min")
        if "pattern" in data:
            if kind not in ("string", "secret"):
                refuse("pattern", f"only string and secret parameters have a pattern, not {kind}")
            else:
                try:
                    compiled_pattern(data["pattern"])
                except re2.error as exc:
                    refuse("pattern", f"not an RE2 regular expression: {_re2_message(exc)}")
        if "separator" in data and kind != "multichoice":
            refuse("separator", "only multichoice parameters have a separator")
        if kind == "secret":
            if data.get("pass_as") == "arg":
                refuse("pass_as", "a secret is passed only in the environment (args are shown)")
            if data.get("default") is not None:
                refuse("default", "a secret has no default (it would be shown with its definition)")
        if data.get("required") and data.get("default") is not None:
            refuse("default", "a required parameter has no default (make it optional)")
        separator = data.get("separator", ",")
        if kind == "multichoice" and any(separator in c for c in data.get("choices", [])):
            refuse("choices", f"a choice must not hold the separator {separator!r}")
        if data.get("pass_as") == "arg" and "env_var" in data:
            refuse("env_var", "only a parameter passed as env has an env_var")
        if errors:
            raise ValidationError(errors)
        if data.get("default") is not None:
            try:
                check_value(data, data["default"])
            except ParameterError as exc:
                raise ValidationError({"default": [str(exc)]})

    @post_load
    def _whole_bounds(self, data: dict, **kwargs) -> dict:
        # A bound that is a whole number is kept (and shown) as one: 5, not 5.0.
        for bound in ("min", "max"):
            if bound in data and float(data[bound]).is_integer() and abs(data[bound]) < 2**63:
                data[bound] = int(data[bound])
        if "default" in data and data["default"] is not None:
            data["default"] = check_value(data, data["default"])
        return data


def check_parameter_specs(specs: list[dict]) -> None:
    """What one parameter cannot see: names and variables used once.

    Parameters
    ----------
    specs : list of dict
        Parameters as loaded by ``ParameterSpec``.

    Raises
    ------
    marshmallow.ValidationError
        Keyed ``parameters``: a repeated name, or two parameters passed in the
        same environment variable.
    """
    errors = []
    names: set[str] = set()
    variables: set[str] = set()
    for spec in specs:
        if spec["name"] in names:
            errors.append(f"{spec['name']}: two parameters have this name")
        names.add(spec["name"])
        if spec.get("pass_as", "env") == "env":
            variable = env_var(spec)
            if variable in variables:
                errors.append(f"{spec['name']}: another parameter is passed as ${variable}")
            variables.add(variable)
    if errors:
        raise ValidationError({"parameters": errors})


def env_var(spec: dict) -> str:
    """The environment variable a parameter passed as env is set in (its name by default)."""
    return spec.get("env_var") or spec["name"]


def check_value(spec: dict, value):
    """A value a parameter accepts, in its stored form.

    Parameters
    ----------
    spec : dict
        The parameter (``ParameterSpec``'s fields).
    value
        As the caller sent it in JSON. integer, number and boolean parameters
        take their JSON type or a string that is one ("42", "2.5", "true");
        multichoice takes a list of choices (or one string of them joined by
        its separator).

    Returns
    -------
    str, int, float, bool or list of str
        The value in the parameter's type.

    Raises
    ------
    ParameterError
        Saying what is wrong: the wrong type, not one of the choices, out of
        range, or not matching the pattern (the message never holds the value
        of a secret).
    """
    kind = spec["type"]
    if kind in ("string", "secret"):
        if not isinstance(value, str):
            raise ParameterError("must be a string")
        try:
            storable_text(value)
        except ValidationError as exc:
            raise ParameterError(" ".join(exc.messages)) from None
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise ParameterError(f"must be at most {MAX_VALUE_BYTES} bytes in UTF-8")
        if "pattern" in spec and compiled_pattern(spec["pattern"]).fullmatch(value) is None:
            raise ParameterError(f"must match the pattern {spec['pattern']}")
        return value
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise ParameterError("must be true or false")
        return value
    if kind == "integer":
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            value = int(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ParameterError("must be an integer")
        if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
            raise ParameterError(f"must be between {INTEGER_RANGE[0]} and {INTEGER_RANGE[1]}")
        _check_range(spec, value)
        return value
    if kind == "number":
        if isinstance(value, str):
            if not _NUMBER_TEXT.fullmatch(value):
                raise ParameterError("must be a number")
            value = int(value) if _INTEGER_TEXT.fullmatch(value) else float(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
                try:
                    value = float(value)  # past a bigint: as the float it is
                except OverflowError:
                    raise ParameterError("must be a finite number") from None
        if not _number(value) or (isinstance(value, float) and not math.isfinite(value)):
            raise ParameterError("must be a finite number")
        _check_range(spec, value)
        return value + 0.0 if value == 0 and isinstance(value, float) else value  # no -0.0
    choices = spec["choices"]
    if kind == "choice":
        if not isinstance(value, str) or value not in choices:
            raise ParameterError(f"must be one of: {', '.join(choices)}")
        return value
    # multichoice
    if isinstance(value, str):
        value = [part for part in value.split(spec.get("separator", ",")) if part]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ParameterError("must be a list of choices")
    wrong = [item for item in value if item not in choices]
    if wrong:
        raise ParameterError(f"{', '.join(wrong)}: not among the choices ({', '.join(choices)})")
    if len(set(value)) != len(value):
        raise ParameterError("must not choose the same choice twice")
    return value


def _re2_message(exc: Exception) -> str:
    """RE2's error as text (it gives bytes)."""
    reason = exc.args[0] if exc.args else exc
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def _check_range(spec: dict, value: int | float) -> None:
    if "min" in spec and value < spec["min"]:
        raise ParameterError(f"must be at least {_bound(spec['min'])}")
    if "max" in spec and value > spec["max"]:
        raise ParameterError(f"must be at most {_bound(spec['max'])}")


def _bound(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def as_text(spec: dict, value) -> str:
    """A checked value as the script receives it: integers and numbers in decimal,
    booleans ``true``/``false``, a multichoice joined by its separator."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return spec.get("separator", ",").join(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


class RunError(ValueError):
    """A run's parameters or overrides refused: ``errors`` maps a field
    (``parameters.<name>``, ``overrides.<option>``) to what is wrong with it."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def check_values(specs: list[dict], values: dict) -> dict:
    """Every parameter's value for a run: the caller's, else its default.

    Parameters
    ----------
    specs : list of dict
        The version's parameters.
    values : dict
        Parameter name -> value, as sent.

    Returns
    -------
    dict
        Parameter name -> checked value, for each parameter that has one
        (required ones always do).

    Raises
    ------
    RunError
        Keyed ``parameters.<name>``: a required one missing, a value refused
        (``check_value``), or a name the definition does not have.
    """
    errors: dict[str, list[str]] = {}
    known = {spec["name"] for spec in specs}
    for name in values:
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            errors[f"parameters.{name}"] = [f"no such parameter (the parameters: {listed})"]
    checked = {}
    for spec in specs:
        name = spec["name"]
        value = values.get(name, spec.get("default"))
        if value is None:
            if spec.get("required"):
                errors[f"parameters.{name}"] = ["missing: this parameter is required"]
            continue
        try:
            checked[name] = check_value(spec, value)
        except ParameterError as exc:
            errors[f"parameters.{name}"] = [str(exc)]
    if errors:
        raise RunError(errors)
    return checked


def masked(specs: list[dict], values: dict) -> dict:
    """``values`` as shown: each secret's value replaced by ``SECRET_MASK``."""
    secret = {spec["name"] for spec in specs if spec["type"] == "secret"}
    return {name: SECRET_MASK if name in secret else value for name, value in values.items()}


@dataclass
class Run:
    """What a run of a definition version makes (``job_from_version``).

    Attributes
    ----------
    fields : dict
        The job's ``code``, ``shell`` (None: the service's default), ``args``,
        ``env``, ``stdin`` and the ``JOB_OPTIONS`` set by the version or the
        overrides (the rest take the queue's defaults).
    parameters : dict
        The checked values as recorded on the job (secrets masked).
    secret_env : dict
        Variable -> value of the secret parameters (stored apart, never shown).
    """

    fields: dict
    parameters: dict
    secret_env: dict


def job_from_version(version: dict, values: dict, overrides: dict) -> Run:
    """The job a run of ``version`` with ``values`` and ``overrides`` makes.

    Parameters
    ----------
    version : dict
        A ``definition_versions`` row: ``code``, ``shell``, ``args``, ``env``,
        ``stdin``, ``options`` (``JOB_OPTIONS``) and ``parameters``.
    values : dict
        Parameter name -> value, as sent (``check_values``).
    overrides : dict
        ``JOB_OPTIONS`` and ``env`` (merged over the version's env; the
        parameters' variables win), already validated by ``RunOverrides``.

    Returns
    -------
    Run

    Raises
    ------
    RunError
        A parameter's value refused (``check_values``).
    """
    specs = version["parameters"]
    checked = check_values(specs, values)
    env = {**version["env"], **overrides.get("env", {})}
    args = list(version["args"])
    secret_env = {}
    for spec in specs:
        value = checked.get(spec["name"])
        if spec.get("pass_as", "env") == "arg":
            args.append("" if value is None else as_text(spec, value))
        elif value is not None and spec["type"] == "secret":
            secret_env[env_var(spec)] = value
            env.pop(env_var(spec), None)
        elif value is not None:
            env[env_var(spec)] = as_text(spec, value)
    options = {**version["options"], **{k: v for k, v in overrides.items() if k in JOB_OPTIONS}}
    fields_ = {
        "code": version["code"],
        "shell": version["shell"],
        "args": args,
        "env": env,
        "stdin": version["stdin"],
        **options,
    }
    return Run(fields_, masked(specs, checked), secret_env)
