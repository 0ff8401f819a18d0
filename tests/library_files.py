"""Sample documents in each format an office has, written by the tests that read them.

Each good file states one fact no other file has (`FACTS`), so a test can check that a
question about it finds that file. The PDF is written with reportlab's built-in
STSong-Light CID font, which needs no font file on the machine.
"""

from __future__ import annotations

import io
from pathlib import Path

GBK_NOTICE = """水利部关于推进农村供水工程建设的通知
水农〔2024〕21号
各省、自治区、直辖市水利（水务）厅（局）：
为保障农村群众饮水安全，现就推进农村供水工程建设通知如下。
一、总体目标
到2026年，全国农村自来水普及率达到百分之九十三，规模化供水工程覆盖农村人口比例达到百分之六十。
二、重点任务
（一）实施规模化供水工程建设。
（二）加强小型供水工程规范化改造。
水利部
二〇二四年三月五日
"""

MARKDOWN_GUIDE = """# 社区养老服务设施建设指南

## 一、适用范围

本指南适用于城镇社区新建、改建的养老服务设施，参见[民政部网站](https://example.org/guide)。

## 二、建设标准

1. 每千名老年人配置养老床位不少于**四十张**。
2. 日间照料中心建筑面积不少于三百平方米。

民政部
2024年6月1日
"""

HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>国务院办公厅关于推进城市绿色建筑发展的意见_国务院文件_中国政府网</title>
<meta name="ArticleTitle" content="国务院办公厅关于推进城市绿色建筑发展的意见">
<meta name="PubDate" content="2024-03-15 10:00">
<script>var slogan = "脚本里的字不是正文";</script><style>.nav{color:red}</style></head>
<body>
<div class="header"><a href="/">首页</a> | <a href="/zhengce">政策</a> | <a href="/hudong">互动</a></div>
<div class="nav"><ul><li><a href="#">国务院</a></li><li><a href="#">总理</a></li><li><a href="#">新闻</a></li></ul></div>
<div class="BreadcrumbNav">当前位置：<a href="/">首页</a> &gt; <a href="#">政策</a> &gt; 国务院文件</div>
<div class="article">
  <h1>国务院办公厅关于推进城市<br>绿色建筑发展的意见</h1>
  <div class="pages-date">2024-03-15 10:00 &nbsp; 来源： 中国政府网</div>
  <div class="pages_content" id="UCAP-CONTENT">
    <p style="text-align:center">国办发〔2024〕7号</p>
    <p>各省、自治区、直辖市人民政府，国务院各部委、各直属机构：</p>
    <p>　　为推进城市绿色建筑发展，经国务院同意，现提出以下意见。</p>
    <p><strong>一、总体要求</strong></p>
    <p>　　（一）基本原则。坚持节约优先，到2027年城镇新建建筑中绿色建筑面积占比达到<span>百分之九十</span>。</p>
    <p>1. 新建公共建筑应当安装屋顶光伏。<br>2. 既有建筑改造应当同步实施节能改造。</p>
    <p style="text-align:right">国务院办公厅</p>
    <p style="text-align:right">2024年3月10日</p>
    <p>（此件公开发布）</p>
  </div>
  <div class="share">分享到：<a href="#">微信</a><a href="#">微博</a></div>
</div>
<div class="related"><h3>相关稿件</h3><ul><li><a href="#">关于某事的通知</a></li><li><a href="#">另一个通知</a></li></ul></div>
<div class="footer">版权所有：中国政府网 | 京ICP备05070218号 | 主办单位：国务院办公厅 | 网站导航 | 联系我们</div>
</body></html>
"""

DOCX_PARAGRAPHS = [
    "教育部 国家市场监督管理总局关于加强学校食品安全管理的规定",
    "教督〔2024〕3号",
    "第一章 总则",
    "第一条 为保障学生饮食安全，制定本规定。",
    "第二条 学校食堂应当实行集中用餐陪餐制度，校长每周陪餐不少于两次。",
    "第二章 管理要求",
    "第三条 食品留样应当保存四十八小时以上。",
    "教育部　　国家市场监督管理总局",
    "2024年1月8日",
]
DOCX_TABLE = [["检查项目", "频次"], ["后厨卫生", "每日"]]

PDF_LINES = [
    "交通运输部关于规范网络预约出租汽车经营服务的办法",
    "交运规〔2024〕9号",
    "第一条 为规范网络预约出租汽车经营服务行为，保障运营安全和乘客合法权益，根据有关法律、行",
    "政法规，制定本办法。",
    "第二条 网约车驾驶员应当取得网络预约出租汽车驾驶员证，方可从事网约车经营服务。",
    "第三条 网约车平台公司应当在服务所在地设立服务机构。",
    "交通运输部",
    "2024年2月20日",
]

FACTS = {
    "notice-gbk": ("农村自来水普及率要达到多少？", "自来水普及率"),
    "guide": ("每千名老年人配置多少养老床位？", "养老床位不少于"),
    "green-building": ("新建公共建筑要安装什么？", "屋顶光伏"),
    "school-food": ("校长每周陪餐几次？", "陪餐不少于两次"),
    "ride-hailing": ("网约车驾驶员需要取得什么证？", "网络预约出租汽车驾驶员证"),
}


def docx_bytes(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pdf_bytes(lines: list[str], pages: int = 1) -> bytes:
    """A PDF with `lines` as its text layer on each page; with no lines, pages that hold only a drawing, as a scan does."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer)
    for _ in range(pages):
        if not lines:
            sheet.rect(72, 300, 400, 400, fill=1)  # an "image" of a page
        sheet.setFont("STSong-Light", 11)
        for row, line in enumerate(lines):
            sheet.drawString(60, 800 - row * 18, line)
        sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def write_library(folder: Path) -> Path:
    """One good file of each format, and two damaged ones, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notice-gbk.txt").write_bytes(GBK_NOTICE.encode("gbk"))
    (folder / "guide.md").write_text(MARKDOWN_GUIDE, encoding="utf-8")
    (folder / "green-building.html").write_text(HTML_PAGE, encoding="utf-8")
    (folder / "school-food.docx").write_bytes(docx_bytes(DOCX_PARAGRAPHS, DOCX_TABLE))
    (folder / "ride-hailing.pdf").write_bytes(pdf_bytes(PDF_LINES))
    (folder / "broken.docx").write_bytes(bytes(range(256)) * 8)
    (folder / "scanned.pdf").write_bytes(pdf_bytes([], pages=2))
    return folder
