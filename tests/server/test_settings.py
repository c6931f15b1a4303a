import pytest

from server import settings
from server.errors import SanduqError


def test_order_defaults_file_environment_flags(tmp_path):
    config = tmp_path / "sanduq.toml"
    config.write_text('port = 81\nschool_name = "Мактаби 5"\nthreads = 3\n', encoding="utf-8")
    env = {"SANDUQ_CONFIG": str(config), "SANDUQ_PORT": "82", "SANDUQ_DEBUG": "yes"}
    values = settings.load({"port": "83", "host": None}, env=env)
    assert values["port"] == 83  # flag beats environment beats file
    assert values["threads"] == 3  # file beats default
    assert values["school_name"] == "Мактаби 5"
    assert values["debug"] is True
    assert values["host"] == "0.0.0.0"  # an absent flag does not override
    assert settings.load(env={"SANDUQ_CONFIG": str(config), "SANDUQ_PORT": "82"})["port"] == 82


def test_bad_values_get_one_sentence(tmp_path):
    with pytest.raises(SanduqError, match="SANDUQ_PORT: 'eighty' is not a valid port"):
        settings.load(env={"SANDUQ_PORT": "eighty", "SANDUQ_CONFIG": str(tmp_path / "none")})
    config = tmp_path / "bad.toml"
    config.write_text("colour = 'blue'\n")
    with pytest.raises(SanduqError, match="unknown setting 'colour'"):
        settings.load(env={"SANDUQ_CONFIG": str(config)})
    config.write_text("port = [\n")
    with pytest.raises(SanduqError, match="cannot be read"):
        settings.load(env={"SANDUQ_CONFIG": str(config)})


def test_every_setting_has_help():
    for s in settings.SETTINGS:
        assert s.help and s.name.islower()


def test_readme_lists_every_setting():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for s in settings.SETTINGS:
        assert f"| `{s.name}` | `SANDUQ_{s.name.upper()}` |" in readme
