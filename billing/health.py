"""Health endpoints for the load balancer and the orchestrator.

- /healthz: the process is up and serving (no database): restart the server only when this fails.
- /readyz: the database answers and every migration is applied: send traffic only when this passes
  (a new release's servers stay out of the pool until `migrate` has run).

Both are open without signing in and never redirected to https (SECURE_REDIRECT_EXEMPT), so a
probe on the private address works; neither writes anything or says more than ok/not ready.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


#: Once this process has seen every migration of its code applied, that stays true (a new release
#: is a new process), so later probes only ask the database for SELECT 1.
_migrated = False


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    global _migrated
    connection = connections[DEFAULT_DB_ALIAS]
    pending = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrated:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
            _migrated = not pending
    except DatabaseError:
        return JsonResponse({"status": "not ready", "database": "unreachable"}, status=503)
    if pending:
        return JsonResponse({"status": "not ready", "database": "ok", "pending_migrations": len(pending)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
