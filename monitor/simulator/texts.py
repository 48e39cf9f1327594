"""Plausible government post titles, picked deterministically per post."""

from __future__ import annotations

from datetime import datetime

from monitor.simulator.common import SHANGHAI, stable_int

TITLES: tuple[str, ...] = (
    "关于开展安全生产大检查的通知",
    "今日天气：多云转小雨，出行请注意安全",
    "我县召开第三季度经济运行分析会",
    "防汛应急知识，这些要点请收好",
    "医保参保缴费开始啦，速看办理指南",
    "反诈提醒：警惕冒充客服退款诈骗",
    "重要提醒！这些证件可以网上办理了",
    "秋季森林防火，人人有责",
    "政策解读：稳就业促增收十二条措施",
    "乡村振兴｜茶产业带动群众增收致富",
    "关于公开征求意见的公告",
    "交警提示：节假日出行路况预报",
    "全市统计工作会议召开",
    "招聘公告：事业单位公开招聘工作人员",
    "文明城市创建，我们在行动",
    "疫苗接种点及时间安排",
    "不动产登记“一网通办”操作指南",
    "汛期地质灾害防范提示",
    "2024年度农业补贴发放公示",
    "优化营商环境，这些举措落地见效",
    "“双随机、一公开”抽查结果公示",
    "高考期间噪声管控的通告",
    "春节前安全生产检查工作部署",
    "养老保险待遇资格认证怎么办？",
    "消防安全知识进校园",
    "关于调整部分公交线路的公告",
    "国家安全教育日，一起学习",
    "食品安全抽检信息公告",
    "全民阅读活动火热开展",
    "便民服务热线12345受理情况通报",
)


def title_for(account_id: str, moment: datetime) -> str:
    """A title that depends only on the account and the post time."""
    return TITLES[stable_int(account_id, moment.timestamp(), "title") % len(TITLES)]


def local(moment: datetime) -> datetime:
    """The moment in Asia/Shanghai."""
    return moment.astimezone(SHANGHAI)
