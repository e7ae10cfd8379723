"""Deterministic generator of the local benchmark corpus.

Every page ``pNNNN.html`` is derived only from ``(seed, index)``, so page 17 is the same
whatever ``--pages`` is. Sizes are log-uniform between 30 KB and 600 KB (many small pages,
a few big ones, mean about 190 KB); about 30 % of pages are GBK-encoded Chinese job boards,
the rest UTF-8. Each page has header/nav noise, inline script/style, a ``<div id="main">``
holding a ``<ul>`` of 20-200 ``<li class="job">`` items (title, city), links, images, an
iframe, and filler paragraphs (mostly outside ``#main``) padding it to its target size.

All URLs in the pages are relative, so nothing can lead a crawler off the loopback server.

A finished corpus directory holds the pages plus ``manifest.json`` (written last, so its
presence marks a complete corpus)::

    {"version": 1, "seed": 1, "pages": 1000,
     "files": [{"id": "p0001", "file": "p0001.html", "charset": "utf-8",
                "last_modified": 1704067200, "items": 57, "bytes": 123456}, ...]}

Usage: ``python bench/corpus.py --pages 1000 --out bench/.corpus/x``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 1
DEFAULT_PAGES = 1000
DEFAULT_SEED = 1
MIN_BYTES = 30 * 1024
MAX_BYTES = 600 * 1024
GBK_FRACTION = 0.30
MIN_ITEMS = 20
MAX_ITEMS = 200
# Fraction of the filler placed inside #main (the rest goes to sidebar/footer noise).
MAIN_FILLER_SHARE = 0.2
BASE_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z

# --- vocabularies -----------------------------------------------------------------------

# fmt: off
ZH_TITLES = [
    "软件工程师", "高级软件工程师", "产品经理", "数据分析师", "销售代表", "会计", "人力资源专员",
    "前端开发工程师", "后端开发工程师", "运维工程师", "测试工程师", "市场营销经理", "客服专员",
    "行政助理", "机械工程师", "电气工程师", "采购专员", "物流主管", "财务经理", "平面设计师",
    "算法工程师", "嵌入式软件工程师", "项目经理", "法务专员", "质量工程师", "仓库管理员",
    "门店店长", "大客户经理", "网络安全工程师", "数据库管理员", "英语翻译", "招聘专员",
]
ZH_CITIES = [
    "北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "苏州",
    "天津", "长沙", "郑州", "青岛", "厦门", "合肥", "济南", "大连", "宁波", "昆明", "福州",
]
ZH_COMPANIES = [
    "华信科技有限公司", "东方数据集团", "长江物流股份有限公司", "新世纪教育", "蓝海网络科技",
    "金桥贸易有限公司", "星辰软件", "中联制造集团", "恒通金融服务", "绿源食品有限公司",
]
ZH_SENTENCES = [
    "公司成立于二零零八年，总部位于上海，是一家专注于企业信息化服务的高新技术企业。",
    "我们为员工提供具有竞争力的薪酬、完善的培训体系以及广阔的职业发展空间。",
    "岗位职责包括参与需求分析、系统设计、编码实现以及上线后的运行维护工作。",
    "任职要求：本科及以上学历，三年以上相关工作经验，具备良好的沟通能力和团队合作精神。",
    "五险一金、带薪年假、节日福利、年度体检、弹性工作时间、定期团建活动。",
    "欢迎有志之士加入我们的团队，共同打造行业领先的产品和服务。",
    "本网站所有招聘信息均由企业自行发布，求职者请注意甄别，谨防上当受骗。",
    "热门搜索：软件开发、数据分析、人工智能、电子商务、市场营销、财务会计。",
    "公司地址：人民路一百号国际大厦十八楼，交通便利，地铁站步行五分钟即可到达。",
    "面试流程一般为简历筛选、电话沟通、技术面试、综合面试以及录用通知五个环节。",
    "如需了解更多详情，请拨打客服热线或者发送电子邮件至人力资源部门。",
    "我们坚持以客户为中心，以奋斗者为本，长期坚持艰苦奋斗的企业文化。",
]
ZH_NAV = ["首页", "职位搜索", "公司列表", "薪资查询", "职场资讯", "校园招聘", "登录", "注册"]
ZH_SALARY = ["8千-1.2万", "1万-1.5万", "1.5万-2.5万", "2万-3万", "面议", "6千-8千"]

EN_TITLES = [
    "Software Engineer", "Senior Software Engineer", "Product Manager", "Data Analyst",
    "Sales Representative", "Accountant", "HR Specialist", "Frontend Developer",
    "Backend Developer", "Site Reliability Engineer", "QA Engineer", "Marketing Manager",
    "Customer Support Agent", "Office Assistant", "Mechanical Engineer", "Electrical Engineer",
    "Buyer", "Logistics Supervisor", "Finance Manager", "Graphic Designer",
    "Machine Learning Engineer", "Embedded Software Engineer", "Project Manager",
    "Legal Counsel", "Quality Engineer", "Warehouse Operative", "Store Manager",
    "Key Account Manager", "Security Engineer", "Database Administrator", "Translator",
]
EN_CITIES = [
    "London", "Berlin", "Paris", "Madrid", "Zürich", "München", "São Paulo", "Kraków",
    "Montréal", "New York", "Toronto", "Amsterdam", "Dublin", "Lisbon", "Wrocław", "Malmö",
    "Reykjavík", "Tokyo", "Sydney", "Austin", "Seattle", "Göteborg",
]
EN_COMPANIES = [
    "Acme Widgets Ltd", "Northwind Data", "Globex Logistics", "Initech Software",
    "Umbrella Health", "Stark Industrial", "Wayne Finance", "Hooli Cloud", "Vandelay Imports",
]
EN_SENTENCES = [
    "Founded in 2008, the company helps mid-sized businesses run their operations online.",
    "We offer competitive pay, a generous training budget and real room to grow.",
    "You will take part in requirements analysis, design, implementation and operations.",
    "Requirements: a degree or equivalent experience, three years in a similar role, and "
    "good communication skills.",
    "Benefits include health insurance, paid leave, flexible hours and regular team events.",
    "All postings are published by the employers themselves; please stay alert to scams.",
    "Popular searches: software, data analysis, machine learning, e-commerce, marketing.",
    "Our office is a five-minute walk from the central station, with bike parking on site.",
    "The interview process has a CV review, a phone call, a technical and a final interview.",
    "For more details call our support line or write to the recruiting team — we answer fast.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "Café culture, naïve résumé parsing and façade patterns are not required — just curiosity.",
]
EN_NAV = ["Home", "Find jobs", "Companies", "Salaries", "Career advice", "Graduates",
          "Sign in", "Register"]
EN_SALARY = ["£30k-£40k", "€45,000", "$90k-$120k", "Negotiable", "CHF 100k", "¥6M"]

# fmt: on

SCRIPT_NOISE = (
    "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());var cfg={page:'%s',ab:%d,features:['lazy','sticky','promo']};"
    "(function(w,d){var s=d.createElement('script');s.async=1;s.src='/static/app.%d.js';"
    "d.head.appendChild(s);})(window,document);"
)
STYLE_NOISE = (
    "body{margin:0;font:14px/1.5 sans-serif}.nav a{padding:0 8px;color:#%06x}"
    ".job{border-bottom:1px solid #eee;padding:6px 0}.job .city{color:#888}"
    "#sidebar p{font-size:12px}.promo{display:none}"
)


@dataclass(frozen=True)
class PageInfo:
    id: str
    file: str
    charset: str
    last_modified: int
    items: int
    bytes: int


def page_id(index: int) -> str:
    """Return the watch/page id of 0-based ``index`` (p0001, p0002, ...)."""
    return f"p{index + 1:04d}"


WATCH_STYLES = ("mix", "items", "select", "page")


def watch_selectors(index: int, style: str = "mix") -> tuple[str | None, str | None]:
    """``(select, items)`` CSS for the watch on page ``index``.

    ``mix`` (the benchmark default) gives 80 % ``#main`` + ``li.job`` items, 10 % ``#main``
    only and 10 % whole page; the other styles apply one of those to every page.
    """
    if style == "mix":
        style = ("page", "select")[index % 10] if index % 10 < 2 else "items"
    if style == "items":
        return "#main", "li.job"
    if style == "select":
        return "#main", None
    if style == "page":
        return None, None
    raise ValueError(f"unknown watch style {style!r}")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _target_size(rng: random.Random) -> int:
    """Log-uniform size in [MIN_BYTES, MAX_BYTES]."""
    lo, hi = math.log(MIN_BYTES), math.log(MAX_BYTES)
    return int(math.exp(rng.uniform(lo, hi)))


def render_page(seed: int, index: int) -> tuple[bytes, PageInfo]:
    """Render page ``index`` for ``seed``; returns encoded bytes and its metadata."""
    rng = random.Random(f"scrubwatch-bench:{GENERATOR_VERSION}:{seed}:{index}")
    pid = page_id(index)
    is_gbk = rng.random() < GBK_FRACTION
    charset = "gbk" if is_gbk else "utf-8"
    if is_gbk:
        titles, cities, companies, sentences = ZH_TITLES, ZH_CITIES, ZH_COMPANIES, ZH_SENTENCES
        nav, salaries, lang = ZH_NAV, ZH_SALARY, "zh-CN"
        heading = f"{rng.choice(companies)} — 最新职位"
    else:
        titles, cities, companies, sentences = EN_TITLES, EN_CITIES, EN_COMPANIES, EN_SENTENCES
        nav, salaries, lang = EN_NAV, EN_SALARY, "en"
        heading = f"{rng.choice(companies)} — latest openings"
    target = _target_size(rng)
    n_items = rng.randint(MIN_ITEMS, MAX_ITEMS)

    head: list[str] = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head>',
        f'<meta charset="{charset}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(heading)}</title>",
        '<link rel="stylesheet" href="/static/site.css">',
        f"<style>{STYLE_NOISE % rng.randrange(0xFFFFFF)}</style>",
        f"<script>{SCRIPT_NOISE % (pid, rng.randrange(100), rng.randrange(10**6))}</script>",
        "</head><body>",
        '<header class="site-header"><a class="logo" href="/">'
        '<img src="/img/logo.png" alt="logo" width="120" height="40"></a>',
        '<nav class="nav">'
        + "".join(f'<a href="/{pid}/nav/{k}">{_esc(label)}</a>' for k, label in enumerate(nav))
        + "</nav>",
        f'<div class="ticker">updated {rng.randrange(10**9)} · session {rng.getrandbits(64):x}'
        "</div></header>",
        '<div class="banner"><img src="/img/banner.jpg" alt="" loading="lazy">'
        '<iframe src="/embed/ad.html" width="728" height="90" title="ad"></iframe></div>',
        '<div id="main">',
        f"<h1>{_esc(heading)}</h1>",
        '<ul class="jobs">',
    ]
    for k in range(n_items):
        job_no = rng.randrange(10**7)
        head.append(
            f'<li class="job" data-id="{job_no}">'
            f'<a href="/jobs/{job_no}.html"><span class="title">{_esc(rng.choice(titles))}'
            f'</span></a> <span class="city">{_esc(rng.choice(cities))}</span>'
            f' <span class="salary">{_esc(rng.choice(salaries))}</span>'
            f' <span class="company">{_esc(rng.choice(companies))}</span>'
            + ('<img class="badge" src="/img/hot.gif" alt="hot">' if k % 7 == 0 else "")
            + "</li>"
        )
    head.append("</ul>")
    tail_start = ['<div class="job-desc">']
    tail_mid = [
        "</div>",
        '<p class="pager"><a href="?page=2">2</a> <a href="?page=3">3</a>'
        ' <a href="?page=2">&raquo;</a></p>',
        "</div>",  # end #main
        '<aside id="sidebar"><h2>related</h2>',
    ]
    tail_end = [
        "</aside>",
        '<footer class="site-footer"><p>'
        + " | ".join(f'<a href="/about/{k}">{_esc(label)}</a>' for k, label in enumerate(nav))
        + "</p><p>&copy; 2024 example</p>"
        '<img src="/img/beacon.gif" width="1" height="1" alt=""></footer>',
        "<!-- rendered by bench/corpus.py -->",
        "</body></html>",
    ]

    base = "\n".join(head + tail_start + tail_mid + tail_end)
    remaining = max(0, target - len(base.encode(charset)))
    main_budget = int(remaining * MAIN_FILLER_SHARE)
    main_filler, used_main = _filler(rng, sentences, charset, main_budget)
    side_filler, _ = _filler(rng, sentences, charset, remaining - used_main, links=True)

    html = "\n".join(head + tail_start + main_filler + tail_mid + side_filler + tail_end)
    data = html.encode(charset)  # strict: fails loudly if a character is not encodable
    info = PageInfo(
        id=pid,
        file=f"{pid}.html",
        charset=charset,
        last_modified=BASE_EPOCH + rng.randrange(365 * 86400),
        items=n_items,
        bytes=len(data),
    )
    return data, info


def _filler(
    rng: random.Random, sentences: list[str], charset: str, budget: int, *, links: bool = False
) -> tuple[list[str], int]:
    """Paragraphs of random sentences totalling about ``budget`` encoded bytes."""
    out: list[str] = []
    used = 0
    while used < budget:
        para = " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 6)))
        if links:
            para += f' <a href="/news/{rng.randrange(10**6)}.html">more</a>'
        chunk = f"<p>{para}</p>"
        out.append(chunk)
        used += len(chunk.encode(charset)) + 1  # +1 for the joining newline
    return out, used


def generate(out_dir: Path, pages: int = DEFAULT_PAGES, seed: int = DEFAULT_SEED) -> Path:
    """Write ``pages`` pages and ``manifest.json`` to ``out_dir`` (replaced atomically)."""
    if pages < 1:
        raise ValueError("pages must be >= 1")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp-", dir=out_dir.parent))
    try:
        infos: list[dict[str, Any]] = []
        for i in range(pages):
            data, info = render_page(seed, i)
            path = tmp / info.file
            path.write_bytes(data)
            os.utime(path, (info.last_modified, info.last_modified))
            infos.append(asdict(info))
        manifest = {"version": GENERATOR_VERSION, "seed": seed, "pages": pages, "files": infos}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=0), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def load_manifest(corpus_dir: Path) -> dict[str, Any] | None:
    """Return the manifest of a complete corpus, or None when absent/unreadable."""
    try:
        data: dict[str, Any] = json.loads((corpus_dir / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data


def ensure_corpus(cache_root: Path, pages: int, seed: int) -> tuple[Path, dict[str, Any], bool]:
    """Return ``(dir, manifest, built)`` for a cached corpus, generating it when missing."""
    corpus_dir = cache_root / f"v{GENERATOR_VERSION}-s{seed}-n{pages}"
    manifest = load_manifest(corpus_dir)
    if (
        manifest is not None
        and manifest.get("version") == GENERATOR_VERSION
        and manifest.get("seed") == seed
        and manifest.get("pages") == pages
    ):
        return corpus_dir, manifest, False
    generate(corpus_dir, pages, seed)
    manifest = load_manifest(corpus_dir)
    assert manifest is not None
    return corpus_dir, manifest, True


def summarize(manifest: dict[str, Any]) -> str:
    files = manifest["files"]
    sizes = sorted(f["bytes"] for f in files)
    gbk = sum(1 for f in files if f["charset"] == "gbk")
    total = sum(sizes)
    return (
        f"{len(files)} pages, {total / 1e6:.1f} MB, "
        f"size min/median/max {sizes[0] / 1024:.0f}/{sizes[len(sizes) // 2] / 1024:.0f}/"
        f"{sizes[-1] / 1024:.0f} KB, gbk {gbk} ({100 * gbk / len(files):.0f}%), "
        f"items {sum(f['items'] for f in files)}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=DEFAULT_PAGES)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, required=True, help="corpus directory to (re)write")
    args = ap.parse_args(argv)
    generate(args.out, args.pages, args.seed)
    manifest = load_manifest(args.out)
    assert manifest is not None
    print(f"{args.out}: {summarize(manifest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
