"""The open_clip models worth using with mmsearch, as data (``model_table.json`` beside this module):
spec, what each is good for, published zero-shot retrieval numbers with their source, and what each
needs from the Hugging Face hub.

Retrieval numbers are zero-shot recall@1 in percent, as published (never measured here: this project
has no real weights), each with the exact file it comes from. ``None`` means the source has no such
number. Speed on this project's machine is measured by ``benchmarks/bench_models.py`` with random
weights of the same architecture (speed does not depend on the weights) and lives in its results file.

Tokenizers: open_clip ships the CLIP BPE vocabulary inside its package, so CLIP-tokenizer models
work with no network at all once their weights are a local file. SigLIP 2 (Gemma tokenizer) and the
XLM-RoBERTa text tower load their tokenizer, and XLM-RoBERTa also its text config, from the hub:
they need one online start (or a copied Hugging Face cache) even with a local checkpoint.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Retrieval:
    """Published zero-shot recall@1 (%) on one benchmark: text->image (a query finds its photo) and
    image->text."""

    dataset: str
    text_to_image_r1: float | None
    image_to_text_r1: float | None
    source: str


@dataclass(frozen=True)
class RecommendedModel:
    spec: str  # what to put in MMSEARCH_MODEL / --model: ARCH:PRETRAINED as open_clip names them
    good_for: str
    dim: int  # embedding size of the clip space
    image_size: int
    retrieval: tuple[Retrieval, ...]
    tokenizer: str
    tokenizer_offline: bool  # True: works with no network and no Hugging Face cache
    hub_files: tuple[str, ...] = ()  # hub repos loaded besides the weights (tokenizer, text config)
    # The published text-tower config of a Hugging Face text tower (its config.json values), so that
    # tests and benchmarks can build the real architecture offline; None for open_clip's own towers.
    hf_text_config: dict | None = None
    reparameterizable: bool = False  # image tower has train-time branches that fold for inference
    published_params_m: float | None = None  # total parameters (M) as published, where a source gives it
    notes: str = ""

    @property
    def arch(self) -> str:
        return self.spec.split(":", 1)[0]

    @property
    def pretrained(self) -> str:
        return self.spec.split(":", 1)[1]


def _retrieval(entry: dict[str, Any], sources: dict[str, str]) -> Retrieval:
    return Retrieval(entry["dataset"], entry["text_to_image_r1"], entry["image_to_text_r1"],
                     sources[entry["source"]] + entry.get("source_note", ""))


def _load() -> tuple[RecommendedModel, ...]:
    table = json.loads(resources.files(__package__).joinpath("model_table.json").read_text(encoding="utf-8"))
    models = []
    for entry in table["models"]:
        fields = dict(entry)
        fields["retrieval"] = tuple(_retrieval(r, table["sources"]) for r in entry["retrieval"])
        fields["hub_files"] = tuple(entry.get("hub_files", ()))
        models.append(RecommendedModel(**fields))
    return tuple(models)


MODELS: tuple[RecommendedModel, ...] = _load()


def by_spec(spec: str) -> RecommendedModel:
    """The table's entry for ``spec`` (KeyError for a model not in the table)."""
    for model in MODELS:
        if model.spec == spec:
            return model
    raise KeyError(spec)
