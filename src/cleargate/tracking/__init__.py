"""MLflow tracking: the store (`store`), the runs the stages write as they go (`runs`), logged models (`logged`)."""

from cleargate.tracking.store import (
    TrackingStoreError,
    check_store,
    connect,
    ensure_experiment,
    ensure_tables,
    is_server,
    server_errors,
    store_errors,
    tracking_uri,
)

__all__ = ["TrackingStoreError", "check_store", "connect", "ensure_experiment", "ensure_tables", "is_server",
           "server_errors", "store_errors", "tracking_uri"]
