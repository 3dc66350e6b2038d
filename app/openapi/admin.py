"""The admin API (app/admin/routes.py): accounts, sign-ins, one-time codes, client keys, usage. Behind ADMIN_KEY;
the whole surface answers 404 while it is unset. Never opened to other origins (app/cors.py)."""
from ..keys import TOKENS_CAP
from .schema import (ADMIN, ANY_OBJECT, BOOLEAN, INTEGER, PUBLIC, STRING, answer, array, errors, nullable, obj,
                     operation, path_param, query_param, ref)

TAG = "Admin"
LIMIT = {**nullable({"type": "integer", "minimum": 1, "maximum": 1_000_000}),
         "description": "a client key's limit (429 past it, counted across workers); null: none"}
TOKENS = {**nullable({"type": "integer", "minimum": 1, "maximum": TOKENS_CAP}),
          "description": "estimated input + output tokens the key may spend per UTC day (429 once spent, until "
                         "00:00 UTC; a request in progress may overspend once); null: no budget"}

SCHEMAS = {
    "Account": obj({
        "id": STRING, "email": STRING, "state": STRING, "disabled": BOOLEAN, "banned": BOOLEAN,
        "disabled_reason": STRING, "cooldown_until": nullable({"type": "number"}), "cooldown_seconds": INTEGER,
        "cooldowns": ANY_OBJECT, "csesidx": STRING, "config_id": STRING, "cookie_fingerprint": STRING,
        "source": STRING, "requests": INTEGER, "errors": INTEGER, "login": ANY_OBJECT,
        "proxy": {"type": "string", "description": "its outbound proxy, password masked (http://user:***@host:port);"
                                                   " \"none\": direct; \"\": UPSTREAM_PROXY"},
    }, ("id", "state", "disabled"), description="an account as the admin API shows it: never its cookies"),
    "AccountList": obj({"accounts": array(ref("Account"))}, ("accounts",)),
    "AccountImport": {"description": "one account or a list, in the import format (README: accounts); "
                                     "cookies as fields or a browser's cookie export",
                      "anyOf": [ANY_OBJECT, array(ANY_OBJECT)]},
    "AccountsImported": obj({"added": array(STRING), "updated": array(STRING)}, ("added", "updated")),
    "AccountChanges": obj({"email": STRING, "disabled": BOOLEAN, "clear_cooldown": BOOLEAN,
                           "needs_login": BOOLEAN,
                           "proxy": {"type": "string", "description": "its outbound proxy: http(s)://user:pass@host:port, "
                                                                     "socks5(h)://…, \"none\" (direct) or \"\" "
                                                                     "(UPSTREAM_PROXY)"}},
                          description="the fields to change (at least one)"),
    "AccountDeleted": obj({"id": STRING, "deleted": {"const": True}}, ("id", "deleted")),
    "OneTimeCode": obj({"code": STRING}, ("code",)),
    "ClientKey": obj({
        "id": STRING, "name": STRING,
        "prefix": {"type": "string", "description": "the secret's first characters, to tell keys apart"},
        "models": {**array(STRING), "description": "model names or fnmatch patterns it may use; []: every model"},
        "expires_at": nullable({"type": "number"}), "created_at": {"type": "number"},
        "rpm": LIMIT, "concurrent_streams": LIMIT, "daily_tokens": TOKENS, "revoked": BOOLEAN, "revoked_at": nullable({"type": "number"}),
    }, ("id", "prefix", "models", "revoked"), description="a client key as the admin API shows it: never its secret"),
    "ClientKeyCreated": obj({"key": {"type": "string", "description": "the secret (gbp-…), shown this once only"},
                             "id": STRING, "name": STRING, "prefix": STRING, "models": array(STRING),
                             "expires_at": nullable({"type": "number"}), "created_at": {"type": "number"},
                             "rpm": LIMIT, "concurrent_streams": LIMIT, "daily_tokens": TOKENS, "revoked": BOOLEAN, "revoked_at": nullable({"type": "number"})},
                            ("key", "id", "prefix"), description="the new key, with its secret"),
    "ClientKeyList": obj({"keys": array(ref("ClientKey"))}, ("keys",)),
    "ClientKeyFields": obj({"name": STRING, "models": nullable(array(STRING)),
                            "expires_at": nullable({"type": "number", "description": "Unix seconds; null: never"}),
                            "rpm": LIMIT, "concurrent_streams": LIMIT, "daily_tokens": TOKENS},
                           description="a key's editable fields (PATCH: at least one)"),
}

_COUNT = {"type": "integer", "minimum": 0}
_COUNTS = {"requests": _COUNT, "errors": {**_COUNT, "description": "requests whose outcome was not ok"},
           "input_tokens": {**_COUNT, "description": "estimated"},
           "output_tokens": {**_COUNT, "description": "estimated (text and reasoning)"},
           "images": {**_COUNT, "description": "generated images delivered"},
           "videos": {**_COUNT, "description": "generated videos delivered"}}
