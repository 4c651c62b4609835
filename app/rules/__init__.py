"""Run-time rules: thresholds an admin may change without a restart (weight tolerance, overdue hours, clone limits).

`catalog` names each rule, its type, bounds and labels; `models` keeps the admin's overrides; `service` lists,
changes and resets them (audited); `cache` is the accessor every caller reads them through, `current()`.
"""
