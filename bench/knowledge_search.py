"""How fast does the knowledge base answer a search with 20,000 articles in the store?
(Target: p95 under 50 ms, from the HTTP request through the store.)

    .venv/bin/python bench/knowledge_search.py [--articles 20000] [--requests 300]

Builds a temporary store (the Store's own migrations), writes synthetic articles through
`KnowledgeService.import_articles` (so each is checked and its words indexed with jieba,
as an import does), in batches of 2,000, a tenth of them expired; serves the console on
a free loopback port (`tests.web_helpers.console_running` with a fake floor: no
Asterisk), logs in as an operator (the heavier case: articles not valid today are
filtered out) and times `GET /api/knowledge/search` from an aiohttp client, one at a
time, each until its body is read. Prints p50 / p95 / max in milliseconds per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.tickets_desk import summary
from callcenter.demo.tickets import COUNTIES, TEMPLATES, VILLAGES
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.vocabulary import KnowledgeKind
from tests.web_helpers import FakeFloor, console_running, console_settings, http_session, log_in

TARGET = 0.050
BATCH = 2_000
# Matters an article is about: (title words, a sentence of its body).
TOPICS = (
    ("最低生活保障申请", "共同生活的家庭成员人均收入低于当地低保标准的，可以向乡镇人民政府申请低保。"),
    ("户口迁移办理", "携带户口簿和身份证到迁入地派出所办理户口迁移，跨省迁移可网上办理。"),
    ("停水通知查询", "计划停水提前二十四小时在供水企业网站公告，突发停水请说明小区名称。"),
    ("公共租赁住房申请", "住房困难家庭可以申请公共租赁住房，须提交收入和住房情况证明。"),
    ("医保异地就医备案", "参保人员异地就医前应办理备案，备案后可直接结算医疗费用。"),
    ("养老保险缴费", "灵活就业人员可以按月或按年缴纳基本养老保险费，缴费基数可自行选择。"),
    ("住房公积金提取", "购买自住住房或支付房租的职工可以提取住房公积金，需提供购房合同。"),
    ("食品经营许可", "从事食品销售和餐饮服务须取得食品经营许可，无证经营可以投诉举报。"),
    ("机动车驾驶证换证", "驾驶证有效期满前九十日内申请换证，可在车管所或网上办理。"),
    ("义务教育入学", "适龄儿童入学按学区划片招生，须提供户口簿和房产证明。"),
    ("路灯维修", "小区外道路路灯不亮的，由城市管理部门安排维修；小区内由物业负责。"),
    ("冬季供暖", "供暖期为每年十一月十五日至次年三月十五日，室温不达标可以报修。"),
    ("营业执照办理", "个体工商户办理营业执照可以在政务服务大厅或网上登记，当场发照。"),
    ("残疾人补贴", "困难残疾人生活补贴和重度残疾人护理补贴向户籍所在地乡镇申请。"),
    ("农村危房改造", "农村低收入群体的危房可以申请改造补助，由村委会初审后上报。"),
    ("噪声污染投诉", "夜间施工噪声扰民可以向生态环境部门投诉，须说明地点和时间。"),
)


def article_fields(rng: random.Random, index: int, units: list[str], today_year: int) -> dict[str, object]:
    topic, sentence = rng.choice(TOPICS)
    county = rng.choice(list(COUNTIES))
    name, towns, _ = COUNTIES[county]
    unit = rng.choice(units)
    kind = rng.choice(list(KnowledgeKind))
    cases = [template.format(county=name, town=rng.choice(towns), village=rng.choice(VILLAGES))
             for _, _, template in rng.sample(TEMPLATES, 4)]
    other = rng.choice(TOPICS)[1]
    body = "\n\n".join([f"## {topic}", sentence, "常见来电：" + "；".join(cases) + "。", other,
                        f"第{index}号条目，办理地点：{name}{rng.choice(towns)}便民服务中心。"])
    expired = index % 10 == 0
    return {"title": f"{name}{topic}（第{index}条）", "unit": unit, "kind": str(kind), "body": body,
            "keywords": f"{topic[:2]}, {name}", "valid_until": f"{today_year - 1}-12-31" if expired else ""}


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = console_settings(Path(folder))
        units = [u.code for u in load_directory(units_file(settings)).units if u.active]
        rng = random.Random(12345)
        year = time.gmtime().tm_year
        print(f"filling a store with {args.articles:,} articles...", flush=True)
        started = time.perf_counter()
        async with Store(settings.paths.database) as store:
            floor = FakeFloor(settings, store)
            service = floor.services.knowledge
            for first in range(1, args.articles + 1, BATCH):
                entries = [(f"article {n}", article_fields(rng, n, units, year))
                           for n in range(first, min(first + BATCH, args.articles + 1))]
                await service.import_articles(entries, "bench")
            print(f"  filled in {time.perf_counter() - started:.1f} s", flush=True)
            queries = {
                "two characters: 低保": {"q": "低保"},
                "one character: 水": {"q": "水"},
                "phrase: 携带户口簿": {"q": "携带户口簿"},
                "question: 低保怎么申请": {"q": "低保怎么申请"},
                "unit alias: 泽州 路灯": {"q": "泽州 路灯"},
                "filter: 低保&kind=policy": {"q": "低保", "kind": "policy"},
                "filters: 申请&unit=civil-affairs&kind=faq": {"q": "申请", "unit": "civil-affairs", "kind": "faq"},
                "no article has all: 低保 驾驶证 噪声": {"q": "低保 驾驶证 噪声"},
                "10,000 characters": {"q": "低保" * 5_000},
                'FTS syntax: "低保* NEAR(': {"q": '"低保* NEAR('},
            }
            async with console_running(settings, floor) as console, http_session() as http:
                response = await log_in(http, console.url, "seat1", console.passwords["seat1"])
                assert response.status in (302, 303), response.status

                async def timed(path: str) -> float:
                    t0 = time.perf_counter()
                    async with http.get(f"{console.url}{path}") as reply:
                        await reply.read()
                        assert reply.status == 200, (path[:80], reply.status)
                    return time.perf_counter() - t0

                results: list[str] = []
                for name, query in queries.items():
                    path = f"/api/knowledge/search?{urlencode(query)}"
                    async with http.get(f"{console.url}{path}") as reply:
                        total = (await reply.json())["total"]
                    for _ in range(20):  # warm the page cache and the statements
                        await timed(path)
                    results.append(summary(name, [await timed(path) for _ in range(args.requests)], TARGET)
                                   + f"  ({total:,} found)")
        print(f"{args.articles:,} articles in the store; one request at a time over loopback HTTP,"
              " logged in as an operator:")
        for line in results:
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per kind")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
