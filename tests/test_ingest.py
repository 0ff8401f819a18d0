"""Reading documents: each format, metadata from the text, validated JSON, and skipped files.

Fast and model-free: the files are written by the tests (tests/library_files.py) and the
index is built with the hash embedder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from qa.errors import CorpusError
from qa.ingest.corpus import LoadedCorpus, id_from_file_name, load_corpus, load_document
from qa.ingest.decoding import decode_text
from qa.ingest.errors import UnreadableFile
from qa.ingest.html_page import lines_of, looks_like_html, read_html
from qa.ingest.metadata import extract_metadata, find_title, parse_date
from qa.ingest.readers import READERS, read_docx, read_markdown, read_plain
from qa.ingest.sidecar import read_sidecar
from qa.ingest.wrapping import join_wrapped_lines
from qa.settings import Settings

from .conftest import CORPUS
from .library_files import DOCX_PARAGRAPHS, FACTS, GBK_NOTICE, HTML_PAGE, docx_bytes, pdf_bytes, write_library


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_library(tmp_path_factory.mktemp("library") / "corpus")


@pytest.fixture(scope="module")
def loaded(library: Path) -> LoadedCorpus:
    return load_corpus(library)


def _docs(loaded: LoadedCorpus) -> dict[str, object]:
    return {d.doc_id: d for d in loaded.documents}


# --- Metadata from the text -------------------------------------------------------------


def test_a_title_split_over_two_lines_is_joined() -> None:
    text = (
        "国务院关于印发\n《2024—2025年节能降碳行动方案》的通知\n国发〔2024〕12号\n"
        "各省、自治区、直辖市人民政府：\n现将方案印发给你们，请认真贯彻执行。\n"
        "根据《国务院关于加快建立健全绿色低碳循环发展经济体系的指导意见》（国发〔2021〕4号），制定本方案。\n"
        "国务院\n2024年5月23日\n（此件公开发布）\n"
    )
    meta = extract_metadata(text)
    assert meta.title == "国务院关于印发《2024—2025年节能降碳行动方案》的通知"
    assert meta.doc_number == "国发〔2024〕12号"  # not the number cited in the body
    assert meta.issuers == ("国务院",)
    assert meta.date_signed == "2024-05-23"


def test_a_complete_first_line_is_not_joined_with_the_next() -> None:
    assert find_title(["关于做好春耕生产的通知", "（2024年第1号）"]) == "关于做好春耕生产的通知"
    assert find_title(["国务院办公厅", "关于做好春耕生产的通知"]) == "国务院办公厅关于做好春耕生产的通知"
    assert find_title(["会议纪要第三期", "今天讨论了三件事。"]) == "会议纪要第三期"


def test_signoff_with_two_bodies_and_a_chinese_numeral_date() -> None:
    text = (
        "财政部 税务总局关于延续实施残疾人就业税收优惠政策的公告\n财政部 税务总局公告2023年第10号\n"
        "为继续支持残疾人就业，现将有关政策公告如下：\n一、对安置残疾人的单位，限额即征即退增值税。\n"
        "二、本公告执行至2027年12月31日。\n财政部　　　　税务总局\n二〇二三年八月二日\n"
    )
    meta = extract_metadata(text)
    assert meta.issuers == ("财政部", "税务总局")
    assert meta.date_signed == "2023-08-02"
    assert meta.doc_number == "财政部 税务总局公告2023年第10号"
    assert meta.title == "财政部 税务总局关于延续实施残疾人就业税收优惠政策的公告"


@pytest.mark.parametrize(
    ("text", "number", "title"),
    [
        (
            "中华人民共和国国务院令\n第53号\n《城镇排水与污水处理条例》已经2013年9月18日国务院第24次常务会议通过，"
            "现予公布，自2014年1月1日起施行。\n总理　李克强\n2013年10月2日\n",
            "中华人民共和国国务院令第53号",
            "城镇排水与污水处理条例",
        ),
        (
            "国务院令第53号\n城镇排水与污水处理条例\n第一条 为了加强管理，制定本条例。\n",
            "国务院令第53号",
            "城镇排水与污水处理条例",
        ),
        ("关于进一步做好就业工作的意见\n国发[2018]41号\n一、总体要求\n", "国发[2018]41号", "关于进一步做好就业工作的意见"),
    ],
)
def test_order_and_bracket_numbers(text: str, number: str, title: str) -> None:
    meta = extract_metadata(text)
    assert (meta.doc_number, meta.title) == (number, title)
    if "令" in number:
        assert meta.issuers == ("国务院",)


def test_text_without_metadata_gives_empty_fields() -> None:
    meta = extract_metadata(
        "今天开会讨论了绿色建筑的推广问题。大家认为应当加快推进。\n会后各部门分头落实，到2024年12月底前报送。\n"
    )
    assert (meta.title, meta.doc_number, meta.issuers, meta.date_signed, meta.date_published) == ("", "", (), "", "")


def test_labelled_page_header_fields() -> None:
    text = (
        "标题：关于做好2024年普通高校毕业生就业创业工作的通知  发文字号：教学〔2023〕4号\n"
        "发文机关：教育部  成文日期：2023年11月20日  发布日期：2023年12月05日\n"
        "关于做好2024年普通高校毕业生就业创业工作的通知\n各省、自治区、直辖市教育厅（教委）：\n"
    )
    meta = extract_metadata(text)
    assert meta.title == "关于做好2024年普通高校毕业生就业创业工作的通知"
    assert (meta.doc_number, meta.issuers) == ("教学〔2023〕4号", ("教育部",))
    assert (meta.date_signed, meta.date_published) == ("2023-11-20", "2023-12-05")


def test_issuers_from_the_title_when_there_is_no_signoff() -> None:
    meta = extract_metadata("中共中央办公厅 国务院办公厅印发《关于加强社区工作的意见》\n近日，中共中央办公厅印发了意见。\n")
    assert meta.issuers == ("中共中央办公厅", "国务院办公厅")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A regulation's note of adoption gives the body that passed it and the date.
        (
            "湖北省流动人口服务和管理条例\n（2012年9月29日湖北省第十一届人民代表大会常务委员会第三十二次会议通过）\n第一章 总则\n",
            {"title": "湖北省流动人口服务和管理条例", "issuers": ("湖北省人民代表大会常务委员会",), "date_signed": "2012-09-29"},
        ),
        # A rule's note of promulgation gives its order number; the text opens with its body, so no title.
        (
            "（2011年4月18日环境保护部令第17号公布 自2011年5月1日起施行）\n第一条 为了规范信息报告工作，制定本办法。\n",
            {"title": "", "doc_number": "环境保护部令第17号"},
        ),
        # A 文号 in brackets after the title is the number, not part of the title.
        (
            "关于灵活就业人员参加基本医疗保险若干问题的处理意见 (武劳社〔2004〕135号)\n各医疗保险经办机构：\n一、关于步骤安排\n",
            {"title": "关于灵活就业人员参加基本医疗保险若干问题的处理意见", "doc_number": "武劳社〔2004〕135号"},
        ),
        # Site furniture above a two-line title of an interview; a byline with its date and source.
        (
            "English\n移动客户端\n当前位置：首页 > 新闻\n推进中考改革 促进素质教育\n——教育部有关负责人就《指导意见》答记者问\n"
            "2016-09-20 来源：教育部\n日前，教育部印发了指导意见。\n",
            {"title": "推进中考改革 促进素质教育——教育部有关负责人就《指导意见》答记者问", "issuers": ("教育部",), "date_published": "2016-09-20"},
        ),
        # Fields of a web page: a form's compact date, bracketed labels, 信息来源.
        ("名 称：厦门市人民政府关于调整投靠入户政策的通知\n发文日期：20150213\n", {"title": "厦门市人民政府关于调整投靠入户政策的通知", "date_signed": "2015-02-13"}),
        ("05. [成文日期] 2025-01-24\n06. [发文字号] 京商流通字〔2025〕2号\n", {"date_signed": "2025-01-24", "doc_number": "京商流通字〔2025〕2号"}),
        ("深圳市居住登记和居住证办理规定\n信息来源：深圳市公安局\n信息提供日期：2015-06-04\n第一章 总则\n", {"issuers": ("深圳市公安局",), "date_published": "2015-06-04"}),
        # A heading of the body is never the title.
        ("## 第一章 总则\n第一条 为了防治扬尘污染，制定本条例。\n", {"title": ""}),
    ],
)
def test_metadata_from_the_notes_bylines_and_fields_a_text_gives(text: str, expected: dict[str, object]) -> None:
    meta = extract_metadata(text)
    assert {field: getattr(meta, field) for field in expected} == expected


def test_a_markdown_escape_shows_the_mark_itself() -> None:
    assert read_markdown("05. \\[发布日期\\] 2025-01-24".encode(), "a.md").text == "05. [发布日期] 2025-01-24"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2023年8月3日", "2023-08-03"),
        ("二〇二三年八月三日", "2023-08-03"),
        ("二○二四年十二月三十一日", "2024-12-31"),
        ("二〇二四年十月十日", "2024-10-10"),
        ("发布时间：2023-08-22 15:09", "2023-08-22"),
        ("2023/8/3", "2023-08-03"),
        ("2023年13月1日", ""),
        ("没有日期", ""),
    ],
)
def test_parse_date(text: str, iso: str) -> None:
    assert parse_date(text) == iso


# --- Readers --------------------------------------------------------------------------


def test_text_encodings_are_detected_and_recorded() -> None:
    assert decode_text(GBK_NOTICE.encode("gbk"), "a.txt").encoding == "gb18030"
    assert decode_text(GBK_NOTICE.encode("gbk"), "a.txt").text == GBK_NOTICE
    assert decode_text(b"\xef\xbb\xbf" + "通知".encode(), "a.txt").text == "通知"
    assert decode_text("通知全文".encode("utf-16"), "a.txt").text == "通知全文"
    big5 = ("臺灣地區的政策文件，內容為繁體中文。" * 20).encode("big5")
    assert "繁體中文" in decode_text(big5, "a.txt").text  # neither UTF-8 nor GB18030: the detector is asked
    with pytest.raises(UnreadableFile, match=r"^a\.txt：这是二进制文件"):
        decode_text(b"PK\x03\x04\x00\x00binary", "a.txt")


def test_html_page_keeps_the_article_lines_without_the_site() -> None:
    page = read_html(HTML_PAGE)
    assert page.title == "国务院办公厅关于推进城市绿色建筑发展的意见"
    assert page.date_published == "2024-03-15 10:00"
    lines = page.text.split("\n")
    assert lines[:3] == ["国务院办公厅关于推进城市绿色建筑发展的意见", "2024-03-15 10:00", "国办发〔2024〕7号"]
    assert "一、总体要求" in lines  # a heading stays a line of its own
    assert [line for line in lines if line[:2] in ("1.", "2.")] == [
        "1. 新建公共建筑应当安装屋顶光伏。",
        "2. 既有建筑改造应当同步实施节能改造。",
    ]  # <br> splits lines
    for noise in ("首页", "当前位置", "版权所有", "脚本", "分享到", "相关稿件", "color"):
        assert noise not in page.text


def test_furniture_inside_the_article_is_dropped_by_its_class_or_tag() -> None:
    html = (
        "<html><body><div id='content'><div class='crumb-nav'>当前位置：首页 政策 文件</div>"
        "<p>关于做好防汛工作的通知</p><p>一、压实责任。各地要落实防汛责任制。</p><p>二、加强值守。汛期实行24小时值班。</p>"
        "<div class='share-bar'>分享到：微信 微博 QQ空间</div><footer>责任编辑：某某</footer>"
        "<form>搜索本站</form></div></body></html>"
    )
    assert read_html(html).text.split("\n") == [
        "关于做好防汛工作的通知",
        "一、压实责任。各地要落实防汛责任制。",
        "二、加强值守。汛期实行24小时值班。",
    ]


def test_html_cells_and_deep_nesting() -> None:
    from selectolax.lexbor import LexborHTMLParser

    table = LexborHTMLParser("<table><tr><td>发文字号：</td><td>国发〔2024〕1号</td></tr></table>").body
    assert table is not None and lines_of(table) == ["发文字号：  国发〔2024〕1号"]
    deep = "<div>" * 5000 + "<p>第一条 正文。</p>" + "</div>" * 5000
    assert read_html(f"<html><body>{deep}</body></html>").text == "第一条 正文。"


POLICY_LIBRARY_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>国务院办公厅关于发展银发经济增进老年人福祉的意见_国务院文件_中国政府网</title></head><body>
<div class="header"><a href="/">首页</a> <a href="/zhengce">政策</a></div>
<table class="border-table">
<tr><td><b>索&nbsp;&nbsp;引&nbsp;&nbsp;号：</b></td><td>000014349/2024-00005</td><td><b>主题分类：</b></td><td>民政</td></tr>
<tr><td><b>发文机关：</b></td><td>国务院办公厅</td><td><b>成文日期：</b></td><td>2024年01月11日</td></tr>
<tr><td><b>标　　题：</b></td><td colspan="3">国务院办公厅关于发展银发经济增进老年人福祉的意见</td></tr>
<tr><td><b>发文字号：</b></td><td>国办发〔2024〕1号</td><td><b>发布日期：</b></td><td>2024年01月15日</td></tr>
</table>
<div id="UCAP-CONTENT"><p>各省、自治区、直辖市人民政府，国务院各部委、各直属机构：</p>
<p>银发经济是向老年人提供产品或服务，以及为老龄阶段做准备等一系列经济活动的总和。现提出如下意见。</p>
<p>（一）扩大老年助餐服务。到2025年，每个城市至少建成一批老年助餐点。</p></div>
<div class="footer">版权所有：中国政府网</div></body></html>"""