_DAY = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
SCHEMAS.update({
    "UsageRow": obj({
        "day": {**_DAY, "description": "UTC day"},
        "key": {"type": "string", "description": "the caller: a client key's id, api_keys:<12 hex>, jwt:<12 hex> or open"},
        "key_name": {"type": "string", "description": "the client key's name; \"\" for other callers"},
        "model": {"type": "string", "description": "the catalogue id; \"-\": none chosen"},
        "account": {"type": "string", "description": "the account that served it; \"-\": none did"},
        **_COUNTS}, tuple(_COUNTS),
        description="the sums of one group: only the fields grouped by (all four when not grouped)"),
    "UsageReport": obj({
        "object": {"const": "usage"}, "from": _DAY, "to": _DAY, "estimated": {"const": True},
        "note": STRING, "group": array({"enum": ["day", "key", "model", "account"]}),
        "data": array(ref("UsageRow")), "totals": obj(_COUNTS, tuple(_COUNTS)),
    }, ("object", "from", "to", "estimated", "note", "data", "totals")),
})
_USAGE_PARAMS = [
    query_param("from", _DAY, "first UTC day, included (default: 29 days before `to`)"),
    query_param("to", _DAY, "last UTC day, included (default: today)"),
    query_param("key", STRING, "only this caller (its id, or a client key's name)"),
    query_param("model", STRING, "only this model"),
    query_param("account", STRING, "only this account"),
    query_param("group", {"type": "string", "pattern": "^(day|key|model|account)(,(day|key|model|account))*$"},
                "sum by these fields, comma-separated (default: day,key,model,account, one row per record)"),
    query_param("format", {"enum": ["json", "csv"]}, "csv: text/csv (as does Accept: text/csv)"),
]
_KEY = path_param("key_id", "a client key's id (not its secret)")
_ID = path_param("account_id", "an account id (its email, or the id it was imported with)")
_ERRORS = (400, 401, 404, 409, 413, 429, 500, 503)


def _json(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def paths() -> dict:
    return {
        "/admin/": {"get": operation(
            "The admin page", TAG, security=PUBLIC, description="HTML; it asks for the key in the browser",
            responses={"200": {"description": "the page", "content": {"text/html": {"schema": STRING}}},
                       **errors("OpenAIError", (404,))})},
        "/admin/accounts": {
            "get": operation("List accounts", TAG, security=ADMIN,
                             responses={"200": answer("the accounts", ref("AccountList")),
                                        **errors("OpenAIError", (401, 404, 429, 500, 503))}),
            "post": operation("Import accounts", TAG, security=ADMIN, request=_json(ref("AccountImport")),
                              responses={"201": answer("what was added or updated", ref("AccountsImported")),
                                         **errors("OpenAIError", _ERRORS)}),
        },
        "/admin/accounts/{account_id}": {
            "get": operation("Show an account", TAG, security=ADMIN, parameters=[_ID],
                             responses={"200": answer("the account", ref("Account")),
                                        **errors("OpenAIError", (401, 404, 429, 500, 503))}),
            "patch": operation("Change an account", TAG, security=ADMIN, parameters=[_ID],
                               request=_json(ref("AccountChanges")),
                               responses={"200": answer("the account", ref("Account")),
                                          **errors("OpenAIError", _ERRORS)}),
            "delete": operation("Delete an account", TAG, security=ADMIN, parameters=[_ID],
                                responses={"200": answer("deleted", ref("AccountDeleted")),
                                           **errors("OpenAIError", (401, 404, 429, 500, 503))}),
        },
        "/admin/accounts/{account_id}/login": {"post": operation(
            "Start a sign-in in the browser", TAG, security=ADMIN, parameters=[_ID],
            responses={"202": answer("the account, its sign-in started", ref("Account")),
                       **errors("OpenAIError", _ERRORS)})},
        "/admin/accounts/{account_id}/code": {"post": operation(
            "Hand a running sign-in its one-time code", TAG, security=ADMIN, parameters=[_ID],
            request=_json(ref("OneTimeCode")),
            responses={"202": answer("the account", ref("Account")), **errors("OpenAIError", _ERRORS)})},
        "/admin/keys": {
            "get": operation("List client keys", TAG, security=ADMIN,
                             responses={"200": answer("the keys, never their secrets", ref("ClientKeyList")),
                                        **errors("OpenAIError", (401, 404, 429, 500, 503))}),
            "post": operation("Create a client key", TAG, security=ADMIN,
                              request={"required": False,
                                       "content": {"application/json": {"schema": ref("ClientKeyFields")}}},
                              responses={"201": answer("the key, its secret shown once", ref("ClientKeyCreated")),
                                         **errors("OpenAIError", (400, 401, 404, 413, 429, 500, 503))}),
        },
        "/admin/keys/{key_id}": {
            "get": operation("Show a client key", TAG, security=ADMIN, parameters=[_KEY],
                             responses={"200": answer("the key", ref("ClientKey")),
                                        **errors("OpenAIError", (401, 404, 429, 500, 503))}),
            "patch": operation("Change a client key (name, models, expiry, limits)", TAG, security=ADMIN,
                               parameters=[_KEY], request=_json(ref("ClientKeyFields")),
                               responses={"200": answer("the key", ref("ClientKey")),
                                          **errors("OpenAIError", (400, 401, 404, 413, 429, 500, 503))}),
            "delete": operation("Revoke a client key (it stays listed, revoked)", TAG, security=ADMIN,
                                parameters=[_KEY],
                                responses={"200": answer("the key, revoked", ref("ClientKey")),
                                           **errors("OpenAIError", (401, 404, 429, 500, 503))}),
        },
        "/admin/usage": {"get": operation(
            "Usage: requests, errors, estimated tokens, images and videos per day, caller, model and account",
            TAG, security=ADMIN, parameters=_USAGE_PARAMS,
            description="JSON, or CSV (day,key,key_name,model,account,requests,errors,input_tokens,output_tokens,"
                        "images,videos; cells a spreadsheet would run as a formula start with an apostrophe)",
            responses={"200": {**answer("the usage in the range", ref("UsageReport")),
                               "content": {"application/json": {"schema": ref("UsageReport")},
                                           "text/csv": {"schema": STRING}}},
                       **errors("OpenAIError", (400, 401, 404, 429, 500, 503))})},
    }
