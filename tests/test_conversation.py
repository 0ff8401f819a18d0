"""Follow-up questions made self-contained: years, field groups, tasks and safeguards, kinds of answer."""

from __future__ import annotations

import pytest

from qa.conversation import is_followup, resolve_followup


@pytest.mark.parametrize(
    ("question", "previous", "expected"),
    [
        # Another year: the year is replaced, the rest of the question carries over.
        ("2030年呢？", "2025年新制定多少项国家标准?", "2030年新制定多少项国家标准?"),
        ("2030年呢？", "到2025年要新制定多少项国家标准和行业标准？", "到2030年要新制定多少项国家标准和行业标准？"),
        ("那2035年呢", "2030年的目标是什么？", "2035年的目标是什么？"),
        ("另外，二〇三〇年呢", "到2025年培育多少项先进团体标准？", "到2030年培育多少项先进团体标准？"),
        ("那30年的呢", "到2025年培育多少项先进团体标准？", "到2030年培育多少项先进团体标准？"),
        # A year where the previous question had none: put in front.
        ("那2030年呢？", "新兴产业包括哪些领域？", "2030年新兴产业包括哪些领域？"),
        # Another field group: the most similar topic (sharing 产业, 标准) is replaced.
        ("那未来产业呢？", "新兴产业包括哪些领域？", "未来产业包括哪些领域？"),
        ("新兴产业", "未来产业有哪些？", "新兴产业有哪些？"),
        ("那团体标准呢？", "到2025年新制定国家标准和行业标准多少项?", "到2025年新制定团体标准多少项?"),
        # Tasks and safeguards: the previous question's one topic gives way to the new one.
        ("那保障措施呢？", "重点任务是什么？", "保障措施是什么？"),
        ("保障措施呢", "重点任务有哪些？", "保障措施有哪些？"),
        ("还有强能力呢", "建体系包括哪些工作？", "强能力包括哪些工作？"),
        # Nothing in common: the leading topic is replaced, where Chinese puts what a question is about.
        ("那元宇宙呢？", "生物制造属于哪类产业？", "元宇宙属于哪类产业？"),
        # A follow-up naming another kind of answer swaps the kind, not the topic.
        ("那么发布日期呢？", "这份文件的文号是什么？", "这份文件的发布日期是什么？"),
        ("那印发部门呢", "这份文件的文号是什么？", "这份文件的印发部门是什么？"),
        # The previous question had no topic: the new one goes in front.
        ("那通知呢", "文号是什么？", "通知文号是什么？"),
    ],
)
def test_followups_take_the_previous_question_s_kind(question: str, previous: str, expected: str) -> None:
    assert resolve_followup(question, previous) == expected


@pytest.mark.parametrize(
    ("question", "previous"),
    [
        ("到2025年要新制定多少项国家标准和行业标准？", "新兴产业包括哪些领域？"),  # a whole question
        ("未来产业有哪些？", "新兴产业包括哪些领域？"),  # its own question words
        ("那未来产业有哪些？", "新兴产业包括哪些领域？"),  # 那 does not make a whole question a follow-up
        ("文号是什么？", "新兴产业包括哪些领域？"),  # its own kind of answer
        ("新兴产业 重点领域", "重点任务是什么？"),  # a keyword query naming a collection
        ("还有哪些？", "新兴产业包括哪些领域？"),  # nothing new to ask about
        ("那发布日期呢", "新兴产业包括哪些领域？"),  # a kind of answer the previous question did not ask
        ("谢谢", "新兴产业包括哪些领域？"),  # not a question at all
    ],
)
def test_questions_that_stand_alone_are_unchanged(question: str, previous: str) -> None:
    assert resolve_followup(question, previous) == question


@pytest.mark.parametrize("previous", [None, "", "   "])
def test_without_a_previous_question_nothing_changes(previous: str | None) -> None:
    assert resolve_followup("那未来产业呢？", previous) == "那未来产业呢？"


def test_surrounding_whitespace_is_dropped() -> None:
    assert resolve_followup("  未来产业有哪些？ ", None) == "未来产业有哪些？"
    assert resolve_followup(" 那未来产业呢？\n", " 新兴产业包括哪些领域？ ") == "未来产业包括哪些领域？"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("那未来产业呢？", True),
        ("2030年呢", True),
        ("还有保障措施", True),
        ("另外，生物制造", True),
        ("未来产业", True),  # short, with no question words of its own
        ("保障措施", False),  # names a collection (…措施): a list question of its own
        ("未来产业有哪些？", False),
        ("到2030年的目标是什么", False),
        ("新兴产业 重点领域", False),  # names a collection: a list question of its own
        ("这份文件对推动新产业高质量发展提出了总体要求", False),  # long: a statement, not a follow-up
        ("", False),
    ],
)
def test_is_followup(question: str, expected: bool) -> None:
    assert is_followup(question) is expected