def test_policy_library_page_fields_above_the_article_are_kept() -> None:
    page = read_html(POLICY_LIBRARY_PAGE)
    assert page.title == "国务院办公厅关于发展银发经济增进老年人福祉的意见"  # the 标　　题： field
    assert page.text.split("\n")[:4] == [
        "国务院办公厅关于发展银发经济增进老年人福祉的意见",
        "发文机关：  国务院办公厅  成文日期：  2024年01月11日",
        "发文字号：  国办发〔2024〕1号  发布日期：  2024年01月15日",
        "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：",
    ]
    meta = extract_metadata(page.text)
    assert (meta.doc_number, meta.issuers) == ("国办发〔2024〕1号", ("国务院办公厅",))
    assert (meta.date_signed, meta.date_published) == ("2024-01-11", "2024-01-15")
    assert "索引号" not in page.text and "首页" not in page.text


@pytest.mark.parametrize(
    ("above", "title", "date"),
    [
        # <title> names only the site's section; the article's title and byline stand above it.
        ("<div class='artTitle'>关于灵活就业人员参加养老保险的办理指南</div><div>发布单位：市社保局 发布时间：2016-08-09</div>",
         "关于灵活就业人员参加养老保险的办理指南", "发布时间：2016-08-09"),
        # No <title> at all: a marked title line and a bare date stamp.
        ("<table><tr><td>■ 2015年某区公办初中招生通告</td></tr><tr><td>2015-04-27 09:49:14</td></tr></table>",
         "2015年某区公办初中招生通告", "2015-04-27 09:49:14"),
    ],
)
def test_a_page_title_and_date_just_above_the_article(above: str, title: str, date: str) -> None:
    head = "<head><title>办事指南-某市社保信息网</title></head>" if "artTitle" in above else ""
    html = (
        f"<html>{head}<body><div class='menu'>首页 | 政务公开 | 便民服务</div>{above}<div class='content'>"
        "<p>一、参保条件：本市户籍人员，未达到退休年龄的，可以申请按月参加职工养老保险。</p>"
        "<p>二、缴费标准：按申请时本市职工养老保险的缴费工资基数上下限范围内自行申报，缴费比例为20%。</p></div></body></html>"
    )
    page = read_html(html)
    assert (page.title, page.date_published) == (title, date)
    assert page.text.split("\n")[0] == title


