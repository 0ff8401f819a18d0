"""Question analysis: the kind of answer asked for, its measure, years and content words.

The classic "expected answer type" step of extractive QA. The answer kind comes from the
question words of Chinese (多少, 哪些, 什么时候, 谁, 多久…), which are the same for every
document; content words come from jieba's part-of-speech tags, so pronouns, particles,
question words and light verbs drop out without a hand-kept stop-word list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text.dictionary import pos_tokens
from qa.text.grammar import CURRENCY, MEASURES, TIME_UNITS, cn_to_number, numbers_in, years_in
from qa.text.normalize import normalize

AnswerKind = str
# quantity | money | percent | duration | date | year | docnum | phone | ordinal | who | list | definition | purpose | text
TYPED_KINDS = ("quantity", "money", "percent", "duration", "date", "year", "docnum", "phone", "ordinal")
# Answer kinds that are fields of a document as a whole: looked for in the whole document.
DOCUMENT_FIELDS = ("docnum", "date", "who")

# Question words of each kind, tried in order: the first that matches decides.
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("phone", re.compile("电话|热线|联系方式|手机号|座机")),
    ("docnum", re.compile("文号|发文字号|发文号|文件号|编号|第几号|哪号|几号令|部令|部门令|委员会令|(?:哪|什么)(?:一|个)?(?:[\u4e00-\u9fff]{0,4}?(?:政府|委员会|部|委|院|局|署))?令")),
    ("ordinal", re.compile("第几[次届批期轮]")),
    ("duration", re.compile(
        "什么时间内|多长时间内|多少时间内|多久|多长时间|多长的时间|多少天|(?<![哪月])几天|多少日|(?<![哪月])几日|几个月|多少个月|多少年(?!度)|(?<![这那近前后头哪])几年(?!级)"
        "|(?:期限|时限|有效期)(?:是|为|多|几|有多|$)|多少个工作日|几个工作日|(?:几|多少)个?(?:小时|钟头)|(?:几|多少)分钟"
    )),
    ("date", re.compile(
        "什么时候|啥时候|啥时|何时|哪天|哪几天|哪一天|几月几[日号]|几号|日期|哪日|起止时间|时间是|什么时间|哪个时间|几点|(?:哪个|什么|哪些|哪几个)时段"
        "|(?:发布|印发|公布|成文|签发|施行|生效|实施|执行|开始|截止|结束|发文|申请|报名|申报|受理)时间"
    )),
    ("year", re.compile("哪年|哪一年|哪几年|哪些年|什么年份|年份")),
    # "补贴最高是多少", "奖励一般有多少": a sum of money, whatever words stand between.
    ("money", re.compile(
        "多少钱|多少元|多少万元|多少亿元|金额|费用是?多少|资金多少|标准是多少钱"
        "|(?:补贴|补助|奖励|罚款|资助|奖金)(?:标准|金额|额度|最高|最多|最低|上限|一般|每[月年人户台辆]|是|为|能|可以|可|有)*多少(?![个项人天年次户台辆名所家%])"
    )),
    ("percent", re.compile("百分之几|百分比|(?:比例|比重|占比|[^效频税]率).{0,12}(?:多少|几|多大|多高)|(?:多少|多大|多高|什么|啥)的?(?:比例|比重|占比)")),
    ("who", re.compile(
        "谁|(?:哪|什么|啥)[一二两三四五六七八九十几]{0,2}[个些家级]?(?:部门|单位|机构|机关|部委)|哪家|哪几家"
        "|发文机关|发布单位|发文单位|印发部门|主管部门是|负责部门"
    )),
    ("list", re.compile(
        "哪些|哪几|包括什么|包括哪|包含哪|有什么|有啥|都有|分别(?![是为]?多少)|列举|列出|几大|几个方面|哪[一二两三四五六七八九十\\d]+[类项个条种方面]|清单|名单|范围"
        "|(?<![第\\d])[一二两三四五六七八九十\\d]+(?:项|个|大|类|方面|条|点|步)[^，。？?]{0,10}(?:是什么|是啥|有哪些|包括|分别|指什么)"
        "|(?:任务|措施|领域|原则|方向|举措|职责|条件|情形|材料|要求)(?:是什么|是啥|指什么|有哪些)"
    )),
    ("quantity", re.compile("多少|(?<![这那])几[项个家大类成倍步条名人次所种件批部]|数量|数目|几$")),
    ("definition", re.compile("什么是|是什么意思|什么意思|指什么|指的是什么|是指什么|含义|定义|概念|何谓|啥叫|什么叫|啥意思")),
    ("purpose", re.compile("为什么|为何|目的是|目的是什么|为了什么|用意|意义")),
)
_ASKED_MEASURE = re.compile(
    "(?<![这那近前后头])(?:多少|几)(" + "|".join(sorted({*CURRENCY, *TIME_UNITS, *MEASURES, "钱"}, key=len, reverse=True)) + ")"
)
_COUNT_ASKED = re.compile(r"哪([一二两三四五六七八九十\d]+)[类项个条种方面大]")
# 上网电价 is a tariff; "在网上查询" is where a citizen looks something up, "挂到网上的" is publishing.
_PUBLISHED = re.compile("发布|公布|发表|上网(?!电)|(?<=[到在])网(?:上|站)(?=的|了|呢|吗|[?？]|$)|挂出|刊登|公开")
_SIGNED = re.compile("落款|成文|签发|签署|印发|下发|发文|(?<![开出])发的")
# 实施 before a genre or a part ("实施方案", "实施细则", "实施主体") names a thing, not when it takes effect.
_EFFECTIVE = re.compile("(?:开始|起)?(?:施行|生效|实施(?!方案|意见|细则|办法|计划|规划|步骤|主体|范围|对象)|执行)|起效")
_POINTER = re.compile("(?:这|那|本|该|此)(?:一)?(?:份|篇|个|部|则)?(?:文章|文件|稿子)|(?:这|那|该)(?:份|篇|部|则)")
_WHO_FIELD = re.compile("(?<=[哪啥么])[一二两三四五六七八九十几个些家级]{0,3}(?:部门|部委|单位|机构|机关|组织)")
# "联合印发", "共同发布": several bodies putting a document out together, a way of issuing, not a topic.
_JOINTLY = re.compile("(?:联合|共同|一起|一同|会同)(?=(?:印发|发布|下发|签发|制定|出台|公布|发文|发的))")
# "2000元", "2000块": a number with its unit is an amount, not a year said without 年.
_NOT_AN_AMOUNT = "(?!\\s*(?:" + "|".join(sorted({*CURRENCY, *MEASURES, *TIME_UNITS, "块", "多", "余", "万", "千", "百", "%", "％"} - {"年"}, key=len, reverse=True)) + "))"
_QUOTED = re.compile("[“\"「『‘]([^“”\"「」『』‘’,，。?？!！、；;：:\\s]{2,15})[”\"」』’]")
_MEMBERSHIP = re.compile("属于|归于|归在|归属|算哪|是哪一|哪一类|哪一项|哪个方面|哪一方面|哪一部分|还是")
_FREQUENCY_ASKED = re.compile("(?:多久|多长时间|几[天个月年]|多少天).{0,12}一次|每隔多久|频次|频率是")
_PRESENT = re.compile("目前|现在|当前|现阶段|已经|至今|截至目前|迄今")
_ASKING = "哪|几|多少|什么|啥|谁|咋|怎"  # a word that starts with one of these asks
_QUESTION_MARK = re.compile("什么|啥|哪|多少|几|吗|呢|谁|怎|咋|如何|为何|为什么|是否|能否|可否|[?？]")

# Parts of speech that carry no topic (jieba's tag set): pronouns (什么, 哪些, 谁), particles,
# modal words, prepositions, conjunctions, adverbs, interjections, onomatopoeia, punctuation.
_FUNCTION_POS = ("r", "u", "y", "p", "c", "d", "e", "o", "x", "w", "q", "zg", "uj", "ul", "uv", "uz", "ud", "ug")
# Verbs and nouns that only frame a question ("请问……是什么", "文件里说…"), whatever the document.
_FRAME_WORDS = frozenset(
    ["是", "有", "要", "会", "能", "可", "可以", "应", "应该", "应当", "需", "需要", "得", "想", "想要", "知道", "告诉", "请问", "问", "问一下", "说", "讲", "说说", "讲讲", "搞", "弄", "干", "整", "提", "提出", "包括", "包含", "属于", "涉及", "规定", "明确", "具体", "主要", "一下", "一共", "总共", "共", "多少", "几", "哪", "什么", "怎么", "怎样", "如何", "为什么", "文件", "政策", "这个", "那个", "内容", "情况", "问题", "东西", "事", "事儿", "方面", "里", "里面", "中", "上", "下", "年", "月", "日", "号", "时候", "时间", "到", "达到", "实现", "干", "做", "这份", "这个", "那个", "这些", "那些", "这项", "该项", "这篇", "这部", "该", "本", "此", "其", "文号", "编号", "日期", "数量", "数目", "比例", "比重", "占比", "金额", "名称", "标题", "全称", "定义", "含义", "意思", "概念", "期限", "时限", "多久", "部门", "单位", "机构", "机关", "谁", "名义",
     # Time said from where the asker stands, and what a colloquial question does about it.
     "今年", "明年", "去年", "现在", "目前", "当前", "如今", "以前", "之前", "以后", "之后", "最近", "最初", "起初", "当初", "后来", "咋办", "怎么办", "咋样"]
)


_MEASURE_WORDS = frozenset((*MEASURES, *CURRENCY, *TIME_UNITS))
# Words questions use about any document's fields and parts, whatever the library says: the typo
# corrector knows them as if the library held them (闻号 is 文号, not 问号).
FIELD_WORDS = ("文号", "发文字号", "落款", "成文", "签发", "印发", "发布", "施行", "生效", "主送", "抄送", "附件", "条款", "章节")


@dataclass(frozen=True)
class QuestionIntent:
    """What a question asks for."""

    kind: AnswerKind
    years: tuple[str, ...]
    segments: tuple[str, ...]  # normalised content pieces, in question order
    measure: str | None = None  # the measure a quantity is asked in: 项, 家, 元, 天…
    numbers: frozenset[float] = frozenset()  # numbers the question states (not years)
    count_asked: int | None = None  # "哪两类" → 2
    focus: tuple[str, ...] = ()  # the content word next to the question word
    date_role: str | None = None  # "published", "signed" or "effective" for a date question
    asks_membership: bool = False  # "X属于哪一类": the answer is the group that holds X
    present: bool = False  # asks what is the case now, not a target
    keyword_only: bool = False  # a search-box query without any question word
    asks_quantity: bool = False  # names a quantity (多少, 几项, 比例)
    asks_frequency: bool = False  # "多久提取一次", "频次": how often, answered by 每季度, 三年一次
    norm: str = ""  # the normalised question


def quoted_terms(question: str) -> list[str]:
    """The terms a question puts in quotation marks (“流动人口”): what it asks about, never a document's name."""
    return _QUOTED.findall(question)


