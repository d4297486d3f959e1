"""definitions.py on its own: each parameter type's values, how the script receives
them, and the job a run makes (no server needed)."""

import pytest

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


def test_a_catastrophic_pattern_times_out_instead_of_hanging():
    spec = {"name": "s", "type": "string", "pattern": "(a|aa)+$"}
    with pytest.raises(ParameterError, match="took over"):
        check_value(spec, "a" * 40 + "!")


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
