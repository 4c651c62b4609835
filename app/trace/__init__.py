"""Trace codes (溯源码): one GS1 Digital Link per unit, QR labels, and the public resolver."""
