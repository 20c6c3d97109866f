from pathlib import Path

import pytest

from mmsearch.config import DEFAULT_MODEL, load_settings
from mmsearch.errors import ConfigError


def test_precedence_defaults_file_env_arguments(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('library = "/from/file"\nmodel = "file-model"\nbatch_size = 8\n')
    env = {"MMSEARCH_CONFIG": str(cfg)}
    s = load_settings(env)
    assert s.library == Path("/from/file") and s.model == "file-model" and s.batch_size == 8
    env["MMSEARCH_MODEL"] = "env-model"
    env["MMSEARCH_BATCH_SIZE"] = "4"
    s = load_settings(env)
    assert s.model == "env-model" and s.batch_size == 4 and s.library == Path("/from/file")
    s = load_settings(env, model="arg-model", library=None)
    assert s.model == "arg-model" and s.library == Path("/from/file")


def test_defaults_and_database_url(tmp_path):
    s = load_settings({"XDG_DATA_HOME": str(tmp_path)})
    assert s.library == tmp_path / "mmsearch" / "library"
    assert s.database == f"sqlite:///{tmp_path}/mmsearch/library/catalog.sqlite3"
    assert load_settings({"MMSEARCH_DATABASE_URL": "postgresql://u:p@h/db"}).database == "postgresql://u:p@h/db"
    assert DEFAULT_MODEL.startswith("ViT-B-32:laion")


def test_bad_settings_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="batch_size"):
        load_settings({"MMSEARCH_BATCH_SIZE": "many"})
    cfg = tmp_path / "c.toml"
    cfg.write_text("colour = 'red'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings({"MMSEARCH_CONFIG": str(cfg)})
