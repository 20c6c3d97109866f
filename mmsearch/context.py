"""The typed context every subsystem receives: the library, its models and the settings.

Pipelines (``mmsearch.indexers``), integrity checks, evaluation and the web server take a
:class:`Context`, never the :class:`~mmsearch.engine.Engine`: the Engine is only the public facade
that builds one and forwards to the functions that do the work.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mmsearch.catalog import Catalog
from mmsearch.config import Settings
from mmsearch.library import Library
from mmsearch.models import Models
from mmsearch.samples import Backgrounds


@dataclass
class Context:
    settings: Settings
    library: Library
    models: Models
    backgrounds: Backgrounds = field(default_factory=Backgrounds)  # calibration samples per space

    @property
    def catalog(self) -> Catalog:
        return self.library.catalog

    @classmethod
    def open(cls, settings: Settings, *, create: bool = True) -> Context:
        library = Library(settings, create=create)
        return cls(settings, library, Models(settings, library.catalog, where=f"library {library.root}"))

    def close(self) -> None:
        self.library.close()
