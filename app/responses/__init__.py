"""The OpenAI Responses API surface (/v1/responses): request parser, renderer, routes."""
