"""Anthropic's Messages API (/v1/messages): request parser, renderer, routes."""
