"""Receivers: one module per channel (webhook, file, email, wecom, dingtalk, sentry)."""
