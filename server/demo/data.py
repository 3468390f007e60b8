"""Demo reference data drawn from the seed documents (Shenzhen news reports).

Names of districts, streets, communities and stations are those the reports
mention (宝安 新安/西乡, 南山 南头/大汪山, 龙岗 平湖, 坪山…); people's names are
made up from common surnames and given names.
"""
from __future__ import annotations

#: (code, name, kind, parent code)
AREAS = [
    ("SZ", "深圳市", "city", None),
    ("SZ-BA", "宝安区", "district", "SZ"),
    ("SZ-NS", "南山区", "district", "SZ"),
    ("SZ-LG", "龙岗区", "district", "SZ"),
    ("SZ-PS", "坪山区", "district", "SZ"),
    ("SZ-BA-XA", "新安街道", "street", "SZ-BA"),
    ("SZ-BA-XX", "西乡街道", "street", "SZ-BA"),
    ("SZ-NS-NT", "南头街道", "street", "SZ-NS"),
    ("SZ-LG-PH", "平湖街道", "street", "SZ-LG"),
    ("SZ-PS-KZ", "坑梓街道", "street", "SZ-PS"),
    ("SZ-BA-XA-HC", "海城社区", "community", "SZ-BA-XA"),
    ("SZ-BA-XA-LT", "灵芝园社区", "community", "SZ-BA-XA"),
    ("SZ-BA-XX-LZ", "流塘社区", "community", "SZ-BA-XX"),
    ("SZ-BA-XX-HD", "河东社区", "community", "SZ-BA-XX"),
    ("SZ-NS-NT-DWS", "大汪山社区", "community", "SZ-NS-NT"),
    ("SZ-NS-NT-TY", "同乐社区", "community", "SZ-NS-NT"),
    ("SZ-LG-PH-PX", "平湖社区", "community", "SZ-LG-PH"),
    ("SZ-LG-PH-SM", "山厦社区", "community", "SZ-LG-PH"),
    ("SZ-PS-KZ-JS", "金沙社区", "community", "SZ-PS-KZ"),
]

#: (code, name, kind, parent code, area code)
ORGANISATIONS = [
    ("BA-DW", "中共深圳市宝安区委", "committee", None, "SZ-BA"),
    ("NS-DW", "中共深圳市南山区委", "committee", None, "SZ-NS"),
    ("LG-DW", "中共深圳市龙岗区委", "committee", None, "SZ-LG"),
    ("PS-DW", "中共深圳市坪山区委", "committee", None, "SZ-PS"),
    ("BA-XA-DGW", "新安街道党工委", "committee", "BA-DW", "SZ-BA-XA"),
    ("BA-XX-DGW", "西乡街道党工委", "committee", "BA-DW", "SZ-BA-XX"),
    ("NS-NT-DGW", "南头街道党工委", "committee", "NS-DW", "SZ-NS-NT"),
    ("LG-PH-DGW", "平湖街道党工委", "committee", "LG-DW", "SZ-LG-PH"),
    ("PS-KZ-DGW", "坑梓街道党工委", "committee", "PS-DW", "SZ-PS-KZ"),
    ("BA-XA-HC-DW", "海城社区党委", "committee", "BA-XA-DGW", "SZ-BA-XA-HC"),
    ("BA-XA-HC-ZB1", "海城社区第一党支部", "branch", "BA-XA-HC-DW", "SZ-BA-XA-HC"),
    ("BA-XA-HC-ZB2", "海城社区第二党支部", "branch", "BA-XA-HC-DW", "SZ-BA-XA-HC"),
    ("BA-XA-LT-DW", "灵芝园社区党委", "committee", "BA-XA-DGW", "SZ-BA-XA-LT"),
    ("BA-XA-LT-ZB1", "灵芝园社区党支部", "branch", "BA-XA-LT-DW", "SZ-BA-XA-LT"),
    ("BA-XX-LZ-DW", "流塘社区党委", "committee", "BA-XX-DGW", "SZ-BA-XX-LZ"),
    ("BA-XX-LZ-ZB1", "流塘社区第一党支部", "branch", "BA-XX-LZ-DW", "SZ-BA-XX-LZ"),
    ("BA-XX-LZ-ZB1-XZ1", "流塘社区第一党支部第一党小组", "group", "BA-XX-LZ-ZB1",
     "SZ-BA-XX-LZ"),
    ("BA-XX-HD-LHZB", "河东商务楼宇联合党支部", "joint_branch", "BA-XX-DGW", "SZ-BA-XX-HD"),
    ("NS-KD-LHDW", "南山区快递物流供应链联合党委", "committee", "NS-DW", "SZ-NS"),
    ("NS-KD-QSZB", "外卖骑手党支部", "branch", "NS-KD-LHDW", "SZ-NS-NT-DWS"),
    ("NS-NT-DWS-DW", "大汪山社区党委", "committee", "NS-NT-DGW", "SZ-NS-NT-DWS"),
    ("NS-NT-DWS-ZB1", "大汪山社区党支部", "branch", "NS-NT-DWS-DW", "SZ-NS-NT-DWS"),
    ("NS-NT-DWS-ZYD", "大汪山社区志愿服务队", "volunteer_team", "NS-NT-DWS-DW",
     "SZ-NS-NT-DWS"),
    ("LG-PH-PX-DW", "平湖社区党委", "committee", "LG-PH-DGW", "SZ-LG-PH-PX"),
    ("LG-PH-PX-ZB1", "平湖社区第一党支部", "branch", "LG-PH-PX-DW", "SZ-LG-PH-PX"),
    ("LG-PH-LSZB", "平湖街道疫情防控临时党支部", "temporary", "LG-PH-DGW", "SZ-LG-PH"),
    ("PS-KZ-JS-DW", "金沙社区党委", "committee", "PS-KZ-DGW", "SZ-PS-KZ-JS"),
    ("PS-KZ-JS-ZB1", "金沙社区党支部", "branch", "PS-KZ-JS-DW", "SZ-PS-KZ-JS"),
]

