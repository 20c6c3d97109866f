"""The open_clip models worth using with mmsearch, as data: spec, what each is good for, published
zero-shot retrieval numbers with their source, and what each needs from the Hugging Face hub.

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

from dataclasses import dataclass

OPEN_CLIP_RETRIEVAL = (
    "open_clip docs/openclip_retrieval_results.csv (mlfoundations/open_clip, commit 89fb801; "
    "CLIP_benchmark, Flickr30k 1k test, MSCOCO 5k test)"
)
OPEN_CLIP_MULTILINGUAL = (
    "open_clip docs/openclip_multilingual_retrieval_results.csv (mlfoundations/open_clip, commit 89fb801)"
)
SIGLIP2_README = (
    "google-research/big_vision big_vision/configs/proj/image_text/README_siglip2.md (checkpoint table; "
    "SigLIP 2 paper, arXiv:2502.14786)"
)
MOBILECLIP2_RESULTS = (
    "apple/ml-mobileclip results/mobileclip2_s2.jsonl (commit e15d36e; Flickr 1k test, MSCOCO 2014 5k test)"
)


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


XLM_ROBERTA_BASE_CONFIG = {  # xlm-roberta-base's config.json on the hub
    "model_type": "xlm-roberta",
    "vocab_size": 250002,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "layer_norm_eps": 1e-05,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}

MODELS: tuple[RecommendedModel, ...] = (
    RecommendedModel(
        spec="ViT-B-32:laion2b_s34b_b79k",
        good_for="the default: fastest ViT on a CPU, English queries, fully offline once the weights are local",
        dim=512,
        image_size=224,
        retrieval=(
            Retrieval("Flickr30k", 66.78, 84.10, OPEN_CLIP_RETRIEVAL),
            Retrieval("MSCOCO", 39.34, 56.32, OPEN_CLIP_RETRIEVAL),
        ),
        tokenizer="CLIP BPE, shipped inside open_clip",
        tokenizer_offline=True,
        published_params_m=151.28,
    ),
    RecommendedModel(
        spec="MobileCLIP2-S2:dfndr2b",
        good_for="better English retrieval than ViT-B-32 at a similar size; a mobile design (FastViT) that "
        "is slower per image than ViT-B-32 on this CPU",
        dim=512,
        image_size=256,
        retrieval=(
            Retrieval("Flickr30k", 74.82, 90.40, MOBILECLIP2_RESULTS),
            Retrieval("MSCOCO", 48.82, 66.70, MOBILECLIP2_RESULTS),
        ),
        tokenizer="CLIP BPE, shipped inside open_clip",
        tokenizer_offline=True,
        reparameterizable=True,
        notes="open_clip (3.3) does not fold the FastViT branches after loading; timm's reparameterize_model "
        "does (benchmarks/bench_models.py measures both). Its pretrained tag normalises images with "
        "mean 0 / std 1: a local checkpoint loaded as MobileCLIP2-S2:/path gets open_clip's default "
        "(OpenAI) normalisation instead.",
    ),
    RecommendedModel(
        spec="ViT-B-16-SigLIP2:webli",
        good_for="the best published retrieval of the four, multilingual training data; 196 image patches "
        "against ViT-B-32's 49, 768-d vectors",
        dim=768,
        image_size=224,
        retrieval=(
            Retrieval("Flickr30k", None, None, SIGLIP2_README + ": no Flickr30k column"),
            Retrieval("MSCOCO", 52.1, 68.9, SIGLIP2_README),
        ),
        tokenizer="Gemma SentencePiece (256k), hub repo timm/ViT-B-16-SigLIP2",
        tokenizer_offline=False,
        hub_files=("timm/ViT-B-16-SigLIP2 (tokenizer)",),
        notes="The tokenizer is a hub download even when the weights are a local file: the first start needs "
        "the network (or a copied Hugging Face cache). Its pretrained tag normalises with mean/std 0.5; a "
        "local checkpoint gets open_clip's default (OpenAI) normalisation instead.",
    ),
    RecommendedModel(
        spec="xlm-roberta-base-ViT-B-32:laion5b_s13b_b90k",
        good_for="queries in many languages (XLM-RoBERTa text tower, ViT-B-32 image tower): English retrieval "
        "close to ViT-B-32's, and the same image speed",
        dim=512,
        image_size=224,
        retrieval=(
            Retrieval("Flickr30k", 64.48, 82.70, OPEN_CLIP_RETRIEVAL),
            Retrieval("MSCOCO", 37.78, 53.54, OPEN_CLIP_RETRIEVAL),
            Retrieval("MSCOCO captions in 11 languages (mean)", 52.69, 56.39, OPEN_CLIP_MULTILINGUAL),
            Retrieval("Crossmodal-3600, 36 languages (mean)", 42.56, 45.86, OPEN_CLIP_MULTILINGUAL),
        ),
        tokenizer="XLM-RoBERTa SentencePiece (250k), hub repo xlm-roberta-base",
        tokenizer_offline=False,
        hub_files=("xlm-roberta-base (tokenizer and text config)",),
        hf_text_config=XLM_ROBERTA_BASE_CONFIG,
        published_params_m=366.12,
        notes="Even building the architecture needs xlm-roberta-base's config from the hub; the first start "
        "needs the network (or a copied Hugging Face cache).",
    ),
)


def by_spec(spec: str) -> RecommendedModel:
    """The table's entry for ``spec`` (KeyError for a model not in the table)."""
    for model in MODELS:
        if model.spec == spec:
            return model
    raise KeyError(spec)