def test_pdf_lines_of_unmapped_glyphs_go_and_numbers_rejoin_their_units() -> None:
    from qa.ingest.pdf import _page_lines

    page = "฿ࣃ൧ᅱള຾ჴ߶໓ࡱ\n津招委高发〔2016〕8 号\n附件：工作规定 2016 年 4 月 13 日\nA new line in English"
    assert _page_lines([page]) == ["津招委高发〔2016〕8号", "附件：工作规定2016年4月13日", "A new line in English"]


def test_a_sign_off_in_a_block_of_its_own_after_the_article_is_kept() -> None:
    html = (
        "<html><body><div class='menu'>首页 | 便民服务</div><table><tr><td><div>一、招生对象<br>具有本区户籍的适龄儿童，统一到区初级中学现场报名。"
        "<br>二、报名时间<br>6月27日至28日上午8:30-11:30，下午2:30-5:30，逾期不再受理。<br>咨询电话：88625108</div>"
        "<div>&nbsp;</div><div align=right><br>西区文体教育局&nbsp;<br>2015年4月&nbsp;<br></div></td></tr></table>"
        "<div>第[1]页</div></body></html>"
    )
    assert read_html(html).text.split("\n")[-3:] == ["咨询电话：88625108", "西区文体教育局", "2015年4月"]


