"""The real model on the real corpus: targets and fields, question → facts the answer must quote.

These pin the product's most asked answers (numbers by year, the 8 + 9 fields) in phrasings of
their own, beside the golden set that `tests/test_golden.py` gates.
"""

from __future__ import annotations

import pytest

from qa.service import QAService
from qa.text.normalize import normalize

pytestmark = pytest.mark.model

EMERGING = ["新一代信息技术", "新能源", "新材料", "高端装备", "新能源汽车", "绿色环保", "民用航空", "船舶与海洋工程装备"]
FUTURE = ["元宇宙", "脑机接口", "量子信息", "人形机器人", "生成式人工智能", "生物制造", "未来显示", "未来网络", "新型储能"]

ANSWERED = [
    ("2025年新制定的国家标准和行业标准要达到多少项？", ["2000项以上", "2025"]),
    ("到2025年培育多少项先进团体标准", ["300项以上", "2025"]),
    ("2025年参与制定国际标准的目标是多少项", ["300项以上", "2025"]),
    ("到2025年重点领域国际标准转化率目标", ["超过90%", "2025"]),
    ("科技计划项目形成标准成果的比例到2025年要达到多少", ["60%以上", "2025"]),
    ("到2025年开展标准宣贯和实施推广的企业要有多少家", ["10000家以上", "2025"]),
    ("2025年要实现哪些量化目标", ["60%以上", "2000项以上", "300项以上", "10000家以上", "超过90%"]),
    ("到2030年标准化工作要实现什么目标", ["2030", "更加健全"]),
    ("2035年的目标是什么", ["2035", "全面形成"]),
    ("三步走目标是哪三个年份", ["2025", "2030", "2035"]),
    ("新兴产业聚焦哪些领域", EMERGING),
    ("新興產業有哪些重點領域？", EMERGING),
    ("新兴产业领域", EMERGING),
    ("未来产业包括什么", FUTURE),
    ("未來產業聚焦哪些領域", FUTURE),
    ("未来产业 方向", FUTURE),
    ("新兴产业有几大领域", ["8大领域"]),
    ("未来产业一共有几个领域", ["9大领域"]),
    ("人形机器人属于哪类产业", ["未来产业"]),
    ("新材料是新兴产业还是未来产业", ["新兴产业"]),
    ("生成式人工智能属于什么产业", ["未来产业"]),
    ("民用航空归在哪一类", ["新兴产业"]),
    ("五项重点任务是什么", ["建体系", "强能力", "抓新兴", "谋未来", "拓空间"]),
    ("重点任务是什么？", ["建体系", "强能力", "抓新兴", "谋未来", "拓空间"]),
    ("在人才方面有什么保障措施", ["健全人才队伍", "标准化高端人才"]),
    ("保障措施有哪几个方面", ["加强组织领导", "加大资源投入", "动态考核评估", "健全人才队伍", "注重宣传激励"]),
    ("哪些部门印发了这个通知", ["工业和信息化部", "科技部", "国家能源局", "国家标准化管理委员会"]),
    ("通知的文号", ["工信部联科〔2023〕118号"]),
    ("通知是哪天签发的", ["2023年8月3日"]),
    ("新产业是指什么", ["新兴产业和未来产业"]),
    ("基本原则有哪些", ["创新引领", "应用带动", "系统布局", "工程推进", "开放合作"]),
    ("拓空间包括哪些工作", ["扩大标准制度型开放", "加快国际标准转化"]),
]

REFUSED = [
    "2030年要新制定多少项国家标准？",
    "2035年国际标准转化率要达到多少？",
    "企业参与标准制定能拿到多少补贴？",
    "教育部在方案中负责什么？",
    "明天北京会下雨吗",
]


@pytest.mark.parametrize(("question", "facts"), ANSWERED)
def test_answer_and_citations_hold_the_facts(real_service: QAService, question: str, facts: list[str]) -> None:
    answer = real_service.ask(question)
    assert answer.found, f"{question} was refused"
    text = normalize(answer.answer)
    quotes = [normalize(c.text) for c in answer.citations]
    for fact in facts:
        assert normalize(fact) in text, f"{fact} missing from {answer.answer}"
        assert any(normalize(fact) in q for q in quotes), f"{fact} not in any citation"
    for c in answer.citations:
        assert real_service.index.documents[c.doc_id].text[c.start : c.end] == c.text


@pytest.mark.parametrize("question", REFUSED)
def test_questions_outside_the_document_are_refused(real_service: QAService, question: str) -> None:
    answer = real_service.ask(question)
    assert not answer.found and answer.answer.startswith("未在文件中找到")
