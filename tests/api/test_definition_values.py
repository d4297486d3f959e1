"""definitions.py on its own: each parameter type's values, how the script receives
them, and the job a run makes (no server needed)."""

import pytest
from marshmallow import ValidationError

from shell_service import definitions
from shell_service.definitions import ParameterError, check_value, job_from_version


@pytest.mark.parametrize(
    "spec, value, stored, text",
    [
        ({"type": "string"}, "a b", "a b", "a b"),
        ({"type": "string", "pattern": "[a-z]+"}, "abc", "abc", "abc"),
        ({"type": "integer"}, 7, 7, "7"),
        ({"type": "integer"}, "-7", -7, "-7"),
        ({"type": "integer"}, 3.0, 3, "3"),
        ({"type": "integer", "min": 1, "max": 3}, 3, 3, "3"),
        ({"type": "number"}, 2.5, 2.5, "2.5"),
        ({"type": "number"}, "2.5", 2.5, "2.5"),
        ({"type": "number"}, "4", 4, "4"),
        ({"type": "number"}, -0.0, 0.0, "0.0"),
        ({"type": "number"}, 10**30, 1e30, "1e+30"),
        ({"type": "number"}, ".5e1", 5.0, "5.0"),
        ({"type": "number"}, 1e-7, 1e-7, "1e-07"),
        ({"type": "boolean"}, True, True, "true"),
        ({"type": "boolean"}, "FALSE", False, "false"),
        ({"type": "choice", "choices": ["x", "y"]}, "y", "y", "y"),
        ({"type": "multichoice", "choices": ["x", "y"]}, ["y", "x"], ["y", "x"], "y,x"),
        ({"type": "multichoice", "choices": ["x", "y"]}, "x,y", ["x", "y"], "x,y"),
        ({"type": "multichoice", "choices": ["x", "y"], "separator": " "}, [], [], ""),
        (
            {"type": "multichoice", "choices": ["x", "y"], "separator": ";"},
            "x;y",
            ["x", "y"],
            "x;y",
        ),
        ({"type": "secret"}, "pw", "pw", "pw"),
    ],
)
def test_each_type_takes_its_values_and_renders_them_for_the_script(spec, value, stored, text):
    spec = {"name": "p", **spec}
    assert check_value(spec, value) == stored
    assert type(check_value(spec, value)) is type(stored)
    assert definitions.as_text(spec, stored) == text


