"""Drop folders: the runner (runner), inbox.yaml (config), the set-up check (check) and
notifications (notify).
"""

from __future__ import annotations

from importer.inbox.runner import (
    FOLDERS,
    LOCK_NAME,
    SETUP_STATE_NAME,
    InboxRunner,
    OnceResult,
    ProcessedFile,
    SettleTracker,
    SetupProblem,
    explain_error,
    ignore_reason,
    import_options,
    init_inbox,
    install_stop_signals,
    nothing_added,
    unique_target,
)

__all__ = [
    "FOLDERS",
    "LOCK_NAME",
    "SETUP_STATE_NAME",
    "InboxRunner",
    "OnceResult",
    "ProcessedFile",
    "SettleTracker",
    "SetupProblem",
    "explain_error",
    "ignore_reason",
    "import_options",
    "init_inbox",
    "install_stop_signals",
    "nothing_added",
    "unique_target",
]