#: (code, name, kind, area, host organisation, address, lat, lng, hours)
STATIONS = [
    ("BA-XA-HC-0001", "海城社区党群服务中心", "party_mass_centre", "SZ-BA-XA-HC", "BA-XA-HC-DW",
     "宝安区新安街道海城社区创业二路", 22.5562, 113.8890, "09:00-21:00"),
    ("BA-XA-LT-0001", "灵芝园社区党群服务中心", "party_mass_centre", "SZ-BA-XA-LT",
     "BA-XA-LT-DW", "宝安区新安街道灵芝园社区", 22.5710, 113.8985, "09:00-21:00"),
    ("BA-XX-LZ-0001", "流塘社区薪火小站", "spark_micro", "SZ-BA-XX-LZ", "BA-XX-LZ-DW",
     "宝安区西乡街道流塘社区某小区", 22.5806, 113.8775, "08:30-20:30"),
    ("BA-XX-HD-0001", "河东商务楼宇薪火小站", "spark_micro", "SZ-BA-XX-HD", "BA-XX-HD-LHZB",
     "宝安区西乡街道河东社区商务楼宇一楼", 22.5733, 113.8712, "09:00-18:00"),
    ("NS-NT-DWS-NF01", "大汪山社区暖蜂驿站", "warm_bee", "SZ-NS-NT-DWS", "NS-KD-LHDW",
     "南山区南头街道大汪山社区(桃园地铁站附近)", 22.5417, 113.9146, "24h"),
    ("NS-NT-DWS-0001", "大汪山社区党群服务中心", "party_mass_centre", "SZ-NS-NT-DWS",
     "NS-NT-DWS-DW", "南山区南头街道大汪山社区", 22.5430, 113.9160, "09:00-21:00"),
    ("NS-NT-TY-SJ01", "同乐司机之家", "drivers_home", "SZ-NS-NT-TY", "NS-KD-LHDW",
     "南山区南头街道同乐社区", 22.5503, 113.9081, "24h"),
    ("LG-PH-PX-0001", "平湖社区党群服务中心", "party_mass_centre", "SZ-LG-PH-PX",
     "LG-PH-PX-DW", "龙岗区平湖街道平湖社区", 22.6860, 114.1270, "09:00-21:00"),
    ("LG-PH-SM-NF01", "山厦暖蜂驿站", "warm_bee", "SZ-LG-PH-SM", "LG-PH-DGW",
     "龙岗区平湖街道山厦社区", 22.6962, 114.1102, "24h"),
    ("PS-KZ-JS-0001", "金沙社区党群服务中心", "party_mass_centre", "SZ-PS-KZ-JS",
     "PS-KZ-JS-DW", "坪山区坑梓街道金沙社区", 22.7452, 114.3831, "09:00-21:00"),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓韩冯曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
         "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强", "晓燕", "海燕", "文", "斌",
         "鹏", "辉", "婷", "玉兰", "浩", "宇", "欣怡", "子涵", "俊杰", "梓萱", "思远", "嘉怡"]

#: The station whose check-in page the demo points a first visitor to.
DEMO_STATION = "BA-XA-HC-0001"

#: Branches that get members in the demo, with the station they mostly serve at.
MEMBER_BRANCHES = [
    ("BA-XA-HC-ZB1", "BA-XA-HC-0001"), ("BA-XA-HC-ZB2", "BA-XA-HC-0001"),
    ("BA-XA-LT-ZB1", "BA-XA-LT-0001"), ("BA-XX-LZ-ZB1", "BA-XX-LZ-0001"),
    ("BA-XX-HD-LHZB", "BA-XX-HD-0001"), ("NS-KD-QSZB", "NS-NT-DWS-NF01"),
    ("NS-NT-DWS-ZB1", "NS-NT-DWS-0001"), ("NS-NT-DWS-ZYD", "NS-NT-DWS-0001"),
    ("LG-PH-PX-ZB1", "LG-PH-PX-0001"), ("PS-KZ-JS-ZB1", "PS-KZ-JS-0001"),
]
