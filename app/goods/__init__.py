"""Goods barcodes (商品条码): the park's product master keyed by GTIN."""
