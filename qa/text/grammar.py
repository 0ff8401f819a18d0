"""Typed facts in Chinese policy text: quantities, money, percentages, dates, durations, document numbers.

A general grammar, not a list of one document's phrases: Arabic and Chinese numerals (两,
十五, 五千, 百分之二十), any measure word or currency after them, qualifiers (以上, 不少于,
超过), ranges, dates with or without a year, durations (十五日内, 6个月), and document
numbers in their official forms (〔2018〕41号, 国务院令第53号).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_CN_NUM = "零〇○一二两三四五六七八九十百千万亿"
_NUM = rf"(?:\d+(?:[,，]\d{{3}})*(?:\.\d+)?|[{_CN_NUM}]*[一二两三四五六七八九十][{_CN_NUM}]*|百分之[{_CN_NUM}\d.]+)"

# Measures after a number. Currencies and time units first: they decide the fact's type.
CURRENCY = ("万亿元", "亿元", "万元", "千元", "百元", "元", "美元", "欧元", "万美元", "亿美元")
TIME_UNITS = ("个工作日", "工作日", "个月", "个季度", "季度", "个小时", "小时", "分钟", "周年", "周", "天", "日", "年")
MEASURES = (
    "项",
    "个",
    "家",
    "件",
    "类",
    "大类",
    "种",
    "名",
    "人次",
    "人",
    "位",
    "次",
    "倍",
    "条",
    "款",
    "部",
    "所",
    "座",
    "处",
    "户",
    "套",
    "台",
    "辆",
    "张",
    "份",
    "本",
    "篇",
    "批",
    "期",
    "级",
    "岁",
    "周岁",
    "吨",
    "万吨",
    "千瓦",
    "万千瓦",
    "千瓦时",
    "公里",
    "千米",
    "米",
    "平方米",
    "平方公里",
    "公顷",
    "亩",
    "万亩",
    "立方米",
    "升",
    "克",
    "千克",
    "公斤",
    "GB",
    "TB",
    "G",
    "M",
    "方面",
    "个方面",
    "大",
    "步",
    "点",
    "层",
    "轮",
    "分",
    "架",
    "艘",
    "站",
    "场",
    "片",
    "块",
    "栋",
    "间",
    "床",
    "例",
    "只",
    "头",
    "株",
    "棵",
    "门",
    "节",
    "段",
    "代",
    "星",
    "档",
    "票",
    "单",
    "包",
    "箱",
    "分贝",
    "百分点",
    "个百分点",
    *(prefix + base for prefix in ("", "千", "毫", "厘", "分", "微", "纳", "兆", "吉", "平方", "立方", "平方千", "平方厘")
      for base in ("米", "克", "瓦", "瓦时", "升", "伏", "伏安", "赫", "焦")),
    "吨标准煤",
    "吨标煤",
    "标准煤",
    "公里",
    "平方公里",
    "kW",
    "kWh",
    "MW",
    "GW",
    "km",
    *("KB", "MB", "GB", "M", "兆"),  # file sizes: "单个文件不超过50M"
)
_PREFIX = r"(?:超过|达到|达|不少于|不低于|不超过|不高于|不多于|至少|最多|最高|最低|约|近|逾|约为|高于|低于|控制在|提高到|提升到|增加到|下降到|降低到)?"
_SUFFIX = r"(?:以上|以下|左右|以内|之内|内|多|余|上下|以来|左右)?"


def _alt(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


# A measure may carry a magnitude (5千吨, 3万人, 2亿千瓦时) and a "per" part (元/千瓦时, 人/平方公里).
_PER = rf"(?:\s*/\s*(?:{_alt(MEASURES)}|{_alt(TIME_UNITS)}|[\u4e00-\u9fff]{{1,2}}))?"
_AMOUNT = re.compile(
    rf"{_PREFIX}(?P<num>{_NUM})(?:\s*(?:[-~～—至到])\s*{_NUM})?\s*"
    rf"(?P<unit>%|％|‰|(?P<magnitude>[十百千万亿]{{1,2}}?)??(?:{_alt((*CURRENCY, *TIME_UNITS, *MEASURES))}){_PER})?{_SUFFIX}"
)
DATE = re.compile(
    rf"(?:(?:\d{{4}}|[{_CN_NUM}]{{4}})\s*年\s*)?(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})\s*月\s*(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})"
    rf"(?:\s*[至到\-—~～]\s*(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})(?=\s*[日号]))?\s*[日号]"  # 5月21—22日
    rf"(?:\s*[至到\-—~～]\s*(?:(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})\s*月\s*)?(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})\s*[日号])?"
    r"|\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2})?|\d{4}/\d{1,2}/\d{1,2}|\d{4}\.\d{1,2}\.\d{1,2}"
)
# A month with or without its year, when no day follows: "2025年6月", "每年11月底前", "3月份".
MONTH = re.compile(
    rf"(?:(?:\d{{4}}|[{_CN_NUM}]{{4}})\s*年\s*)?(?<![\d{_CN_NUM}])(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])\s*月"
    r"(?:份|底|初|末|上旬|中旬|下旬)?(?!\s*(?:\d|[一二三四五六七八九十〇○零]))"
)
YEAR = re.compile(r"(?<![\d])(?:19|20)\d{2}(?=\s*年)|(?<![\d])(?:19|20)\d{2}(?=[-—─~～至到]\s*(?:19|20)\d{2})")
CN_YEAR = re.compile(r"[二〇○零一三四五六七八九]{4}(?=年)")
# How often: 每季度, 每年, 每两年, 每月一次, 三年一次: the answer to "多久……一次".
FREQUENCY = re.compile(
    rf"每\s*(?P<n>\d+|[{_CN_NUM}]{{1,3}})?\s*个?\s*(?P<unit>季度|年度|学年|半年|年|月|周|星期|天|日)(?:\s*(?:\d+|[{_CN_NUM}]{{1,3}})\s*次)?"
    rf"|(?P<n2>\d+|[{_CN_NUM}]{{1,3}}|半)\s*个?\s*(?P<unit2>季度|年|月|周|天|日)\s*一次"
)
# A time of day, or a span of two: "7:00（含）~10:00", "上午9时至下午5时", "下午5点半".
_CLOCK_ONE = r"(?:(?:[01]?\d|2[0-3])[:：][0-5]\d|(?:上午|下午|早上|晚上|中午|凌晨)\s*(?:[01]?\d|2[0-3]|[一二三四五六七八九十]{1,3})\s*[时点](?:\s*(?:[0-5]?\d\s*分|半|整))?)"
CLOCK = re.compile(rf"(?<![\d:：]){_CLOCK_ONE}(?:\s*[（(]含[)）])?(?:\s*[-~～—至到]\s*{_CLOCK_ONE}(?:\s*[（(]含[)）])?)?(?![\d:：])")
# Which one of a series: "第136次常务会议", "第十三届", "第二批". Not the parts of a document (第X条, 第X章).
ORDINAL = re.compile(rf"第\s*(?P<n>\d+|[{_CN_NUM}]{{1,6}})\s*(?P<unit>次|届|批|期|轮)")
# A telephone number: an area code and a local number, a mobile number, or a short service line (12345),
# with its extension ("88625108转806").
PHONE = re.compile(r"(?<![\d.\-－—])(?:(?:\(?0\d{2,3}\)?[-－—]?)?[2-9]\d{6,7}|1[3-9]\d{9}|123\d{2}|9\d{4})(?:\s*(?:转|分机)\s*\d{1,5})?(?![\d.%％\-－—~～]|\s*[\u4e00-\u9fff])")
# An hour said alone, where a clause or a span ends with it: "开放至二十二时。", "9时至17时", "17时前".
_HOUR = r"(?:[01]?\d|2[0-4]|[一二两三四五六七八九十]{1,3})\s*时(?:\s*(?:[0-5]?\d\s*分|半))?"
BARE_HOUR = re.compile(
    rf"(?<![\d零〇○一二两三四五六七八九十]){_HOUR}(?:\s*[至到\-~～—]\s*{_HOUR}|(?=\s*(?:[至到\-~～—前后起止，。、；,;)）]|$)))"
)
# A ratio: "按2:8比例", "1∶1配套", "3比7" (a time of day, 8:30, is read first).
RATIO = re.compile(r"(?<![\d.:：∶])\d+(?:\.\d+)?\s*(?:[:：∶]|比)\s*\d+(?:\.\d+)?(?![\d.:：∶])")
# A decimal said without a measure, as a coefficient is: "系数为：平房1.2；多层楼房1.4".
BARE_DECIMAL = re.compile(r"(?<=[\u4e00-\u9fff：:为])(?<!第)\d+\.\d+(?=\s*(?:[；;，,。、）)]|$))")
# Half a year or a month: "满半年", "不超过半个月".
HALF = re.compile(rf"{_PREFIX}半(?:个)?(?P<unit>年|月)(?!度){_SUFFIX}")
DOCNUM = re.compile(
    r"[\u4e00-\u9fff]{1,12}\s*[〔\[［(（【]\s*(?:19|20)\d{2}\s*[〕\]］)）】]\s*\d+\s*号"
    r"|[〔\[［]\s*(?:19|20)\d{2}\s*[〕\]］]\s*\d+\s*号"
    rf"|[\u4e00-\u9fff]{{0,12}}令\s*(?:第\s*)?(?:\d+|[{_CN_NUM}]+)\s*号"
    r"|[\u4e00-\u9fff]{0,12}公告\s*(?:(?:19|20)\d{2}\s*年\s*)?第\s*\d+\s*号"
)
# Organisations: a name ending in an official body's suffix.
ORG_SUFFIX = (
    "部",
    "局",
    "委员会",
    "委",
    "厅",
    "署",
    "办公室",
    "办公厅",
    "总局",
    "院",
    "协会",
    "学会",
    "联合会",
    "中心",
    "政府",
    "人大常委会",
    "常委会",
    "银行",
    "集团",
    "公司",
    "法院",
    "检察院",
    "管理处",
    "管理站",
    "司",
    "处",
    "办",
)
ORG = re.compile(rf"[\u4e00-\u9fff（）()]{{2,24}}?(?:{_alt(ORG_SUFFIX)})(?![\u4e00-\u9fff]{{0,1}}(?:长|员|门|分))")


@dataclass(frozen=True)
class Fact:
    """A typed fact at [start, end) of a text."""

    kind: str  # "money", "percent", "duration", "date", "year", "docnum", "quantity", "phone", "ordinal"
    start: int
    end: int
    text: str
    value: float | None = None
    unit: str = ""


def cn_to_number(text: str) -> float | None:
    """The value of a numeral: "2000", "1,000", "3.5", "十五", "两千", "五千", "一百二十", "百分之二十"."""
    text = text.replace(",", "").replace("，", "")
    if text.startswith("百分之"):
        inner = cn_to_number(text[3:])
        return inner
    try:
        return float(text)
    except ValueError:
        pass
    if not text or any(ch not in CN_DIGITS and ch not in _CN_UNITS for ch in text):
        return None
    if all(ch in CN_DIGITS for ch in text) and len(text) > 1:  # 二〇二三: digit by digit
        return float("".join(str(CN_DIGITS[ch]) for ch in text))
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in CN_DIGITS:
            digit = CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            if unit >= 10_000:
                section = (section + digit) * unit
                total += section
                section = 0
            else:
                section += (digit or 1) * unit
            digit = 0
    return float(total + section + digit)


def _amount_kind(unit: str, token: str) -> str:
    base = unit.split("/")[0].strip().lstrip("十百千万亿") or unit
    if token.startswith("百分之") or base in ("%", "％", "‰"):
        return "percent"
    if base in CURRENCY:
        return "money"
    if base in TIME_UNITS and "/" not in unit:
        return "duration"
    return "quantity"


def _spans_overlap(a: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in taken)


def find_facts(text: str) -> list[Fact]:
    """Every typed fact in a text, longest first where two would overlap, in text order."""
    facts: list[Fact] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int, value: float | None = None, unit: str = "") -> None:
        if end > start and not _spans_overlap((start, end), taken):
            taken.append((start, end))
            facts.append(Fact(kind, start, end, text[start:end], value, unit))

    for m in DOCNUM.finditer(text):
        add("docnum", m.start(), m.end())
    for m in DATE.finditer(text):
        add("date", m.start(), m.end())
    for m in MONTH.finditer(text):
        add("date", m.start(), m.end())
    for m in re.finditer(r"(?<![\d])(?:19|20)\d{2}\s*年(?!\s*\d{1,2}\s*月)|[二〇○零一三四五六七八九]{4}年(?![一二三四五六七八九十\d]{1,2}月)", text):
        add("year", m.start(), m.end(), cn_to_number(m.group()[:4]))
    for m in CLOCK.finditer(text):
        add("date", m.start(), m.end())
    for m in BARE_HOUR.finditer(text):
        add("date", m.start(), m.end())
    for m in FREQUENCY.finditer(text):
        count = m.group("n") or m.group("n2")
        unit = m.group("unit") or m.group("unit2")
        if unit in ("日", "天") and re.match(r"[一二三四五六七八九十\d]", text[m.end() : m.end() + 1]):
            continue  # 每日一 is no "daily": 每月1日 is a date
        add("duration", m.start(), m.end(), 0.5 if count == "半" else cn_to_number(count) if count else 1.0, unit)
    for m in ORDINAL.finditer(text):
        add("ordinal", m.start(), m.end(), cn_to_number(m.group("n")), m.group("unit"))
    for m in PHONE.finditer(text):
        add("phone", m.start(), m.end())
    for m in RATIO.finditer(text):
        add("percent", m.start(), m.end(), None, "比")
    for m in HALF.finditer(text):
        add("duration", m.start(), m.end(), 0.5, "年" if m.group("unit") == "年" else "个月")
    for m in _AMOUNT.finditer(text):
        num, unit = m.group("num"), m.group("unit") or ""
        token = m.group()
        value = cn_to_number(num)
        if value is None:
            continue
        qualified = token != num
        # A bare number is no fact (a page, an item label); a numeral word alone (一, 二) neither.
        if not unit and not num.startswith("百分之") and not (qualified and re.search(r"\d", num)):
            continue
        if text[max(0, m.start() - 1) : m.start()] == "第":
            continue  # an ordinal (第十四个五年规划), not a count
        if unit == "年" and re.fullmatch(r"(?:19|20)\d{2}", num):
            continue  # a year, not a duration
        if unit in ("日", "号") and text[max(0, m.start() - 3) : m.start()].endswith("月"):
            continue
        if num == "一" and token == num + unit and len(unit) == 1 and unit in MEASURES:
            continue  # "一个", "一大", "一站式": an article or a word, not a count
        add(_amount_kind(unit, num), m.start(), m.end(), value, unit)
    for m in BARE_DECIMAL.finditer(text):
        add("quantity", m.start(), m.end(), float(m.group()), "")
    facts.sort(key=lambda f: f.start)
    return facts


def has_numeral(text: str) -> bool:
    """Whether a text writes any number, in Arabic or Chinese numerals (半 included)."""
    return bool(re.search(rf"[\d{_CN_NUM}半]", text))


def numbers_in(text: str) -> set[float]:
    """The values of every number written in a text, Arabic or Chinese, for matching across forms."""
    values = set()
    for m in re.finditer(_NUM, text):
        value = cn_to_number(m.group())
        if value is not None and not (m.group() in "一" and len(m.group()) == 1):
            values.add(value)
    return values


def years_in(text: str) -> tuple[str, ...]:
    """Four-digit years written in a text (2025年, 二〇三〇年, 2023─2035), in order."""
    norm = CN_YEAR.sub(lambda m: "".join(str(CN_DIGITS[c]) for c in m.group()), text)
    return tuple(dict.fromkeys(YEAR.findall(norm)))


def iso_date(text: str) -> str:
    """A date as YYYY-MM-DD ("2023年8月3日", "二〇二三年八月三日", "2023-08-03 15:09"); "" when there is none."""
    norm = re.sub(
        rf"[{_CN_NUM}]+",
        lambda m: str(int(v)) if (v := cn_to_number(m.group())) is not None else m.group(),
        text,
    )
    match = re.search(r"(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})", norm)
    return f"{match.group(1)}-{int(match.group(2)):02d}-{int(match.group(3)):02d}" if match else ""


def list_items(text: str) -> list[tuple[int, int]]:
    """The items of an enumeration joined by 、 (with its last item after 和/及/等), as spans; [] when none.

    "元宇宙、脑机接口、量子信息等9大领域" → 元宇宙, 脑机接口, 量子信息.
    """
    best: list[tuple[int, int]] = []
    for m in re.finditer(r"[^，,；;。：:、（）()“”《》]{1,24}(?:、[^，,；;。：:、（）()“”《》]{1,24})+", text):
        items: list[tuple[int, int]] = []
        pos = m.start()
        for part in m.group().split("、"):
            items.append((pos, pos + len(part)))
            pos += len(part) + 1
        if len(items) >= 2 and len(items) > len(best):
            best = items
    return best
