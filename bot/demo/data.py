"""The made-up company, customers and products of `orderbot demo`."""

SEED, DAYS = 20261124, 60
# The order README.md asks about, in every demo: late and held up in production; its code goes to this mailbox.
SHOWCASE_ORDER, SHOWCASE_EMAIL = "SO202611240042", "caigou@tongchuang-wuhan.example"
TRADING_SHARE, FROM_STOCK, AFTER_SALES = 0.30, 0.35, 0.08
TROUBLE_RATE, QC_FAIL_RATE = 0.16, 0.07  # an exception at some node; of orders through QC, rework

STAFF = (  # code, name, role, department, Telegram id, e-mail
    ("A001", "周建国", "admin", None, None, "zhoujianguo@jinggong.example"),
    ("M001", "王丽华", "manager", "sales", "9001", "wanglihua@jinggong.example"),
    ("S001", "李明", "sales", "sales", "9002", "liming@jinggong.example"),
    ("S002", "张敏", "sales", "sales", None, "zhangmin@jinggong.example"),
    ("S003", "陈静", "sales", "sales", None, None),
    ("O001", "刘强", "operator", "warehouse", "9003", None),
    ("O002", "赵磊", "operator", "production", None, None),
    ("O003", "孙悦", "operator", "qc", "9004", "sunyue@jinggong.example"),
    ("O004", "周涛", "operator", "logistics", None, None),
    ("O005", "吴芳", "operator", "finance", None, "wufang@jinggong.example"),
    ("O006", "郑伟", "operator", "purchasing", None, None),
    ("O007", "黄婷", "operator", "service", "9005", None),
)
CITIES = (
    ("苏州", "suzhou", "江苏省苏州市工业园区"), ("宁波", "ningbo", "浙江省宁波市北仑区"),
    ("东莞", "dongguan", "广东省东莞市长安镇"), ("佛山", "foshan", "广东省佛山市顺德区"),
    ("无锡", "wuxi", "江苏省无锡市新吴区"), ("青岛", "qingdao", "山东省青岛市黄岛区"),
    ("成都", "chengdu", "四川省成都市双流区"), ("武汉", "wuhan", "湖北省武汉市东西湖区"),
    ("厦门", "xiamen", "福建省厦门市集美区"), ("天津", "tianjin", "天津市滨海新区"),
)
BRANDS = (("恒信", "hengxin"), ("华达", "huada"), ("瑞丰", "ruifeng"), ("鼎盛", "dingsheng"),
          ("金泰", "jintai"), ("宏远", "hongyuan"), ("永昌", "yongchang"), ("嘉诚", "jiacheng"),
          ("立信", "lixin"), ("同创", "tongchuang"), ("新宇", "xinyu"), ("德隆", "delong"))
TRADES = ("精密机械", "电子科技", "五金制品", "自动化设备", "汽车配件", "包装材料", "照明电器")
ROADS = ("工业园路", "科技大道", "兴业路", "创新路", "长江路", "金港大道", "华山路")
ENGLISH_BUYERS = (  # name, mail domain, ship-to
    ("Northwind Trading Ltd.", "northwind", "18 Harbour Road, Wan Chai, Hong Kong"),
    ("Kestrel Industrial GmbH", "kestrel-industrial", "Hafenstrasse 12, 20457 Hamburg, Germany"),
    ("Blue Harbor Imports LLC", "blueharbor", "2200 Alaskan Way, Seattle, WA 98121, USA"),
    ("Sunrise Components Pte. Ltd.", "sunrise-components", "8 Tuas Avenue 2, Singapore 639448"),
    ("Maple Leaf Supplies Inc.", "mapleleaf-supplies", "455 Front St W, Toronto, ON, Canada"),
)
PRODUCTS = (  # name, unit, lowest and highest unit price (CNY)
    ("不锈钢法兰 DN50", "件", 35, 80), ("伺服电机 750W", "台", 900, 1600),
    ("铝合金型材 6063-T5", "米", 18, 45), ("深沟球轴承 6205-2RS", "个", 8, 20),
    ("PLC 控制模块", "块", 1200, 3800), ("液压油缸 HOB63", "台", 1500, 4200),
    ("光电传感器", "个", 150, 600), ("变频器 2.2kW", "台", 1100, 2400),
    ("注塑外壳", "套", 12, 40), ("RVV 电缆 3×1.5", "米", 4, 9),
    ("五层瓦楞纸箱", "个", 3, 8), ("焊接机器人工作站", "套", 80000, 180000),
)
SUPPLIERS = ("宁波海天贸易有限公司", "深圳华强电子商行", "上海协力五金有限公司", "东莞铭泰塑胶制品厂")
CARRIERS = {"SF": 13, "ZTO": 12, "JD": 13}  # carrier code (the number's prefix too) -> digits
MOBILE_PREFIXES = ("135", "136", "138", "139", "150", "158", "177", "186", "188", "199")
TROUBLE = {  # node -> the exception an order typically has there
    "paid": ("payment", "客户款项未到账，财务已催款"),
    "stocking": ("stockout", "主料缺货，等待供应商补货"),
    "production": ("delay", "设备检修，生产排期推迟"),
    "qc": ("qc_fail", "抽检外观不合格，待复检"),
    "in_transit": ("logistics", "快递在中转站滞留，已联系承运商"),
}
REWORK_REASONS = ("尺寸超差，返工修正", "焊缝外观不合格，重新打磨", "表面划伤，返工处理")
NOTES = {"paid": "银行转账已到账", "delivered": "客户已签收", "after_sales": "客户反馈包装破损，安排补发"}
