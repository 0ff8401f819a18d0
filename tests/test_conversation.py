"""Follow-up questions made self-contained: years, field groups, tasks and safeguards, kinds of answer."""

from __future__ import annotations

import random
import time

import pytest

from qa.answer.conversation import _longest_common, is_followup, resolve_followup


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


def _longest_common_by_brute_force(a: str, b: str) -> tuple[int, int, int]:
    best = (0, 0, 0)
    for i in range(len(a)):
        for j in range(len(b)):
            n = 0
            while i + n < len(a) and j + n < len(b) and a[i + n] == b[j + n]:
                n += 1
            if n > best[0]:
                best = (n, i, j)
    return best


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("新兴产业", "未来产业", (2, 2, 2)),
        ("国家标准和行业标准", "团体标准", (2, 2, 2)),  # the first of equally long ones
        ("abcabc", "xbcab", (4, 1, 1)),
        ("abc", "xyz", (0, 0, 0)),
        ("", "abc", (0, 0, 0)),
        ("aaa", "aa", (2, 0, 0)),
    ],
)
def test_longest_common_substring(a: str, b: str, expected: tuple[int, int, int]) -> None:
    assert _longest_common(a, b) == expected


def test_longest_common_substring_agrees_with_brute_force() -> None:
    rng = random.Random(20230118)
    for _ in range(2000):
        a = "".join(rng.choice("产业标准") for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice("产业新") for _ in range(rng.randint(0, 12)))
        assert _longest_common(a, b) == _longest_common_by_brute_force(a, b), (a, b)


def test_longest_common_substring_is_quadratic_not_cubic() -> None:
    # Cubic work on two identical 1000-character strings is some 300 million steps (minutes);
    # the dynamic program does a million (a fraction of a second).
    started = time.perf_counter()
    assert _longest_common("产" * 1000, "产" * 1000) == (1000, 0, 0)
    assert _longest_common("新" + "产业" * 500, "未产业" * 500) == (2, 1, 1)
    assert time.perf_counter() - started < 5


def test_long_followups_are_resolved_quickly() -> None:
    # Questions at the web's 500-character limit, sharing many characters.
    started = time.perf_counter()
    assert resolve_followup("那" + "未来产业" * 124 + "呢", "新兴产业" * 125).startswith("未来产业")
    assert time.perf_counter() - started < 5