def test_an_article_of_br_separated_lines_in_a_table_cell() -> None:
    html = (
        "<html><body><table><tr><td><a href='#'>首页</a><br><a href='#'>政策</a></td>"
        "<td>关于做好防汛工作的通知<br>各区县：<br>一、压实责任。各地要落实防汛责任制。<br>二、加强值守。汛期实行24小时值班。</td>"
        "</tr></table></body></html>"
    )
    assert read_html(html).text.split("\n") == [
        "关于做好防汛工作的通知",
        "各区县：",
        "一、压实责任。各地要落实防汛责任制。",
        "二、加强值守。汛期实行24小时值班。",
    ]


def test_html_saved_as_txt_is_read_as_html() -> None:
    assert looks_like_html("\ufeff  <!DOCTYPE html><html>") and looks_like_html("<HTML><body>")
    assert not looks_like_html("关于<html>标签的说明")
    extracted = read_plain(HTML_PAGE.encode("gb18030").replace(b'charset="utf-8"', b'charset="gb2312"'), "page.txt")
    assert extracted.file_format == "html" and extracted.encoding == "gb18030"
    assert "<p" not in extracted.text and "屋顶光伏" in extracted.text


def test_markdown_keeps_heading_lines_and_drops_markup() -> None:
    text = read_markdown(
        "# 标题\n\n## 一、范围\n\n见[网站](http://x.cn)，**重点**。\n\n---\n![图](a.png)\n".encode(), "a.md"
    ).text
    assert text.split("\n") == ["# 标题", "", "## 一、范围", "", "见网站，重点。", "", ""]


def test_markdown_drops_the_layout_markup_of_its_dialects_and_its_table_of_contents() -> None:
    page = (
        "::: tip 修订信息\n（2021年11月5日通过）\n:::\n\n::: details 目录\n::: tabs\n@tab 章节\n[[toc]]\n@tab 条例\n"
        "- 第1~20条：\n  [1](#t1)&emsp;[2](#t2)&emsp;[3](#t3)\n:::\n\n## 第一章&emsp;总则{align=\"center\"}\n\n"
        '<p id="t1">&emsp;&emsp;<b>第一条</b>&emsp;为了防治扬尘污染，制定本条例。见[附件](#fj)。</p>\n'
    )
    lines = [ln for ln in read_markdown(page.encode(), "a.md").text.split("\n") if ln.strip()]
    assert lines == ["（2021年11月5日通过）", "- 第1~20条：", "## 第一章\u2003总则", "\u2003\u2003第一条\u2003为了防治扬尘污染，制定本条例。见附件。"]


