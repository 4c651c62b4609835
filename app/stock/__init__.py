"""Bonded-warehouse stock per product: scanned in past a checked seal, deducted on release."""