@pytest.mark.parametrize(
    "spec, value",
    [
        ({"type": "string"}, 1),
        ({"type": "string"}, ["a"]),
        ({"type": "string"}, "\ud800"),
        ({"type": "string", "pattern": "[a-z]+"}, "abc1"),  # the whole value must match
        ({"type": "string", "pattern": "[a-z]+"}, "abc\n"),
        ({"type": "integer"}, "1.5"),
        ({"type": "integer"}, "1e3"),
        ({"type": "integer"}, " 1"),
        ({"type": "integer"}, "9" * 19),
        ({"type": "integer"}, 2**63),
        ({"type": "integer"}, 123456789012345678901234567890),
        ({"type": "number"}, 10**400),
        ({"type": "number"}, " 1.5"),
        ({"type": "number"}, "1_0"),
        ({"type": "number"}, "\u0661.\u0665"),
        ({"type": "integer"}, "\u0661"),
        ({"type": "integer"}, False),
        ({"type": "integer"}, 2.0**60),
        ({"type": "integer", "min": 1}, 0),
        ({"type": "number"}, "inf"),
        ({"type": "number"}, float("nan")),
        ({"type": "number"}, "1,5"),
        ({"type": "number"}, True),
        ({"type": "number", "max": 1}, 1.0000001),
        ({"type": "boolean"}, 1),
        ({"type": "boolean"}, "yes"),
        ({"type": "choice", "choices": ["x"]}, "X"),
        ({"type": "choice", "choices": ["x"]}, ["x"]),
        ({"type": "multichoice", "choices": ["x"]}, ["x", 1]),
        ({"type": "multichoice", "choices": ["x"]}, 5),
        ({"type": "secret"}, None),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused(spec, value):
    with pytest.raises(ParameterError):
        check_value({"name": "p", **spec}, value)


def test_a_secrets_refusal_never_holds_its_value():
    spec = {"name": "pw", "type": "secret", "pattern": "[0-9]+"}
    with pytest.raises(ParameterError) as refused:
        check_value(spec, "correct horse")
    assert "correct horse" not in str(refused.value)


def test_a_pattern_that_would_backtrack_for_ever_is_matched_in_linear_time():
    # (a|aa)+$ against a's and a '!': exponential for a backtracking engine, linear in RE2.
    spec = {"name": "s", "type": "string", "pattern": "(a|aa)+$"}
    with pytest.raises(ParameterError, match="must match the pattern"):
        check_value(spec, "a" * 60000 + "!")
    assert check_value(spec, "a" * 60000) == "a" * 60000


@pytest.mark.parametrize("pattern", ["(?=x)", r"(a)\1", "(x{1000}){1000}", "(", "a{2,1}"])
def test_a_pattern_re2_cannot_take_is_refused_when_stored(pattern):
    with pytest.raises(ValidationError) as refused:
        definitions.ParameterSpec().load({"name": "p", "type": "string", "pattern": pattern})
    assert "not an RE2 regular expression" in str(refused.value.messages["pattern"])


def test_a_value_longer_than_the_limit_is_refused():
    spec = {"name": "s", "type": "string"}
    assert check_value(spec, "x" * definitions.MAX_VALUE_BYTES)
    with pytest.raises(ParameterError, match="at most 65536 bytes"):
        check_value(spec, "é" * (definitions.MAX_VALUE_BYTES // 2 + 1))


@pytest.mark.parametrize(
    "spec, error",
    [
        ({"type": "integer", "required": True, "default": 3}, "default"),
        ({"type": "integer", "min": 2.0**64}, "min"),
        ({"type": "multichoice", "choices": ["a,b", "c"]}, "choices"),
        ({"type": "multichoice", "choices": ["a;b"], "separator": ";"}, "choices"),
        ({"type": "integer", "default": 2**64}, "default"),
    ],
)
def test_a_spec_that_contradicts_itself_is_refused(spec, error):
    with pytest.raises(ValidationError) as refused:
        definitions.ParameterSpec().load({"name": "p", **spec})
    assert error in refused.value.messages


def test_whole_bounds_and_defaults_are_stored_in_their_type():
    loaded = definitions.ParameterSpec().load(
        {"name": "p", "type": "integer", "min": -5.0, "max": 10, "default": "7"}
    )
    assert (loaded["min"], loaded["max"], loaded["default"]) == (-5, 10, 7)
    assert type(loaded["min"]) is int


VERSION = {
    "code": "echo",
    "shell": None,
    "args": ["fixed"],
    "env": {"A": "from definition", "B": "kept", "PW": "not the secret"},
    "stdin": None,
    "options": {"timeout": 60, "queue": "default"},
    "parameters": [
        {"name": "A", "type": "string"},
        {"name": "pos1", "type": "integer", "pass_as": "arg"},
        {"name": "pos2", "type": "string", "pass_as": "arg", "default": "two"},
        {"name": "flag", "type": "boolean", "env_var": "FLAG_VAR", "default": True},
        {"name": "PW", "type": "secret"},
        {"name": "unset", "type": "string"},
    ],
}


def test_a_run_places_each_parameter_and_keeps_secrets_apart():
    run = job_from_version(VERSION, {"A": "given", "PW": "hunter2"}, {"timeout": 30})
    assert run.fields["args"] == ["fixed", "", "two"]  # an unset positional keeps its place
    assert run.fields["env"] == {"A": "given", "B": "kept", "FLAG_VAR": "true"}
    assert run.secret_env == {"PW": "hunter2"}
    assert run.parameters == {
        "A": "given",
        "pos2": "two",
        "flag": True,
        "PW": definitions.SECRET_MASK,
    }
    assert (run.fields["timeout"], run.fields["queue"]) == (30, "default")


def test_an_env_override_yields_to_the_parameters_variable():
    run = job_from_version(VERSION, {"A": "param"}, {"env": {"A": "override", "C": "new"}})
    assert run.fields["env"]["A"] == "param" and run.fields["env"]["C"] == "new"


def test_every_wrong_parameter_is_named_at_once():
    with pytest.raises(definitions.RunError) as refused:
        job_from_version(VERSION, {"pos1": "x", "flag": "maybe", "extra": 1}, {})
    assert set(refused.value.errors) == {"parameters.pos1", "parameters.flag", "parameters.extra"}