def test_docx_paragraphs_numbering_and_tables_become_lines() -> None:
    text = read_docx(docx_bytes(DOCX_PARAGRAPHS, [["项目", "频次"], ["后厨", "每日"]]), "a.docx").text
    lines = text.split("\n")
    assert lines[: len(DOCX_PARAGRAPHS)] == DOCX_PARAGRAPHS
    assert lines[-2:] == ["项目  频次", "后厨  每日"]
    with pytest.raises(UnreadableFile, match=r"^old\.docx：这是旧版 Word（\.doc）格式"):
        read_docx(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.docx")


def test_pdf_wrapped_lines_are_joined_but_items_stay_lines() -> None:
    lines = [
        "第一条 为规范网络预约出租汽车经营服务行为，保障运营安全和乘客合法权益，根据有关法",
        "律、行政法规，制定本办法。",
        "第二条 网约车驾驶员应当取得网络预约出租汽车驾驶员证，方可从事网约车经营服务和其",
        "他相关服务。",
        "一、总体要求",
        "（一）坚持安全第一，依法依规开展网约车经营服务，全面保障乘客和驾驶员的合法权益",
        "1. 平台公司应当设立服务机构。",
    ]
    assert join_wrapped_lines(lines) == [
        lines[0] + lines[1],
        lines[2] + lines[3],
        lines[4],
        lines[5],
        lines[6],
    ]


def test_a_short_last_line_of_a_wrapped_paragraph_ends_it_even_without_a_full_stop() -> None:
    lines = [
        "第一条 为规范网络预约出租汽车经营服务行为，保障运营安全和乘客合法权益，根据有关法",
        "律、行政法规制定",
        "市交通运输局",
        "网约车驾驶员证申请表",
        "第二条 网约车驾驶员应当取得网络预约出租汽车驾驶员证，方可从事网约车经营服务和其",
        "他相关服务。",
    ]
    assert join_wrapped_lines(lines) == [lines[0] + lines[1], lines[2], lines[3], lines[4] + lines[5]]


# --- The corpus: every format, the damaged files skipped with reasons ------------------


def test_each_format_loads_with_its_text_and_metadata(loaded: LoadedCorpus) -> None:
    docs = {d.doc_id: d for d in loaded.documents}
    assert sorted(docs) == sorted(FACTS)
    expected = {
        "notice-gbk": ("txt", "gb18030", "水利部关于推进农村供水工程建设的通知", "水农〔2024〕21号", ("水利部",), "2024-03-05", ""),
        "guide": ("md", "utf-8", "社区养老服务设施建设指南", "", ("民政部",), "2024-06-01", ""),
        "green-building": (
            "html", "utf-8", "国务院办公厅关于推进城市绿色建筑发展的意见", "国办发〔2024〕7号", ("国务院办公厅",), "2024-03-10", "2024-03-15",
        ),
        "school-food": (
            "docx", "", "教育部 国家市场监督管理总局关于加强学校食品安全管理的规定", "教督〔2024〕3号",
            ("教育部", "国家市场监督管理总局"), "2024-01-08", "",
        ),
        "ride-hailing": (
            "pdf", "", "交通运输部关于规范网络预约出租汽车经营服务的办法", "交运规〔2024〕9号", ("交通运输部",), "2024-02-20", "",
        ),
    }  # fmt: skip
    for doc_id, (fmt, encoding, title, number, issuers, signed, published) in expected.items():
        doc = docs[doc_id]
        assert (doc.file_format, doc.encoding, doc.title, doc.doc_number) == (fmt, encoding, title, number), doc_id
        assert (doc.issuers, doc.date_signed, doc.date_published) == (issuers, signed, published), doc_id
        assert doc.source_file.startswith(doc_id + ".")
        assert FACTS[doc_id][1] in doc.text
    assert "第一条 为保障学生饮食安全，制定本规定。\n" in docs["school-food"].text  # numbered lines stay lines
    assert "## 二、建设标准\n" in docs["guide"].text
    assert "根据有关法律、行政法规，制定本办法。" in docs["ride-hailing"].text  # the wrapped PDF line is joined


def test_damaged_files_are_skipped_with_a_reason_naming_them(loaded: LoadedCorpus) -> None:
    reasons = {s.file: s.reason for s in loaded.skipped}
    assert reasons == {
        "broken.docx": "broken.docx：不是有效的 Word（.docx）文件，可能已损坏",
        "scanned.pdf": "scanned.pdf：这是扫描件（PDF 中只有图像，没有文字层），无法读取文字；请提供可复制文字的 PDF 或 Word 文件",
    }
    assert all("\n" not in r for r in reasons.values())
    summary = loaded.summary()
    assert summary.startswith("读取 5 份文档（docx 1，html 1，md 1，pdf 1，txt 1）")
    assert "notice-gbk.txt（GB18030）" in summary and "跳过 2 个文件：broken.docx、scanned.pdf" in summary


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"  \n", "empty.txt：文件是空的"),
        ("only-noise.txt", "image.png\n查看所有评论\n".encode(), "only-noise.txt：文件中没有可读的文字"),
        ("binary.txt", b"\x00\x01\x02\x03", "binary.txt：这是二进制文件，不是文字文件"),
        ("junk.pdf", b"%PDF-1.4 not really", "junk.pdf：不是有效的 PDF 文件，或文件已损坏"),
        ("old.doc", b"\xd0\xcf\x11\xe0", "old.doc：旧版 Word（.doc）格式不支持，请另存为 .docx"),
        ("photo.jpg", b"\xff\xd8\xff", "photo.jpg：图片无法读取文字（不做文字识别），请提供文字版文件"),
    ],
)
def test_each_kind_of_unreadable_file_has_its_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    (tmp_path / "good.txt").write_text("关于某事的通知\n正文内容。\n", encoding="utf-8")
    (tmp_path / name).write_bytes(content)
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["good"]
    assert [(s.file, s.reason) for s in loaded.skipped] == [(name, reason)]


