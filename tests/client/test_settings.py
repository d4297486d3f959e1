"""Where the client finds its server URL and token: flags, environment, .tokens.yaml."""

import pytest

from shell_service.client.errors import ClientError, ExitCode
from shell_service.client.settings import DEFAULT_URL, resolve_settings


@pytest.fixture
def project(tmp_path):
    """A directory with a tokens file, as `make run` writes it."""
    (tmp_path / ".tokens.yaml").write_text("INITIAL_ADMIN: file-token\n")
    return tmp_path


ENV = {"SHELL_SERVICE_URL": "http://env:1", "SHELL_SERVICE_TOKEN": "env-token"}


def test_flags_win_over_environment_and_tokens_file(project):
    settings = resolve_settings("http://flag:1", "flag-token", ENV, project)
    assert (settings.url, settings.token, settings.token_source) == (
        "http://flag:1",
        "flag-token",
        "--token",
    )


def test_environment_wins_over_tokens_file_and_default(project):
    settings = resolve_settings(None, None, ENV, project)
    assert (settings.url, settings.token) == ("http://env:1", "env-token")
    assert settings.token_source == "$SHELL_SERVICE_TOKEN"


def test_without_flags_or_environment_the_tokens_file_and_default_url_are_used(project):
    settings = resolve_settings(None, None, {}, project)
    assert (settings.url, settings.token) == (DEFAULT_URL, "file-token")
    assert settings.token_source == str(project / ".tokens.yaml")


def test_empty_environment_variables_count_as_unset(project):
    settings = resolve_settings(
        None, None, {"SHELL_SERVICE_URL": "", "SHELL_SERVICE_TOKEN": ""}, project
    )
    assert (settings.url, settings.token) == (DEFAULT_URL, "file-token")


def test_no_token_anywhere_gives_none(tmp_path):
    assert resolve_settings(None, None, {}, tmp_path).token is None


def test_tokens_file_without_the_admin_key_gives_no_token(tmp_path):
    (tmp_path / ".tokens.yaml").write_text("OTHER: x\n")
    assert resolve_settings(None, None, {}, tmp_path).token is None


def test_unparsable_tokens_file_is_a_clear_error(tmp_path):
    (tmp_path / ".tokens.yaml").write_text("INITIAL_ADMIN: [unclosed\n")
    with pytest.raises(ClientError, match="cannot read the token from"):
        resolve_settings(None, None, {}, tmp_path)


def test_trailing_slash_is_dropped_from_the_url(tmp_path):
    assert resolve_settings("http://host:5000/", "t", {}, tmp_path).url == "http://host:5000"


def test_a_url_without_http_scheme_is_a_usage_error(tmp_path):
    with pytest.raises(ClientError) as excinfo:
        resolve_settings("127.0.0.1:5000", "t", {}, tmp_path)
    assert excinfo.value.exit_code == ExitCode.USAGE
    assert "http://" in excinfo.value.message