def tokens(text: str) -> list[tuple[str, str]]:
    """jieba's (word, part of speech) pairs for a normalised text."""
    return pos_tokens(text)


# A search-box query ending in a collective noun asks for the members: "新兴产业 重点领域".
_COLLECTIVE_END = re.compile("(?:领域|方向|任务|措施|原则|部门|单位|举措|清单|名单|条件|材料|情形|范围|内容)$")


def classify(norm: str) -> AnswerKind:
    """The expected answer kind from the question words of a normalised question."""
    found = [(kind, m.start()) for kind, pattern in _KIND_PATTERNS if (m := pattern.search(norm))]
    if found and not _QUESTION_MARK.search(norm):
        # A search-box query names the field it wants last: "低保 金额标准 执行时间" asks a date.
        last = max(at for _, at in found)
        found = [(kind, at) for kind, at in found if at == last]
    if found:
        kind = found[0][0]
        return "list" if kind == "quantity" and re.search("哪些|哪几", norm) else kind
    if not _QUESTION_MARK.search(norm) and _COLLECTIVE_END.search(norm):
        return "list"
    return "text"


def _measure(norm: str, kind: str) -> str | None:
    asked = _ASKED_MEASURE.search(norm)
    # "几个月", "几个小时": the tagger's 几个 holds the 个 of a time unit, which is a measure all the same.
    if asked and (asked.group(1).startswith("个") and asked.group(1) in TIME_UNITS or _is_whole_word(norm, asked.start(1), asked.group(1))):
        return "元" if asked.group(1) in ("钱", *CURRENCY) else asked.group(1)
    return {"money": "元", "percent": "%"}.get(kind)