def test_oversized_files_are_refused_before_they_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qa.ingest.readers.MAX_TEXT_BYTES", 1_000_000)
    (tmp_path / "long.txt").write_text("关于某事的通知，正文很长。" * 40_000, encoding="utf-8")
    (tmp_path / "short.pdf").write_bytes(pdf_bytes(["第一条 正文在这里，一份带文字层的文件。"]))
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["short"]  # the PDF limit is another
    assert [s.reason for s in loaded.skipped] == ["long.txt：文件过大（1.6 MB，上限 1 MB）"]


def test_hidden_and_lock_files_are_passed_over(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("通知正文。", encoding="utf-8")
    (tmp_path / "~$a.docx").write_bytes(b"lock")
    (tmp_path / ".DS_Store").write_bytes(b"\x00")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("子文件夹里的文件不读。", encoding="utf-8")
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["a"] and loaded.skipped == ()


def test_an_unforeseen_reader_failure_skips_only_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text("甲通知。", encoding="utf-8")
    (tmp_path / "b.md").write_text("# 乙", encoding="utf-8")

    def crash(data: bytes, name: str) -> object:
        raise MemoryError

    monkeypatch.setitem(READERS, ".md", crash)
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["a"]
    assert [s.reason for s in loaded.skipped] == ["b.md：读取时出错（MemoryError），已跳过"]


def test_ids_from_file_names_are_safe() -> None:
    assert id_from_file_name("关于印发《方案》的通知 (1)") == "关于印发-方案-的通知-1"
    assert id_from_file_name("../..") == "document"
    assert id_from_file_name("miit-2023-118") == "miit-2023-118"


def test_loading_modifies_nothing_in_the_corpus_folder(library: Path) -> None:
    def snapshot() -> dict[str, tuple[str, int]]:
        return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in sorted(library.iterdir())}

    before = snapshot()
    load_corpus(library)
    assert snapshot() == before


# --- JSON metadata beside a document ----------------------------------------------------


def _with_json(folder: Path, meta: object, stem: str = "doc") -> LoadedCorpus:
    folder.mkdir(exist_ok=True)
    (folder / f"{stem}.txt").write_text(GBK_NOTICE, encoding="utf-8")
    (folder / f"{stem}.json").write_text(
        meta if isinstance(meta, str) else json.dumps(meta, ensure_ascii=False), encoding="utf-8"
    )
    return load_corpus(folder)


def test_json_overrides_each_field_it_gives_and_the_text_fills_the_rest(tmp_path: Path) -> None:
    (doc,) = _with_json(
        tmp_path, {"id": "water-2024", "doc_number": "水农〔2024〕99号", "issuers": ["水利部", "财政部"]}
    ).documents
    assert (doc.doc_id, doc.doc_number, doc.issuers) == ("water-2024", "水农〔2024〕99号", ("水利部", "财政部"))
    assert (doc.title, doc.date_signed) == ("水利部关于推进农村供水工程建设的通知", "2024-03-05")  # from the text
    (doc,) = _with_json(tmp_path / "b", {"title": "自定标题", "date_signed": "2024-03-06", "doc_number": ""}).documents
    assert (doc.title, doc.date_signed, doc.doc_number) == ("自定标题", "2024-03-06", "")
    (doc,) = _with_json(tmp_path / "c", {"id": "供水通知-2024.v2"}).documents
    assert doc.doc_id == "供水通知-2024.v2"  # 汉字 are letters


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        ({"id": ["a", "b"]}, "doc.json：字段 id 应为文字，而不是列表"),
        ({"date_signed": {"y": 2023}}, "doc.json：字段 date_signed 应为文字，而不是对象"),
        ({"date_signed": "2023年8月3日"}, "doc.json：字段 date_signed 应为 2023-08-03 这样的日期（年-月-日）"),
        ({"id": "../a/b?c#d"}, "doc.json：字段 id 只能由字母、汉字、数字和 - _ . 组成，并以字母、汉字或数字开头"),
        ({"issuers": "水利部"}, "doc.json：字段 issuers 应为列表，而不是文字"),
        ({"topics": [{"label": "目标"}]}, "doc.json：字段 topics 第1项 question 缺少这一项"),
        (
            {"titel": "错拼"},
            "doc.json：字段 titel 不是可识别的字段（可用：id、title、doc_number、issuers、date_signed、date_published、source、examples、topics）",
        ),
        ([1, 2], "doc.json：应为一个 JSON 对象（{…}），而不是列表"),
        ('{"id": "a",}', "doc.json：不是有效的 JSON（第1行第12列）"),
        ('{"a":' * 100_000, "doc.json：JSON 嵌套层数过深，无法读取"),
        ("[" * 100_000 + "]" * 100_000, "doc.json：JSON 嵌套层数过深，无法读取"),
    ],
)
def test_bad_json_metadata_is_one_line_naming_file_and_field(tmp_path: Path, meta: object, reason: str) -> None:
    loaded = _with_json(tmp_path, meta)
    assert [(s.file, s.reason) for s in loaded.skipped] == [("doc.json", f"{reason}；这份元数据未使用，doc.txt 按正文读取")]
    # The document is not lost to a slip in its metadata: it is read from its text alone.
    (doc,) = loaded.documents
    assert (doc.doc_id, doc.title, doc.date_signed) == ("doc", "水利部关于推进农村供水工程建设的通知", "2024-03-05")
    assert loaded.without_metadata == ("doc",)


