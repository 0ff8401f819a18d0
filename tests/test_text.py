"""Normalisation, corpus cleaning and chunking: pure functions on small fixtures."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from qa.errors import CorpusError
from qa.ingest.corpus import clean_text, is_noise_line, load_corpus, load_document
from qa.settings import PROJECT_ROOT
from qa.text.chunking import chunk_document, sentence_spans
from qa.text.normalize import char_bigrams, normalize, normalize_aligned
from qa.text.sentences import document_sentences
from qa.types import Document

from .conftest import CORPUS, RAW_SEED


def test_normalize_folds_width_script_case_and_space() -> None:
    assert normalize("新產業 標準化（ＡＢＣ１２３）") == "新产业标准化(abc123)"
    assert normalize("  \u3000到2025年\n") == "到2025年"


def test_normalize_aligned_keeps_offsets() -> None:
    text = "到２０２５年，國際標準轉化率超過90%"
    assert len(normalize_aligned(text)) == len(text)
    assert normalize_aligned(text) == "到2025年,国际标准转化率超过90%"


def _reference_simplified(text: str) -> str:
    """to_simplified as it was first written: OpenCC over the whole text, per character when a length changes."""
    import opencc  # type: ignore[import-untyped]

    converter = opencc.OpenCC("t2s")
    converted = converter.convert(text)
    if len(converted) == len(text):
        return str(converted)
    return "".join(converter.convert(ch) if len(converter.convert(ch)) == 1 else ch for ch in text)


def test_fast_normalisation_equals_opencc_over_the_whole_text() -> None:
    from qa.text.normalize import fold_chars, to_simplified

    library = PROJECT_ROOT / "eval" / "library" / "docs"
    texts = [p.read_text(encoding="utf-8") for p in sorted(library.iterdir()) if p.suffix in (".txt", ".md")][:6]
    texts += [
        "乾隆皇帝於乾清宮，後來頭髮發展，一干二淨。著作權 瞭解 覆蓋 名著 出發點",
        "新產業 標準化（ＡＢＣ１２３）ΣΑΣ İstanbul ㎡",
        "",
    ]
    for text in texts:
        assert to_simplified(text) == _reference_simplified(text)
        folded = (unicodedata.normalize("NFKC", ch) for ch in text)
        assert fold_chars(text) == "".join(f if len(f) == 1 else ch for f, ch in zip(folded, text, strict=True)).lower()
    assert to_simplified("頭髮發展") == "头发发展"  # a phrase, not character by character (发 twice)


def test_char_bigrams_keep_numbers_whole() -> None:
    assert char_bigrams("新制定2000项") == ["新制", "制定", "2000", "项"]
    assert char_bigrams("脑") == ["脑"]
    assert char_bigrams("？！") == []


@pytest.mark.parametrize(
    "line",
    [
        "1691626891346469.gif",
        "天阳--内容页.jpg",
        "cf2c524ff2d6f54a1f9566cade2b0f5.jpg553dcec49d9f6abf296c3fe67e126de.jpg",
        "铸造头条微信二维码.jpg",
        "——欢迎登陆www.zhuzaotoutiao.com发表您的作品",
        "查看所有评论",
        "/*本文部分内容(图片)来源于网络,若牵涉版权请联系删除。",
        "本文部分内容(图片)来源于网络,若牵涉版权请联系删除。*/",
    ],
)
def test_noise_lines_are_recognised(line: str) -> None:
    assert is_noise_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "工信部联科〔2023〕118号",
        "2023年8月3日",
        "一、制定《实施方案》的背景是什么?",
        "科技部",
        "扫描二维码即可查询企业标准信息。",
        "详见www.gov.cn上的通知全文，请按要求报送。",
        "各单位应当依法保护知识产权，尊重版权所有人的合法权益，不得擅自转载。",
    ],
)
def test_policy_lines_are_kept(line: str) -> None:
    assert not is_noise_line(line)


def test_clean_text_drops_noise_and_repeated_heading() -> None:
    raw = "标题行\n\n来源:某部收藏\nimage.png\n标题行\n\n正文第一句。\n\n查看所有评论\n"
    assert clean_text(raw) == "标题行\n\n来源:某部\n\n正文第一句。\n"
    assert clean_text(clean_text(raw)) == clean_text(raw)


def test_lines_cut_at_inline_elements_are_joined_back_into_their_sentences() -> None:
    raw = "\n".join(
        ["通知", "确保", "2025", "年底前实现市场化。", "建立", "“", "多电源参与", "”", "的市场。",
         "电量（风电", "400", "小时，光伏", "300", "小时）确定。", "价格按", "0.4012", "元", "/", "千瓦时执行。", "三、", "推动改革", "1.", "机制电量", "某局", "2025", "年", "9", "月", "29", "日", "方案"]
    )
    assert clean_text(raw).split("\n\n") == [
        "通知", "确保2025年底前实现市场化。", "建立“多电源参与”的市场。", "电量（风电400小时，光伏300小时）确定。", "价格按0.4012元/千瓦时执行。",
        "三、推动改革", "1.机制电量", "某局", "2025年9月29日", "方案\n",  # a sign-off's date stays under the bodies
    ]
    assert clean_text(clean_text(raw)) == clean_text(raw)


def test_a_page_with_few_bare_numbers_keeps_its_lines() -> None:
    raw = "第一段没有句号\n2025\n下一段。\n"
    assert clean_text(raw).split("\n\n") == ["第一段没有句号", "2025", "下一段。\n"]


def test_raw_scraped_page_gives_the_same_chunks_as_the_clean_document(tmp_path: Path) -> None:
    if not RAW_SEED.exists():
        pytest.skip(f"raw seed page not found at {RAW_SEED}")
    clean = load_document(CORPUS / "miit-2023-118.txt")
    raw_copy = tmp_path / "miit-2023-118.txt"
    raw_copy.write_bytes(RAW_SEED.read_bytes())
    raw = load_document(raw_copy)
    assert raw.text == clean.text
    assert chunk_document(raw) == chunk_document(clean)


def test_bundled_corpus_has_metadata() -> None:
    (doc,) = load_corpus(CORPUS).documents
    assert doc.doc_id == "miit-2023-118"
    assert doc.doc_number == "工信部联科〔2023〕118号"
    assert doc.date_signed == "2023-08-03" and doc.date_published == "2023-08-22"
    assert doc.issuers == ("工业和信息化部", "科技部", "国家能源局", "国家标准化管理委员会")


def test_missing_or_empty_corpus_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert load_corpus(tmp_path / "empty").documents == ()
    with pytest.raises(CorpusError, match="语料文件夹 .* 不存在"):
        load_corpus(tmp_path / "missing")


def test_sentence_spans_split_sentences_and_enumerations() -> None:
    text = "提出三项措施。一是加强领导,统筹推进;二是加大投入。三是注重宣传"
    spans = [text[a:b] for a, b in sentence_spans(text, 0, len(text))]
    assert spans == ["提出三项措施。", "一是加强领导,统筹推进;", "二是加大投入。", "三是注重宣传"]


FIXTURE = (
    "某部关于印发《示例方案》的通知\n\n"
    "各有关单位:\n\n"
    "现印发你们,请抓好落实。\n\n"
    "《示例方案》解读\n\n"
    "一、主要目标是什么?\n\n"
    "到2025年,制定标准100项以上。培育企业50家以上。\n\n"
    "二、重点任务是什么?\n\n"
    "一是建体系:完善体系。二是强能力:提升能力。\n"
)


def test_chunks_follow_structure_with_exact_spans() -> None:
    doc = Document("demo", "某部关于印发《示例方案》的通知", FIXTURE)
    chunks = chunk_document(doc, max_chars=60, overlap_chars=10)
    assert [(c.section, c.text) for c in chunks] == [
        ("某部关于印发《示例方案》的通知", "某部关于印发《示例方案》的通知\n\n各有关单位:\n\n现印发你们,请抓好落实。"),
        (
            "《示例方案》解读 › 一、主要目标是什么?",
            "《示例方案》解读\n\n一、主要目标是什么?\n\n到2025年,制定标准100项以上。培育企业50家以上。",
        ),
        ("《示例方案》解读 › 二、重点任务是什么?", "二、重点任务是什么?\n\n一是建体系:完善体系。二是强能力:提升能力。"),
    ]
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text


def test_long_sections_split_with_overlap_and_ids_are_stable() -> None:
    body = "".join(f"第{n}句话内容比较长一些。" for n in range(1, 13))
    doc = Document("demo", "示例解读", "示例解读\n\n一、问题是什么?\n\n" + body + "\n")
    chunks = chunk_document(doc, max_chars=60, overlap_chars=15)
    assert len(chunks) > 2
    assert all(len(c.text) <= 60 for c in chunks)
    assert all(c.section == "示例解读 › 一、问题是什么?" for c in chunks[1:])
    # each continuation chunk starts with the previous chunk's last sentence (the overlap)
    for prev, nxt in zip(chunks[1:], chunks[2:], strict=False):
        assert nxt.text.split("。")[0] == prev.text.rstrip("。").split("。")[-1]
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in chunk_document(doc, max_chars=60, overlap_chars=15)]


def test_decimals_are_not_enumeration_markers() -> None:
    text = "产值增长，2.5倍以上。1.加强领导，2.加大投入。"
    spans = [text[a:b] for a, b in sentence_spans(text, 0, len(text))]
    assert spans == ["产值增长，2.5倍以上。", "1.加强领导，", "2.加大投入。"]


def test_repeated_lines_are_kept_outside_the_page_header() -> None:
    body = "\n".join(["标题", "标题", "正文。", "一、小结", "内容一。", "一、小结", "内容二。", "三", "四", "五", "六", "七"])
    assert clean_text(body).split("\n\n")[:7] == ["标题", "正文。", "一、小结", "内容一。", "一、小结", "内容二。", "三"]


def test_sentences_on_the_lines_a_span_touches_are_found_by_bisection() -> None:
    import random

    doc = load_corpus(PROJECT_ROOT / "corpus").documents[0]
    table = document_sentences(doc)
    rng = random.Random(0)
    for _ in range(300):
        a = rng.randrange(0, len(doc.text))
        b = min(len(doc.text), a + rng.randint(1, 400))
        lines = {s.line for s in table.sentences if s.start < b and a < s.end}
        assert table.on_lines_touching(a, b) == [s for s in table.sentences if s.line in lines]


def test_joint_issuers_set_on_one_line_are_the_sign_off() -> None:
    text = (
        "关于加强药事管理的意见\n现将《意见》印发给你们，请认真贯彻执行。\n"
        "卫生健康委 教 育 部\n财 政 部    人力资源社会保障部\n医 保 局 药 监 局\n2020年2月21日\n一、总体要求\n正文。\n"
    )
    table = document_sentences(Document("d", "关于加强药事管理的意见", text))
    assert [text[a:b] for a, b in table.issuers] == ["卫生健康委 教 育 部", "财 政 部    人力资源社会保障部", "医 保 局 药 监 局"]


def test_a_year_stated_earlier_in_a_run_of_clauses_governs_the_clauses_after_it() -> None:
    text = (
        "关于经费的通知\n"
        "中央确定2016年基准定额为：中西部地区每生每年600元；东部地区每生每年650元。此后逐年调整。\n"
        "2030年目标另行制定。\n"
    )
    table = document_sentences(Document("d", "关于经费的通知", text))
    by_text = {s.text: s for s in table.sentences}
    east = by_text["东部地区每生每年650元。"]
    assert east.years == () and east.context_years == ("2016",)
    assert by_text["此后逐年调整。"].context_years == ()  # the run ended with 。
    assert by_text["2030年目标另行制定。"].context_years == ()  # another line


def test_a_table_of_contents_and_page_numbers_are_no_text_of_the_document() -> None:
    raw = "\n".join(
        ["实施细则", "目", "录", "一、实施背景........................", "- 1 -", "二、实施方式", "....................", "...........", "- 1 -",
         "一、实施背景", "正文一。", "二、实施方式", "正文二。", "— 3 —"]
    )
    assert clean_text(raw).split("\n\n") == ["实施细则", "目", "录", "一、实施背景", "正文一。", "二、实施方式", "正文二。\n"]


def test_a_line_cut_inside_a_sentence_is_joined_back() -> None:
    raw = "\n".join(["（十一", "）加强政策衔接。", "开具《通知书》，", "并上传系统。", "具体如下，", "（一）第一项。", "每日", "6:00", "，预计规模。"])
    assert clean_text(raw).split("\n\n") == ["（十一）加强政策衔接。", "开具《通知书》，并上传系统。", "具体如下，", "（一）第一项。", "每日", "6:00，预计规模。\n"]


def test_an_item_number_cut_from_its_mark_starts_its_item_on_a_split_page() -> None:
    raw = "\n".join(["确保", "2025", "年底前完成。", "价格", "0.4012", "元。", "七、保障措施", "1", "．落实应急措施。", "2", "．提升预测准确性。"])
    assert clean_text(raw).split("\n\n") == ["确保2025年底前完成。", "价格0.4012元。", "七、保障措施", "1．落实应急措施。", "2．提升预测准确性。\n"]


def test_a_text_cut_at_one_width_is_joined_back_into_its_paragraphs() -> None:
    paragraphs = [
        "关于做好2025年城乡居民医疗保险参保工作的通知",
        "一、参保范围",
        "本市行政区域内未参加职工基本医疗保险的城乡居民，包括学生、儿童和其他非从业人员，均可参加城乡居民医疗保险。",
        "二、缴费标准",
        "2025年度个人缴费标准为每人每年400元，享受最低生活保障的人员个人缴费部分由财政全额资助，不需要另行申请。",
        "三、缴费时间",
        "集中缴费期为2024年9月1日至12月31日，逾期缴费的设置3个月待遇等待期，待遇等待期内发生的医疗费用不予报销。",
        "参保人可以通过手机、银行网点或者社区服务窗口办理缴费，办理时需要提供本人有效身份证件和户籍证明材料。",
    ]
    wrapped = "\n".join(p[i : i + 20] for p in paragraphs for i in range(0, len(p), 20))
    assert clean_text(wrapped).split("\n\n") == [*paragraphs[:-1], paragraphs[-1] + "\n"]
    # Text whose lines are its paragraphs is left as it is.
    assert clean_text("\n".join(paragraphs)).split("\n\n") == [*paragraphs[:-1], paragraphs[-1] + "\n"]


@pytest.mark.parametrize(
    "lines",
    [
        ["答：包括门诊费、住院费······", "下一行。"],  # an elision closing a sentence is no dot leader
        ["附件2", "申请表样式", "......", "申请人签字："],
        ["下列人员可以申请，", "1）在校学生，", "2）退休人员，", "①其他人员。"],
        ["表：", *(f"| {d} | 每户2500元 | 在本区缴纳社保满1年 |" for d in ("通州区", "大兴区", "昌平区", "顺义区", "房山区", "平谷区"))],
        [f"北京市某某科技发展有限公司第{n}分公司" for n in "一二三四五六七八九"],  # names of one width are no wrapped text
    ],
)
def test_lines_laid_out_as_they_should_be_are_kept(lines: list[str]) -> None:
    assert clean_text("\n".join(lines)).split("\n\n") == [*lines[:-1], lines[-1] + "\n"]


def test_a_page_number_inside_a_wrapped_paragraph_does_not_cut_it() -> None:
    paragraph = "本市行政区域内未参加职工基本医疗保险的城乡居民，包括学生、儿童和其他非从业人员，均可参加城乡居民医疗保险，按年度缴费。"
    paragraphs = [paragraph, "次年" + paragraph, "再次年" + paragraph]
    lines = [p[i : i + 16] for p in paragraphs for i in range(0, len(p), 16)]
    raw = "\n".join([*lines[:2], "- 2 -", *lines[2:]])
    assert clean_text(raw).split("\n\n") == [*paragraphs[:2], paragraphs[2] + "\n"]


def test_dot_leaders_are_read_in_linear_time() -> None:
    assert clean_text("." * 40000 + "x")  # a backtracking pattern took a minute here
