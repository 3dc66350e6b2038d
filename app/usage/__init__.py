"""Usage accounting: what each request that asked a model for an answer cost, per UTC day,
caller, model and account, in the store namespace `usage` (the record's shape: record.py).

record.py writes it once per request as the request ends (app/observe.py calls it); report.py
reads it back (GET /admin/usage); days.py is the UTC day arithmetic the records and the client
keys' daily token budget (app/keys/) share. Token counts are estimates (app/output.py): Gemini
Business reports none.
"""

NAMESPACE = "usage"
COUNTS = ("requests", "errors", "input_tokens", "output_tokens", "images", "videos")  # a record's sums