def test_json_without_its_document_and_duplicate_ids_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("第一份通知。", encoding="utf-8")
    (tmp_path / "a.json").write_text('{"id": "same"}', encoding="utf-8")
    (tmp_path / "b.txt").write_text("第二份通知。", encoding="utf-8")
    (tmp_path / "b.json").write_text('{"id": "same"}', encoding="utf-8")
    (tmp_path / "orphan.json").write_text('{"title": "无主"}', encoding="utf-8")
    loaded = load_corpus(tmp_path)
    assert [d.source_file for d in loaded.documents] == ["a.txt"]
    assert [(s.file, s.reason) for s in loaded.skipped] == [
        ("b.txt", "b.txt：文档编号 same 与 a.txt 重复，已跳过（请改文件名或 JSON 中的 id）"),
        ("orphan.json", "orphan.json：没有同名的文档文件（如 orphan.txt 或 orphan.docx），这份元数据未使用"),
    ]


def test_sidecar_read_directly_reports_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(UnreadableFile, match=r"^x\.json：这是二进制文件"):
        read_sidecar(path, "x.json")


def test_bundled_notice_keeps_its_json_metadata_and_records_its_file() -> None:
    doc = load_document(CORPUS / "miit-2023-118.txt", corpus_dir=CORPUS)
    assert (doc.source_file, doc.file_format, doc.encoding) == ("miit-2023-118.txt", "txt", "utf-8")
    assert doc.examples and doc.topics  # JSON-only fields


def test_missing_corpus_folder_is_an_error_in_chinese(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"^语料文件夹 .*missing 不存在$"):
        load_corpus(tmp_path / "missing")


# --- One index over every format ---------------------------------------------------------


def test_a_question_about_each_file_retrieves_that_file(library: Path, tmp_path: Path) -> None:
    from qa.retrieve.embedder import HashEmbedder
    from qa.retrieve.retrieval import Retriever
    from qa.service import ensure_index
    from qa.settings import Settings

    corpus = tmp_path / "corpus"
    shutil.copytree(library, corpus)
    for name in ("miit-2023-118.txt", "miit-2023-118.json"):
        shutil.copy(CORPUS / name, corpus / name)
    reports: list[str] = []
    settings = Settings(model="hash", corpus_dir=corpus, index_dir=tmp_path / "index")
    index, built = ensure_index(settings, HashEmbedder(), report=reports.append)
    assert built and sorted(index.documents) == sorted([*FACTS, "miit-2023-118"])
    assert reports[:2] == [f"跳过 {s.reason}" for s in load_corpus(corpus).skipped]
    assert reports[-1].startswith("读取 6 份文档")
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
    retriever = Retriever(HashEmbedder(), index, settings.candidate_k, settings.rrf_k, 1.0, 1.0)
    for doc_id, (question, fact) in [*FACTS.items(), ("miit-2023-118", ("未来产业有哪些？", "脑机接口"))]:
        top = retriever.search(question, top_k=3).passages
        assert top[0].chunk.doc_id == doc_id, question
        assert any(fact in p.chunk.text for p in top if p.chunk.doc_id == doc_id), question


# --- A bad file never stops the service ---------------------------------------------------


def test_a_bad_file_keeps_the_last_good_index_in_use(tmp_path: Path) -> None:
    from qa.retrieve.embedder import HashEmbedder
    from qa.service import ensure_index
    from qa.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("关于甲事项的通知\n甲事项的补贴标准为每人八百元。\n", encoding="utf-8")
    (corpus / "b.txt").write_text("关于乙事项的通知\n乙事项的申请期限为三十个工作日。\n", encoding="utf-8")
    settings = Settings(model="hash", corpus_dir=corpus, index_dir=tmp_path / "index")
    reports: list[str] = []

    def ensure(force: bool = False) -> tuple[list[str], bool]:
        reports.clear()
        index, built = ensure_index(settings, HashEmbedder(), force=force, report=reports.append)
        return sorted(index.documents), built

    assert ensure() == (["a", "b"], True)
    (corpus / "b.txt").write_bytes(b"\x00\x01garbage")  # saved over by mistake
    (corpus / "c.txt").write_text("关于丙事项的通知\n丙事项由街道办理。\n", encoding="utf-8")
    assert ensure() == (["a", "b"], False)  # b is not dropped: the last good index stays
    assert reports == [
        "跳过 b.txt：这是二进制文件，不是文字文件",
        "索引未更新：1 份已收录的文档（b）这次无法读取，继续使用上次建好的索引；修正文件后运行 qa build",
    ]
    assert ensure(force=True) == (["a", "c"], True)  # `qa build` builds from the files that read
    assert reports[0] == "跳过 b.txt：这是二进制文件，不是文字文件" and reports[-1].startswith("读取 2 份文档")
    assert ensure() == (["a", "c"], False)  # fresh: loaded as it is, the bad file still reported
    assert reports == ["跳过 b.txt：这是二进制文件，不是文字文件"]
    (corpus / "d.pdf").write_bytes(b"not a pdf")
    (corpus / "a.txt").write_text("关于甲事项的通知\n甲事项的补贴标准调整为每人九百元。\n", encoding="utf-8")
    assert ensure() == (["a", "c"], True)  # nothing indexed is lost: a new bad file does not block an update


