"""Outbound push: provider adapters (APNs, FCM, JPush, Huawei Push Kit), the SMS gateway, and their settings."""
