"""Names for a realistic city: regions, government units and their accounts (安康-like)."""

from __future__ import annotations

import random

CITY = "安康"
CITY_REGION = "市直部门"
COUNTIES: tuple[str, ...] = (
    "汉滨区",
    "汉阴县",
    "石泉县",
    "宁陕县",
    "紫阳县",
    "岚皋县",
    "平利县",
    "镇坪县",
    "旬阳市",
    "白河县",
)
REGIONS: tuple[str, ...] = (CITY_REGION, *COUNTIES)

# (unit name suffix, account short name): departments found in both city and counties.
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("人民政府", "发布"),
    ("公安局", "公安"),
    ("公安局交通警察大队", "交警"),
    ("统计局", "统计"),
    ("教育体育局", "教体"),
    ("卫生健康局", "卫健"),
    ("市场监督管理局", "市场监管"),
    ("生态环境局", "生态环境"),
    ("农业农村局", "农业农村"),
    ("农林科技局", "农林科技"),
    ("人力资源和社会保障局", "人社"),
    ("民政局", "民政"),
    ("财政局", "财政"),
    ("税务局", "税务"),
    ("自然资源局", "自然资源"),
    ("住房和城乡建设局", "住建"),
    ("交通运输局", "交通运输"),
    ("水利局", "水利"),
    ("文化和旅游广电局", "文旅"),
    ("应急管理局", "应急管理"),
    ("医疗保障局", "医保"),
    ("退役军人事务局", "退役军人"),
    ("司法局", "司法"),
    ("人民法院", "法院"),
    ("人民检察院", "检察"),
    ("消防救援大队", "消防"),
    ("融媒体中心", "融媒"),
    ("政务服务中心", "政务服务"),
    ("林业局", "林业"),
    ("审计局", "审计"),
    ("商务局", "商务"),
    ("科学技术局", "科技"),
    ("发展和改革局", "发改"),
    ("供销合作社", "供销"),
    ("妇女联合会", "妇联"),
    ("共青团委员会", "共青团"),
    ("总工会", "工会"),
    ("气象局", "气象"),
    ("疾病预防控制中心", "疾控"),
    ("住房公积金管理中心", "公积金"),
)
# Syllables for township names; two of them plus a suffix make e.g. 城关镇, 双河口镇.
TOWN_SYLLABLES = "城关双河池凤喜涧蒲溪石佛坪铁瓦茶麻柳大竹长安花园新民兴隆营盘东西南北中江口"
TOWN_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("镇人民政府", "镇"),
    ("乡人民政府", "乡"),
    ("街道办事处", "街道"),
)
ACCOUNT_PATTERNS: tuple[str, ...] = ("{short}{dept}", "{short}{dept}", "{short}{dept}发布")
# Slogan-style names some departments favour (平安石泉, 健康汉阴, 法治平利 ...).
SLOGANS: dict[str, str] = {"公安": "平安{short}", "卫健": "健康{short}", "司法": "法治{short}"}


def short_region(region: str) -> str:
    """The short place name an account uses: 石泉县 -> 石泉, 市直部门 -> 安康."""
    if region == CITY_REGION:
        return CITY
    return region[:-1] if region[-1] in "县区市" else region


def unit_names(region: str) -> list[tuple[str, str]]:
    """Departments of a region as (unit name, account stem)."""
    prefix = "市" if region == CITY_REGION else region
    return [(f"{prefix}{suffix}", dept) for suffix, dept in DEPARTMENTS]


def town_unit(region: str, rng: random.Random, used: set[str]) -> tuple[str, str]:
    """A township unit not yet in `used`, as (unit name, account stem)."""
    for _ in range(200):
        name = rng.choice(TOWN_SYLLABLES) + rng.choice(TOWN_SYLLABLES)
        if name[0] == name[1]:
            continue
        suffix, short = rng.choice(TOWN_SUFFIXES)
        unit = f"{region}{name}{suffix}"
        if unit not in used:
            return unit, f"{name}{short}"
    # Very large cities run out of two-syllable names; number the rest.
    n = len(used)
    return f"{region}第{n}社区居民委员会", f"{short_region(region)}第{n}社区"


def account_name(region: str, stem: str, rng: random.Random, township: bool) -> str:
    """A realistic account name for a unit: 石泉统计, 平安汉阴, 城关镇发布 ..."""
    short = short_region(region)
    if township:
        return rng.choice((f"{stem}发布", f"魅力{stem}", f"{stem}", f"{short}{stem}"))
    if stem in SLOGANS and rng.random() < 0.5:
        return SLOGANS[stem].format(short=short)
    if stem == "发布":
        return f"{short}发布"
    return rng.choice(ACCOUNT_PATTERNS).format(short=short, dept=stem)
