"""The HTML of the sign-in pages, with the ids, names and texts of upstream-protocol.md
§11.1 that browser automation looks for. Plain forms and no scripts except one
auto-submit: what matters is the selectors, the URLs and the failure markers."""

from __future__ import annotations

from flask import Response, render_template_string

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{% if xsrf %}<meta name="xsrf-token" content="{{ xsrf }}">{% endif %}
<title>{{ title }}</title></head>
<body>
"""
_TAIL = "\n</body></html>\n"

LOGIN = """<h1>Sign in to Gemini Business</h1>
{% if not form %}<input type="hidden" name="xsrfToken" value="{{ xsrf }}">
<p>Sign-in needs JavaScript.</p>{% else %}
<form id="login-form" method="get" action="/login/email">
  <input type="hidden" name="continueUrl" value="{{ continue_url }}">
  <input type="hidden" name="xsrfToken" value="{{ xsrf }}">
  <label for="email-input">Work email</label>
  <input id="email-input" name="loginHint" type="email" autocomplete="email" required>
  <button id="log-in-button" type="submit">Continue with email</button>
</form>{% endif %}"""

# §11.1 step 4 (X3): the code page is reached by a POST of ip_azr and ip_lh.
TO_CODE_PAGE = """<form id="oob-form" method="post" action="/v1/verify-oob-code">
  <input type="hidden" name="ip_azr" value="{{ login_id }}">
  <input type="hidden" name="ip_lh" value="{{ email }}">
  <noscript><button type="submit">Continue</button></noscript>
</form>
<script>document.getElementById("oob-form").submit();</script>"""

CODE = """<h1>Check your email</h1>
<p>Enter the 6-character code we sent to <b id="login-hint">{{ email }}</b>.</p>
{% if error %}<div id="error-message" class="error" role="alert">{{ error }}</div>{% endif %}
{% if notice %}<div id="notice" role="status">{{ notice }}</div>{% endif %}
<form id="verify-form" method="post" action="/v1/verify-oob-code">
  <input type="hidden" name="ip_azr" value="{{ login_id }}">
  <input type="hidden" name="ip_lh" value="{{ email }}">
  <input name="pinInput" type="tel" jsname="ovqh0b" autocomplete="one-time-code"
         maxlength="6" aria-label="Verification code" autofocus>
  <button type="submit" name="action" value="verify" aria-label="Verify">Verify</button>
  <button type="submit" name="action" value="resend" id="resend-button">Resend code</button>
</form>"""

# §11.1 step 4: "a 'send code' click may be needed" (A clicks #sign-in-with-email).
SEND_CODE = """<h1>Verify it's you</h1>
<p>We'll email a one-time code to <b id="login-hint">{{ email }}</b>.</p>
<form id="send-form" method="post" action="/v1/verify-oob-code">
  <input type="hidden" name="ip_azr" value="{{ login_id }}">
  <input type="hidden" name="ip_lh" value="{{ email }}">
  <button id="sign-in-with-email" type="submit" name="action" value="send">Send code by email</button>
</form>"""

# What automation is reported to see when Google's bot check fails (§11.1 step 4).
CAPTCHA = """<h1>出了点问题</h1>
<p>We couldn't send a code right now. (CAPTCHA_CHECK_FAILED)</p>
<p><a href="/login">选择其他登录方法</a></p>"""

SIGNIN_ERROR = """<h1>Sign-in failed</h1>
<p>The sign-in token was rejected. Try again later or from another network.</p>"""

RESTRICTED = """<h1>Access Restricted</h1>
<p>Your organization doesn't allow {{ domain }} accounts to use Gemini Business.</p>"""

ADMIN_CREATE = """<h1>Start your Gemini Business trial</h1>
{% if error %}<div id="error-message" role="alert">{{ error }}</div>{% endif %}
<form id="create-form" method="post" action="/admin/create?csesidx={{ csesidx }}">
  <label for="mat-input-0">Full name</label>
  <input id="mat-input-0" name="fullName" formcontrolname="fullName" type="text" required>
  <button class="agree-button" id="agree-button" type="submit">Agree and get started</button>
</form>"""

HOME = """<h1>Gemini Business</h1>
<p id="signed-in-as">{{ email }}</p>"""

BAD_REQUEST = """<h1>This sign-in link doesn't work</h1>
<p>{{ reason }}</p>
<p><a href="/login">Start over</a></p>"""


def page(body: str, status: int = 200, title: str = "Gemini Business",
         **values) -> Response:
    """One of the templates above as a whole HTML document (Jinja escapes every value)."""
    html = render_template_string(_HEAD + body + _TAIL, title=title, **values)
    return Response(html, status=status, content_type="text/html; charset=utf-8")