def _is_whole_word(norm: str, at: int, measure: str) -> bool:
    """Whether the measure after 多少/几 is a word of its own: "多少人" asks in 人, "多少人口" asks about 人口."""
    position = 0
    for word, _ in tokens(norm):
        if position <= at < position + len(word):
            if word.endswith(measure) and word[: -len(measure)] in ("几", "多少"):
                return True  # "几天", "多少项" kept whole by the tagger
            return position == at and len(word) <= len(measure)
        position += len(word)
    return True


def content_segments(norm: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(content segments, focus): runs of topic words, and the topic word next to the question word.

    A term the question quotes ("“两免一补”是指什么", "以县为主") is one segment as written: its
    numerals and function words belong to it.
    """
    quoted = [(m.start(1), m.group(1)) for m in _QUOTED.finditer(norm)]
    norm = _QUOTED.sub(lambda m: " " * len(m.group()), norm)
    pieces: list[tuple[int, str]] = []
    run = ""
    run_at = 0
    question_at = -1
    position = 0
    words = tokens(norm)
    kept_positions: list[tuple[int, str]] = []
    for n, (word, pos) in enumerate(words):
        is_question = bool(_QUESTION_MARK.fullmatch(word) or re.match(_ASKING, word))
        # A measure word before a noun, not after a number or 多少/几, begins that noun: 元宇宙 is a word
        # the tagger split into 元 + 宇宙 ("弄成个啥样" keeps 个 a measure word).
        previous = words[n - 1][0] if n else ""
        following, following_pos = words[n + 1] if n + 1 < len(words) else ("", "")
        part_of_word = (
            len(word) == 1
            and (word in _MEASURE_WORDS or pos in ("m", "q"))
            and not re.search(r"[\d一二两三四五六七八九十百千万几多少每各这那哪]$", previous)
            and following_pos.startswith("n")
            and len(following) >= 2
        )
        if is_question and question_at < 0:
            question_at = position
        content = part_of_word or (
            not word.isspace()
            and not is_question
            and not re.search(_ASKING, word)
            and word not in _MEASURE_WORDS
            and word not in _FRAME_WORDS
            and not pos.startswith(_FUNCTION_POS)
            and (pos not in ("m", "mq") or bool(re.search("[a-zA-Z]", word)))  # counts ("五项") are matched as numbers; 5G is a word
            and not re.fullmatch(r"(?:19|20)\d{2}|\W+", word)
        )
        if content:
            run_at = position if not run else run_at
            run += word
            kept_positions.append((position, word))
        elif run:
            pieces.append((run_at, run))
            run = ""
        position += len(word)
    if run:
        pieces.append((run_at, run))
    kept_positions = sorted(kept_positions + quoted)
    focus: tuple[str, ...] = ()
    if question_at >= 0:
        after = [w for p, w in kept_positions if p > question_at and len(w) >= 2]
        before = [w for p, w in kept_positions if p < question_at and len(w) >= 2]
        focus = (after[0],) if after else (before[-1],) if before else ()
    return tuple(piece for _, piece in sorted(pieces + quoted)), focus


def analyse(question: str) -> QuestionIntent:
    """Analyse a question into its answer kind, measure, years and content words."""
    norm = re.sub(r"(?<![\d\u4e00-\u9fff])([2-4]\d)年|(?<=[到至在于那])([2-4]\d)年", _expand_short_year, normalize(question))
    kind = classify(norm)
    # A bare year in a search-box query ("2025 国际标准转化率") is a year too.
    # Years inside a quoted title (《…（2024—2026年）》) name the document, not the year asked.
    untitled = re.sub(r"《[^》]*》", " ", norm)
    if kind not in ("date", "year"):
        # "2023年印发的方案的保障措施": the year it was put out says which document, not what is asked of it.
        untitled = re.sub(r"(?:(?:19|20)\d{2}|[二〇○零一三四五六七八九]{4})年(?=(?:印发|发布|颁布|出台|公布|下发)的)", " ", untitled)
    years = years_in(re.sub(rf"(?<!\d)((?:19|20)\d{{2}})(?![\d年]){_NOT_AN_AMOUNT}", r"\1年", untitled))
    without_years = re.sub(rf"(?<!\d)(?:19|20)\d{{2}}(?:\s*年|(?!\d){_NOT_AN_AMOUNT})|[二〇○零一三四五六七八九]{{4}}年", " ", norm)
    # "这篇文章", "该通知": a pointer to the document asked about, not a topic ("篇文章" is one word to the tagger).
    without_years = _POINTER.sub(" ", without_years)
    if kind == "date":
        # "施行日期", "哪天印发的": the date's role says which date, not what the document is about.
        without_years = _EFFECTIVE.sub(" ", _SIGNED.sub(" ", _PUBLISHED.sub(" ", without_years)))
    elif kind == "docnum":
        # "发文字号是多少": the field asked, not a topic ("发文字号" is 发 + 文字 + 号 to the tagger).
        without_years = dict(_KIND_PATTERNS)["docnum"].sub(" ", without_years)
        # "以什么文号印发的": putting the document out is how it got its number, not a topic.
        without_years = _SIGNED.sub(" ", _PUBLISHED.sub(" ", without_years))
    elif kind == "who":
        # "哪几家部委", "哪个单位": the kind of answer asked, not a topic; "一起发的", "联合印发": who put the
        # document out, its issuers.
        without_years = _WHO_FIELD.sub(" ", _JOINTLY.sub(" ", without_years))
        without_years = _SIGNED.sub(" ", _PUBLISHED.sub(" ", without_years))
    segments, focus = content_segments(without_years)
    count = _COUNT_ASKED.search(norm)
    numbers = frozenset(v for v in numbers_in(without_years) if v != 1.0) - {float(y) for y in years}
    return QuestionIntent(
        kind=kind,
        years=years,
        segments=segments,
        measure=_measure(norm, kind) if kind in ("quantity", "money", "percent", "duration") else None,
        numbers=numbers,
        count_asked=int(n) if count and (n := cn_to_number(count.group(1))) is not None else None,
        focus=focus,
        date_role=(
            "effective"
            if _EFFECTIVE.search(norm) and kind == "date"
            else "published"
            if _PUBLISHED.search(norm)
            else "signed"
            if _SIGNED.search(norm)
            else None
        ),
        asks_membership=bool(_MEMBERSHIP.search(norm)),
        present=bool(_PRESENT.search(norm)) and not years,
        keyword_only=not _QUESTION_MARK.search(norm),
        asks_quantity=kind in ("quantity", "money", "percent", "duration") or bool(re.search("多少|几", norm)),
        asks_frequency=bool(_FREQUENCY_ASKED.search(norm)),
        norm=norm,
    )


def _expand_short_year(m: re.Match[str]) -> str:
    """"到25年", "那30年呢": two-digit years said for 2025, 2030."""
    return f"20{m.group(1) or m.group(2)}年"


# Words that ask on their own, in any clause ("有效期多久", "能中止他的资格吗"); 几 after 这/前/过 counts nothing.
_ASKS = re.compile(
    "什么|啥|哪|多少|(?<![这那前近头后过])几|吗|谁|怎|如何|为何|为什么|是否|能否|可否|多久|多长|多大|多高|有没有|会不会|能不能|是不是"
)
_CLAUSE_END = re.compile(r"[，,；;？?。！!]+")


def _asking_pieces(clause: str) -> list[str]:
    """A clause split at its 、 when every piece asks ("是哪天成文、哪天发布的"), else whole: the 、 of
    "报财政部、教育部" joins what one question is about."""
    pieces = clause.split("、")
    return pieces if len(pieces) > 1 and all(_ASKS.search(p) for p in pieces) else [clause]


def question_parts(norm: str) -> tuple[str, ...]:
    """The questions a question asks, one per clause with its own question word: "从哪天开始实施，有效期多久？"
    asks two. Clauses that ask nothing ("我是广州低保户，") stay with the question after them."""
    parts: list[str] = []
    pending = ""
    for clause in (c for whole in _CLAUSE_END.split(norm) for c in _asking_pieces(whole) if c.strip()):
        pending = f"{pending}，{clause}" if pending else clause
        if _ASKS.search(clause):
            parts.append(pending)
            pending = ""
    if pending and parts:
        parts[-1] = f"{parts[-1]}，{pending}"
    return tuple(parts) if len(parts) > 1 else (norm,)


def asks_who(norm: str) -> bool:
    """Whether a question asks who (which bodies), whatever else it asks: "由哪些部门、在哪天发布的"."""
    return bool(dict(_KIND_PATTERNS)["who"].search(norm))

