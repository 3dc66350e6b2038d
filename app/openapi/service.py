"""The gateway's own endpoints: health, and this document and its page."""
from .schema import INTEGER, METRICS, PUBLIC, STRING, answer, errors, obj, operation, ref

TAG = "Service"

SCHEMAS = {
    "Health": obj({
        "status": {"enum": ["ok", "degraded"]}, "store": {"enum": ["ok", "unavailable"]},
        "accounts": obj({"configured": INTEGER, "usable": INTEGER, "needs_login": INTEGER,
                         "waiting_for_code": INTEGER, "disabled": INTEGER, "banned": INTEGER,
                         "usable_by_kind": obj({"text": INTEGER, "image": INTEGER, "video": INTEGER})}),
        "upstream": STRING,
    }, ("status", "store", "accounts"), description="counts only"),
}


def paths() -> dict:
    return {
        "/health": {"get": operation("Liveness: 200 while the process serves", TAG, security=PUBLIC,
                                     responses={"200": answer("the state", ref("Health"))})},
        "/health/ready": {"get": operation(
            "Readiness: 503 when no account is usable or the store is unavailable", TAG, security=PUBLIC,
            responses={"200": answer("ready", ref("Health")), "503": answer("not ready", ref("Health"))})},
        "/metrics": {"get": operation(
            "Prometheus metrics, for a scraper", TAG, security=METRICS,
            description="404 unless METRICS_KEY or METRICS_ALLOW is set (and for addresses METRICS_ALLOW leaves out)",
            responses={"200": {"description": "Prometheus' text format",
                               "content": {"text/plain": {"schema": STRING}}},
                       **errors("OpenAIError", (401, 404, 429))})},
        "/openapi.json": {"get": operation("This document (OpenAPI 3.1)", TAG, security=PUBLIC,
                                           responses={"200": answer("the document", {"type": "object"})})},
        "/docs": {"get": operation("This document as a page", TAG, security=PUBLIC, responses={"200": {
            "description": "HTML", "content": {"text/html": {"schema": STRING}}}})},
    }


