"""Routes: HTTP method + raw path pattern -> `Handlers` method name.

Patterns match the raw (still percent-encoded) path, one segment per group, so a file path sent as
`workitems%2Fjob%2F...` is a single segment; the server unquotes each group before calling the handler.
"""

from __future__ import annotations

import re

_SEG = r"([^/]+)"

ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{pattern}/?$"), handler)
    for method, pattern, handler in [
        ("GET", "/applications", "list_applications"),
        ("GET", f"/applications/{_SEG}", "get_application"),
        ("GET", "/poolusagemetrics", "list_pool_usage_metrics"),
        ("GET", "/supportedimages", "list_supported_images"),
        ("GET", "/nodecounts", "list_pool_node_counts"),
        ("POST", "/pools", "create_pool"),
        ("GET", "/pools", "list_pools"),
        ("GET", f"/pools/{_SEG}", "get_pool"),
        ("HEAD", f"/pools/{_SEG}", "pool_exists"),
        ("DELETE", f"/pools/{_SEG}", "delete_pool"),
        ("PATCH", f"/pools/{_SEG}", "update_pool"),
        ("POST", f"/pools/{_SEG}/updateproperties", "replace_pool_properties"),
        ("POST", f"/pools/{_SEG}/enableautoscale", "enable_autoscale"),
        ("POST", f"/pools/{_SEG}/disableautoscale", "disable_autoscale"),
        ("POST", f"/pools/{_SEG}/evaluateautoscale", "evaluate_autoscale"),
        ("POST", f"/pools/{_SEG}/resize", "resize_pool"),
        ("POST", f"/pools/{_SEG}/stopresize", "stop_pool_resize"),
        ("POST", f"/pools/{_SEG}/removenodes", "remove_nodes"),
        ("GET", f"/pools/{_SEG}/nodes", "list_nodes"),
        ("GET", f"/pools/{_SEG}/nodes/{_SEG}", "get_node"),
        ("POST", f"/pools/{_SEG}/nodes/{_SEG}/reboot", "reboot_node"),
        ("POST", f"/pools/{_SEG}/nodes/{_SEG}/reimage", "reimage_node"),
        ("POST", f"/pools/{_SEG}/nodes/{_SEG}/deallocate", "deallocate_node"),
        ("POST", f"/pools/{_SEG}/nodes/{_SEG}/start", "start_node"),
        (
            "POST",
            f"/pools/{_SEG}/nodes/{_SEG}/disablescheduling",
            "disable_node_scheduling",
        ),
        (
            "POST",
            f"/pools/{_SEG}/nodes/{_SEG}/enablescheduling",
            "enable_node_scheduling",
        ),
        ("POST", f"/pools/{_SEG}/nodes/{_SEG}/users", "create_node_user"),
        ("PUT", f"/pools/{_SEG}/nodes/{_SEG}/users/{_SEG}", "replace_node_user"),
        ("DELETE", f"/pools/{_SEG}/nodes/{_SEG}/users/{_SEG}", "delete_node_user"),
        (
            "GET",
            f"/pools/{_SEG}/nodes/{_SEG}/remoteloginsettings",
            "remote_login_settings",
        ),
        (
            "POST",
            f"/pools/{_SEG}/nodes/{_SEG}/uploadbatchservicelogs",
            "upload_node_logs",
        ),
        ("GET", f"/pools/{_SEG}/nodes/{_SEG}/extensions", "list_node_extensions"),
        ("GET", f"/pools/{_SEG}/nodes/{_SEG}/extensions/{_SEG}", "get_node_extension"),
        ("GET", f"/pools/{_SEG}/nodes/{_SEG}/files", "list_node_files"),
        ("GET", f"/pools/{_SEG}/nodes/{_SEG}/files/(.+)", "node_file"),
        ("HEAD", f"/pools/{_SEG}/nodes/{_SEG}/files/(.+)", "node_file"),
        ("DELETE", f"/pools/{_SEG}/nodes/{_SEG}/files/(.+)", "node_file"),
        ("POST", "/jobschedules", "create_job_schedule"),
        ("GET", "/jobschedules", "list_job_schedules"),
        ("GET", f"/jobschedules/{_SEG}", "get_job_schedule"),
        ("HEAD", f"/jobschedules/{_SEG}", "job_schedule_exists"),
        ("PATCH", f"/jobschedules/{_SEG}", "update_job_schedule"),
        ("PUT", f"/jobschedules/{_SEG}", "replace_job_schedule"),
        ("DELETE", f"/jobschedules/{_SEG}", "delete_job_schedule"),
        ("POST", f"/jobschedules/{_SEG}/disable", "disable_job_schedule"),
        ("POST", f"/jobschedules/{_SEG}/enable", "enable_job_schedule"),
        ("POST", f"/jobschedules/{_SEG}/terminate", "terminate_job_schedule"),
        ("GET", f"/jobschedules/{_SEG}/jobs", "list_jobs_from_schedule"),
        ("POST", "/jobs", "create_job"),
        ("GET", "/jobs", "list_jobs"),
        ("GET", f"/jobs/{_SEG}", "get_job"),
        ("PATCH", f"/jobs/{_SEG}", "update_job"),
        ("PUT", f"/jobs/{_SEG}", "replace_job"),
        ("DELETE", f"/jobs/{_SEG}", "delete_job"),
        ("POST", f"/jobs/{_SEG}/terminate", "terminate_job"),
        ("POST", f"/jobs/{_SEG}/disable", "disable_job"),
        ("POST", f"/jobs/{_SEG}/enable", "enable_job"),
        ("GET", f"/jobs/{_SEG}/taskcounts", "task_counts"),
        ("GET", f"/jobs/{_SEG}/jobpreparationandreleasetaskstatus", "prep_release_status"),
        ("POST", f"/jobs/{_SEG}/tasks", "create_task"),
        ("POST", f"/jobs/{_SEG}/addtaskcollection", "create_task_collection"),
        ("GET", f"/jobs/{_SEG}/tasks", "list_tasks"),
        ("GET", f"/jobs/{_SEG}/tasks/{_SEG}", "get_task"),
        ("DELETE", f"/jobs/{_SEG}/tasks/{_SEG}", "delete_task"),
        ("PUT", f"/jobs/{_SEG}/tasks/{_SEG}", "replace_task"),
        ("GET", f"/jobs/{_SEG}/tasks/{_SEG}/subtasksinfo", "list_subtasks"),
        ("POST", f"/jobs/{_SEG}/tasks/{_SEG}/terminate", "terminate_task"),
        ("POST", f"/jobs/{_SEG}/tasks/{_SEG}/reactivate", "reactivate_task"),
        ("GET", f"/jobs/{_SEG}/tasks/{_SEG}/files", "list_task_files"),
        ("GET", f"/jobs/{_SEG}/tasks/{_SEG}/files/(.+)", "task_file"),
        ("HEAD", f"/jobs/{_SEG}/tasks/{_SEG}/files/(.+)", "task_file"),
        ("DELETE", f"/jobs/{_SEG}/tasks/{_SEG}/files/(.+)", "task_file"),
    ]
]


def match(method: str, raw_path: str) -> tuple[str, tuple[str, ...]] | None:
    """(handler name, raw path groups) for a request, or None when no route matches."""
    for route_method, pattern, handler in ROUTES:
        if route_method != method:
            continue
        found = pattern.match(raw_path)
        if found:
            return handler, found.groups()
    return None


def path_exists(raw_path: str) -> bool:
    """Whether any method is routed for this path (to answer 405 rather than 404)."""
    return any(pattern.match(raw_path) for _, pattern, _ in ROUTES)
