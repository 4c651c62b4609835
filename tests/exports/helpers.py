"""What the export tests share: a valid export list body and the receipts endpoint."""

EXPORT_LISTS = "/api/v1/export-lists"
RECEIPTS = "/api/v1/customs/receipts"
CEB = "http://www.chinaport.gov.cn/ceb"


def export_body(warehouse, *, parcel_count=3, **overrides):
    body = {
        "cop_no": "EX20261207-0001",
        "trade_mode": "9610",
        "order_no": "AE-20261207-0001",
        "logistics_no": "CQX1000000001",
        "logistics_code": "500224L001",
        "logistics_name": "渝新欧国际物流",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球",
        "ebc_code": "500224A004",
        "ebc_name": "重庆出海优品有限公司",
        "area_code": warehouse.customs_reg_code,
        "customs_code": "8012",
        "port_code": "8013",
        "traf_mode": "5",
        "destination_country": "344",
        "consignee_name": "Alex Chan",
        "consignee_country": "344",
        "consignee_address": "1 Queen's Road Central, Hong Kong",
        "currency": "502",
        "net_weight": "2.0",
        "lines": [
            {
                "gnum": 1,
                "item_no": "SKU-TEE",
                "item_name": "棉质T恤",
                "hs_code": "6109100021",
                "country": "142",
                "qty": "3",
                "unit": "011",
                "price": "20",
                "total_price": "60.00",
            }
        ],
        "parcels": [{"waybill_no": f"CQX10000000{index:02d}", "gross_weight": "1.25"} for index in range(parcel_count)],
    }
    body.update(overrides)
    return body


def receipt(declaration_guid, code, time, **extra):
    return {"guid": declaration_guid, "status_code": code, "return_time": time, **extra}
