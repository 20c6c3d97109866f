"""The catalog package's front: every public name resolves to its home module, and the plain records load
without SQLAlchemy (what ranking and query code import must not pull the database layer in)."""
from __future__ import annotations

import subprocess
import sys
from importlib import import_module

import mmsearch.catalog as catalog


def test_every_public_name_has_a_home_and_resolves():
    assert sorted(catalog.__all__) == sorted(catalog._HOMES)
    for name in catalog.__all__:
        home = import_module(f"mmsearch.catalog.{catalog._HOMES[name]}")
        assert getattr(catalog, name) is getattr(home, name)


def test_records_ranking_and_mix_rules_import_no_sqlalchemy():
    code = ("import sys, mmsearch.catalog.records, mmsearch.query.ranking, mmsearch.query.mix_rules, "
            "mmsearch.query.words; print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy')[:3])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import sys; from mmsearch.catalog import Catalog; print('sqlalchemy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "True"