def test_nothing_readable_and_no_index_is_one_clear_error(tmp_path: Path) -> None:
    from qa.retrieve.embedder import HashEmbedder
    from qa.service import ensure_index
    from qa.settings import Settings

    (tmp_path / "bad.docx").write_bytes(b"junk")
    settings = Settings(model="hash", corpus_dir=tmp_path, index_dir=tmp_path / "index")
    with pytest.raises(CorpusError, match=r"^语料文件夹 .* 中没有可读取的文档（1 个文件无法读取，原因见上）$"):
        ensure_index(settings, HashEmbedder(), report=lambda _: None)


def test_qa_ask_answers_from_the_last_good_index_when_a_file_is_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "broken.docx").write_bytes(b"junk")
    args = ["ask", "--json", "--model", "hash", "--corpus", str(corpus), "--index", str(tmp_path / "index")]
    assert main([*args, "未来产业有哪些？"]) == 0  # first run: built from the files that read
    assert "跳过 broken.docx：不是有效的 Word（.docx）文件，可能已损坏" in capsys.readouterr().err
    (corpus / "miit-2023-118.json").write_text('{"id": ["miit"]}', encoding="utf-8")  # the notice's metadata breaks
    assert main([*args, "未来产业有哪些？"]) == 0
    captured = capsys.readouterr()
    answer = json.loads(captured.out)
    assert answer["found"] and answer["citations"][0]["doc_id"] == "miit-2023-118"
    assert "跳过 miit-2023-118.json：字段 id 应为文字，而不是列表" in captured.err
    assert "索引未更新" in captured.err


def test_a_document_with_a_slip_in_its_metadata_is_listed_from_its_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "water.txt").write_text(GBK_NOTICE, encoding="utf-8")
    (corpus / "water.json").write_text('{"titel": "错拼的字段"}', encoding="utf-8")
    assert main(["list", "--model", "hash", "--corpus", str(corpus), "--index", str(tmp_path / "index")]) == 0
    captured = capsys.readouterr()
    assert "water" in captured.out and "水利部关于推进农村供水工程建设的通知" in captured.out
    assert "water.json：字段 titel 不是可识别的字段" in captured.out and "water.txt 按正文读取" in captured.out


@pytest.mark.model
def test_a_question_about_each_file_is_answered_from_it_with_an_exact_span(
    library: Path, tmp_path: Path, real_settings: Settings
) -> None:
    """One file of each format (GBK text, Markdown, web page, Word, PDF) beside the bundled notice, with the real model."""
    from qa.service import QAService

    corpus = tmp_path / "corpus"
    shutil.copytree(library, corpus)
    for name in ("miit-2023-118.txt", "miit-2023-118.json"):
        shutil.copy(CORPUS / name, corpus / name)
    service = QAService.load(real_settings.with_(corpus_dir=corpus, index_dir=tmp_path / "index"), show_progress=False)
    for doc_id, (question, fact) in FACTS.items():
        answer = service.ask(question)
        assert answer.found, (doc_id, question, answer.answer)
        assert answer.doc_id == doc_id and all(c.doc_id == doc_id for c in answer.citations), (question, answer.answer)
        assert fact in answer.answer, (question, answer.answer)
        for c in answer.citations:
            assert service.index.documents[c.doc_id].text[c.start : c.end] == c.text


def test_a_saved_government_page_gives_its_fields_from_its_table_and_sign_off() -> None:
    # A gov.cn page saved as text: site banner and menus, the information table with each value on
    # the line after its label, the title with its number, and a sign-off with a spaced-out name.
    text = "\n".join(
        [
            "某省发展和改革委员会",
            "首页",
            "新闻中心",
            "政府信息公开",
            "索 引 号 ：",
            "0828-2025-000022",
            "公文种类：",
            "通知",
            "发布机构：",
            "某省发展和改革委员会 某省能源局",
            "成文日期：",
            "2025-09-29",
            "发布日期：",
            "2025-09-30",
            "文 号：",
            "(某发改价格〔2025〕480号)",
            "关于印发《某省电价改革实施方案》的通知(某发改价格〔2025〕480号)",
            "各市发展改革委：",
            "现将《某省电价改革实施方案》印发给你们，请抓好贯彻执行。",
        ]
    )
    meta = extract_metadata(text)
    assert meta.title == "关于印发《某省电价改革实施方案》的通知"
    assert meta.doc_number == "某发改价格〔2025〕480号"
    assert meta.issuers == ("某省发展和改革委员会", "某省能源局")
    assert (meta.date_signed, meta.date_published) == ("2025-09-29", "2025-09-30")
    signed = extract_metadata("某部关于某事的意见\n\n正文。\n\n国家发展改革委\n国 家 能 源 局\n2025年5月16日\n")
    assert signed.issuers == ("国家发展改革委", "国家能源局") and signed.date_signed == "2025-05-16"
