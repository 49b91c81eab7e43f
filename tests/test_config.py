import pytest

from kiosk.config import SETTINGS, load_settings
from kiosk.errors import SettingsError


def test_defaults_then_file_then_environment_then_options(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text('port = 9000\nspeech_rate = 120\ndata_dir = "/from/file"\n')
    settings = load_settings(config, environ={"KIOSK_SPEECH_RATE": "130"}, data_dir="/from/option")
    assert settings.port == 9000  # file beats default
    assert settings.speech_rate == 130  # environment beats file
    assert settings.data_dir == "/from/option"  # option beats everything
    assert settings.host == "127.0.0.1"  # default


def test_config_file_can_come_from_the_environment(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text("port = 8123\n")
    assert load_settings(environ={"KIOSK_CONFIG": str(config)}).port == 8123


def test_trusted_keys_from_environment_are_a_path_list():
    settings = load_settings(environ={"KIOSK_TRUSTED_KEYS": "/a/k1.pub:/b/k2.pub"})
    assert settings.trusted_keys == ["/a/k1.pub", "/b/k2.pub"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("port = 'eighty'\n", "port must be int"),
        ("colour = 'blue'\n", "unknown setting 'colour'"),
        ("port = \n", "cannot be read"),
        ("trusted_keys = 5\n", "trusted_keys must be list"),
    ],
)
def test_bad_settings_file_gives_a_clear_message(tmp_path, text, words):
    config = tmp_path / "kiosk.toml"
    config.write_text(text)
    with pytest.raises(SettingsError, match=words):
        load_settings(config, environ={})


def test_bad_environment_value_names_the_variable():
    with pytest.raises(SettingsError, match="KIOSK_PORT"):
        load_settings(environ={"KIOSK_PORT": "x"})


def test_missing_settings_file_is_reported(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_every_setting_has_help_and_is_documented_in_readme():
    readme = (__import__("pathlib").Path(__file__).parent.parent / "README.md").read_text()
    for setting in SETTINGS:
        assert len(setting.help) > 15, setting.name
        assert f"`{setting.name}`" in readme, f"{setting.name} is not in README's settings table"
