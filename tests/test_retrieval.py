"""Lexical index, rank fusion, question analysis and typo correction."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answer.question import analyse
from qa.retrieve.retrieval import LexicalIndex, rrf_fuse, top_indices
from qa.text.spelling import HomophoneCorrector


def test_bm25_over_bigrams_ranks_the_matching_text_first() -> None:
    texts = ["新兴产业聚焦新一代信息技术、新能源等8大领域", "未来产业聚焦元宇宙、脑机接口等9大领域", "加强组织领导"]
    lexical = LexicalIndex(texts)
    scores = lexical.scores("脑机接口属于哪类产业")
    assert int(np.argmax(scores)) == 1
    assert scores[2] == 0
    assert lexical.scores("？？").tolist() == [0.0, 0.0, 0.0]
    assert LexicalIndex([]).scores("任何问题").shape == (0,)


def test_bm25_matches_traditional_and_full_width_questions() -> None:
    lexical = LexicalIndex(["重点领域国际标准转化率超过90%", "培育先进团体标准300项以上"])
    assert int(np.argmax(lexical.scores("國際標準轉化率"))) == 0
    assert int(np.argmax(lexical.scores("團體標準３００項"))) == 1


def test_rrf_fuses_by_reciprocal_rank_and_weights() -> None:
    fused = rrf_fuse([[1, 2, 3], [3, 1]], weights=[1.0, 1.0], k=60)
    assert [item for item, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    only_second = rrf_fuse([[1, 2, 3], [3, 1]], weights=[0.0, 1.0], k=60)
    assert [item for item, _ in only_second][:2] == [3, 1]


def test_top_indices_can_drop_zero_scores() -> None:
    assert top_indices(np.array([0.0, 2.0, 1.0]), 3, positive_only=True) == [1, 2]
    assert top_indices(np.array([0.0, 2.0, 1.0]), 2) == [1, 2]


@pytest.mark.parametrize(
    ("question", "kind", "years"),
    [
        ("到2025年新制定国家标准和行业标准多少项？", "quantity", ("2025",)),
        ("國際標準轉化率要達到多少", "percent", ()),
        ("新兴产业包括哪些领域", "list", ()),
        ("新兴产业 重点领域", "list", ()),
        ("五项主要任务是什么", "list", ()),
        ("哪些部门联合印发了这个通知", "who", ()),
        ("通知的落款日期是哪天", "date", ()),
        ("这份通知的文号是什么", "docnum", ()),
        ("什么是新产业", "definition", ()),
        ("制定方案的背景", "text", ()),
        ("二〇三〇年的目标是什么", "text", ("2030",)),
        ("到25年团体标准有多少项", "quantity", ("2025",)),
        ("违反本条例的，罚款多少钱", "money", ()),
        ("申请材料应在几个工作日内提交", "duration", ()),
        ("补贴政策有效期多久", "duration", ()),
        ("国务院令第53号是哪年发布的", "year", ()),
        ("哪两类人员可以申请", "list", ()),
        ("发布时间", "date", ()),
        ("国家这几年打算新定多少个国标", "quantity", ()),
        ("2025年、2026年竞价上下限分别是多少", "quantity", ("2025", "2026")),
        ("五项任务分别是什么", "list", ()),
        ("清缴配额有什么比例限制", "percent", ()),
    ],
)
def test_question_kinds_and_years(question: str, kind: str, years: tuple[str, ...]) -> None:
    intent = analyse(question)
    assert intent.kind == kind
    assert intent.years == years


def test_question_measure_numbers_count_and_present_tense() -> None:
    assert analyse("元宇宙领域要制定多少项标准").measure == "项"
    assert analyse("重点领域国际标准转化率是多少").measure == "%"
    assert analyse("领航工程总投资多少亿元").measure == "元"
    assert analyse("春节放假几天").measure == "天"
    assert analyse("哪两类人员可以申请").count_asked == 2
    assert analyse("国务院令第53号什么时候施行").numbers == frozenset({53.0})
    assert analyse("国务院令第53号什么时候施行").date_role == "effective"
    assert analyse("目前已经培育了多少项团体标准").present
    assert not analyse("到2025年培育多少项团体标准").present
    assert analyse("国家这几年打算新定多少个国标").measure == "个"  # 这几年 is a time, not the measure asked


def test_question_content_drops_question_words() -> None:
    assert analyse("请问新兴产业都有哪些领域呢？").segments == ("新兴产业", "领域")


def test_homophone_typos_are_corrected_from_the_corpus_vocabulary() -> None:
    corrector = HomophoneCorrector(["《实施方案》提出五个方面的保障措施。", "工信部联科〔2023〕118号", "文号"])
    assert corrector.correct("方案的保彰措施有哪几条") == "方案的保障措施有哪几条"
    assert corrector.correct("这份通知的闻号是多少") == "这份通知的文号是多少"
    # words the corpus lacks are not "corrected" into something else
    assert corrector.correct("有补贴吗") == "有补贴吗"
    assert corrector.correct("今天天气怎么样") == "今天天气怎么样"


def test_a_bigram_only_at_the_seam_of_two_library_words_is_no_evidence_for_a_replacement() -> None:
    # 供租 occurs only across 提供|租赁: 公租房 is an abbreviation the library does not use, not a typo of 供租房.
    text = "配租单位应当提供租赁合同。申请公共租赁住房应当提供证明。" * 3
    corrector = HomophoneCorrector([text])
    assert corrector.correct("深圳公租房租期多久") == "深圳公租房租期多久"
    assert corrector.correct("申请公共祖赁住房") == "申请公共租赁住房"  # a typo inside a library word still is one


def test_a_character_in_a_word_the_segmenter_made_up_is_read_as_a_typo_of_that_word() -> None:
    # 能伸 is a dictionary word, but the question's words are 才能|伸请, and 伸请 is no word.
    corrector = HomophoneCorrector(["符合条件的可以提出申请。申请人应当提交申请材料。创业补贴按规定发放。"] * 3)
    assert corrector.correct("要满多少分才能伸请") == "要满多少分才能申请"
    # the replacement mends the made-up word itself: 补帖 → 补贴, and 补 is left alone
    assert corrector.correct("就业补帖总额") == "就业补贴总额"
    assert corrector.correct("才能申请") == "才能申请"


def test_a_neighbour_inside_another_real_word_does_not_vouch_for_a_replacement() -> None:
    # 体制 is a library word, but 体 belongs to 具体 here: "具体指" is not a typo of 具体制.
    corrector = HomophoneCorrector(["深化管理体制改革，完善体制机制。体制创新。"] * 3)
    assert corrector.correct("流动人口具体指什么样的人") == "流动人口具体指什么样的人"
    assert corrector.correct("管理体治改革") == "管理体制改革"  # a typo inside the word still is one


def test_a_typo_may_be_any_reading_of_a_character_of_several() -> None:
    # 藏 is read cang most often, but the typist meant zang: 丧藏 is 丧葬.
    corrector = HomophoneCorrector(["发给丧葬补助费1000元。丧葬补助费由个人账户支付。"] * 3)
    assert corrector.correct("丧藏补助费发多少") == "丧葬补助费发多少"
    assert corrector.correct("西藏的补助费") == "西藏的补助费"  # a real word is left alone


def test_a_typo_that_ends_the_word_before_it_is_read_with_that_word() -> None:
    # 输 after the real word 通知 makes no bigram, but 通知书 is a dictionary word the library uses.
    corrector = HomophoneCorrector(["学校向家长发放入学通知书。录取通知书由学校发放。"] * 3)
    assert corrector.correct("入学通知输几号前发") == "入学通知书几号前发"
    assert corrector.correct("入学通知书几号前发") == "入学通知书几号前发"


def test_negations_and_adverbs_are_never_typos() -> None:
    # 奖补 and 车载 are library words; "能评啥奖不" asks yes or no, "再买" is buying again.
    corrector = HomophoneCorrector(["给予奖补资金。奖补标准。车载设备、车载终端。"] * 3)
    assert corrector.correct("能评啥奖不") == "能评啥奖不"
    assert corrector.correct("报废旧车再买新车") == "报废旧车再买新车"


def test_a_typo_with_two_dictionary_readings_takes_the_one_the_library_uses_more() -> None:
    # 文号 and 问号 are both dictionary words; the library writes 文 far more often than 问.
    corrector = HomophoneCorrector(["本文件自印发之日起施行。文件、文本、公文、发文、行文。", "有问题请咨询。"])
    assert corrector.correct("这份通知的闻号是多少") == "这份通知的文号是多少"


def test_words_questions_use_about_any_document_are_known_to_the_corrector() -> None:
    # A library that never writes 文号 (and writes 问 often): the field word still wins over 问号.
    corrector = HomophoneCorrector(["有问题请咨询。问答、提问、问询。"], vocabulary=("文号",))
    assert corrector.correct("这份通知的闻号是多少") == "这份通知的文号是多少"
    assert HomophoneCorrector(["有问题请咨询。问答、提问、问询。"]).correct("这份通知的闻号是多少") != "这份通知的文号是多少"


def test_a_three_character_abbreviation_expands_to_the_library_s_phrase_of_three_words() -> None:
    corrector = HomophoneCorrector(["申请公共租赁住房应当提供证明。公共租赁住房租赁合同期满后可以续租。"])
    assert corrector.expand_abbreviations("深圳公租房租期多久") == "深圳公共租赁住房租期多久"
    # a phrase the library says once is no abbreviation's meaning; known words stay as they are
    assert corrector.expand_abbreviations("申证明") == "申证明"
    assert corrector.expand_abbreviations("租赁合同多久") == "租赁合同多久"


def test_abbreviations_expand_to_the_corpus_words_they_shorten() -> None:
    corrector = HomophoneCorrector(["新制定国家标准和行业标准2000项以上，培育先进团体标准300项以上。参与制定国际标准。"] * 2)
    assert corrector.expand_abbreviations("行标和团标各多少") == "行业标准和团体标准各多少"
    # 国标 could be 国家标准 or 国际标准 here: an ambiguous abbreviation is left as it is
    assert corrector.expand_abbreviations("国标多少") == "国标多少"
    # words the corpus does not abbreviate, and particles, stay
    assert corrector.expand_abbreviations("有补贴吗") == "有补贴吗"


def test_words_written_together_once_or_across_other_words_are_no_abbreviation() -> None:
    # 本市|新购 is written once; 新能源|出租车 holds 能源出租 only across its words.
    corrector = HomophoneCorrector(["本市新购车辆。", "新能源出租车、新能源出租车。", "公共租赁住房、公共租赁住房。"])
    assert corrector.expand_abbreviations("换发一本新护照") == "换发一本新护照"
    assert corrector.expand_abbreviations("几天能出结果") == "几天能出结果"
    # an abbreviation does not begin inside a real word: 天津市|租房 is no 市场租赁住房
    assert HomophoneCorrector(["市场租赁住房、市场租赁住房。"]).expand_abbreviations("天津市租房补贴") == "天津市租房补贴"
    assert corrector.expand_abbreviations("深圳公租房") == "深圳公共租赁住房"


def test_two_characters_across_two_words_are_no_abbreviation() -> None:
    corrector = HomophoneCorrector(["开展年度评估。年度评估结果向社会公布。年度评估每年一次。"])
    assert corrector.expand_abbreviations("年评结果何时公布") == "年度评估结果何时公布"
    # 几年|评上: 年评 is only the seam of two words
    assert corrector.expand_abbreviations("指的是哪几年评上的") == "指的是哪几年评上的"


def test_an_abbreviation_the_library_holds_only_across_two_words_still_expands() -> None:
    # "执行|标准" holds 行标 at the seam of two words: another document saying so changes nothing.
    texts = ["新制定国家标准和行业标准2000项以上。行业标准加快制定。"]
    alone = HomophoneCorrector(texts).expand_abbreviations("行标多少项")
    beside = HomophoneCorrector([*texts, "铭牌标有生产日期、执行标准等信息。"]).expand_abbreviations("行标多少项")
    assert alone == beside == "行业标准多少项"
