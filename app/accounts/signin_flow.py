"""The pages of the email + one-time-code sign-in, one step at a time (upstream-protocol.md §11.1).

`Flow` drives one browser through the login page, the code page, a first sign-in's account
creation and the home page, recognising every failure page; `signin.sign_in` starts the
browser and hands it here. Cookie values never reach a log line, a progress detail or an error.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

log = logging.getLogger("gbp.accounts.signin")

REASONS = ("captcha", "signin_error", "access_restricted", "wrong_code", "no_code",
           "timeout", "browser", "unexpected_page")
FALLBACK_XSRF = "GXO_B0wnNhs6UQJZMcrSbTsbEEs"  # §11.1 step 2, when the page shows none
PIN = ('input[name="pinInput"], input[jsname="ovqh0b"], '
       'input[autocomplete="one-time-code"], input[type="tel"]')
VERIFY_BUTTON = 'button[aria-label="Verify"], button[aria-label="验证"]'
RESEND = re.compile(r"resend|重新", re.I)
NAME_INPUT = '#mat-input-0, input[formcontrolname="fullName"]'
AGREE_BUTTON = "button.agree-button, #agree-button"
CAPTCHA_MARKERS = ("CAPTCHA_CHECK_FAILED", "SendEmailOtpError", "出了点问题", "选择其他登录方法")
CODE_PAGE_MARKERS = ("Something went wrong", "Choose another sign-in method")  # the same, in English
WRONG_CODE_MARKERS = re.compile(r"wrong code|incorrect|invalid code|验证码错误|不正确|错误", re.I)
HOME = re.compile(r"/home/cid/([0-9a-fA-F-]{36})(?:[/?#]|$)")
STEP_WAIT = 45.0  # seconds a page may take to move on before we call it unexpected
VERIFY_WAIT = 15.0  # seconds after submitting a code before "still here" means wrong
MAX_WRONG = 3  # wrong codes before giving up



@dataclass(frozen=True)
class SignInResult:
    email: str
    secure_c_ses: str
    host_c_oses: str  # "" when the jar has none
    csesidx: str
    config_id: str
    cookie_expires_at: float | None  # unix time the first of the cookies expires

    def __repr__(self) -> str:  # never print the cookies
        return (f"SignInResult(email={self.email!r}, csesidx={self.csesidx!r}, "
                f"config_id={self.config_id!r}, cookie_expires_at={self.cookie_expires_at!r})")


class SignInError(Exception):
    """`reason` is one of REASONS; `message` says more, and never holds a cookie."""

    def __init__(self, reason: str, message: str):
        if reason not in REASONS:
            raise ValueError(f"unknown sign-in failure reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


def first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


class Flow:
    """One sign-in on one browser: the steps of §11.1 in order."""

    def __init__(self, instance, email, auth_url, business_url, codes, progress, deadline,
                 code_wait, resends, new_account_name):
        self.instance, self.email, self.codes = instance, email, codes
        self.auth_url, self.business_url = auth_url, business_url
        self.progress, self.deadline = progress, deadline
        self.code_wait, self.resends, self.name = code_wait, resends, new_account_name

    def step(self, step: str, detail: str) -> None:
        log.info("sign-in of %s: %s (%s)", self.email, step, detail)
        self.progress(step, detail)

    def run(self, headless: bool) -> SignInResult:
        options = {}
        if headless:  # the headless user agent says "HeadlessChrome"
            major = self.instance.version.split(".")[0]
            options["user_agent"] = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                                     f"(KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36")
        self.context = self.instance.new_context(**options)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        since = self.submit_email()
        self.wait_for_code_page()
        self.enter_code(since)
        self.finish()
        return self.result()

    # --- pages ----------------------------------------------------------------------

    def submit_email(self) -> float:
        self.step("email", f"submitting {self.email}")
        continue_url = self.business_url + "/"
        self.page.goto(f"{self.auth_url}/login?{urlencode({'continueUrl': continue_url})}")
        self.check_failures()
        token = self.xsrf_token()
        since = time.time()
        if self.page.locator("#email-input").count():
            self.page.fill("#email-input", self.email)
            self.page.click("#log-in-button")
        else:  # the URL form (A's way): the token in the query and in the cookie
            if token == FALLBACK_XSRF:  # else the page set the cookie with its token
                self.set_xsrf_cookie(token)
            query = urlencode({"continueUrl": continue_url, "loginHint": self.email,
                               "xsrfToken": token})
            self.page.goto(f"{self.auth_url}/login/email?{query}")
        return since

    def set_xsrf_cookie(self, token: str) -> None:
        try:
            self.context.add_cookies([{"name": "__Host-AP_SignInXsrf", "value": token,
                                       "url": self.auth_url + "/", "secure": True}])
        except Exception as exc:  # the driver's Error: e.g. a Secure cookie on plain http
            log.warning("sign-in of %s: cannot set the xsrf cookie: %s", self.email,
                        first_line(exc))

    def xsrf_token(self) -> str:
        for selector, attribute in (('meta[name="xsrf-token"]', "content"),
                                    ('input[name="xsrfToken"]', "value")):
            found = self.page.locator(selector)
            if found.count() and found.first.get_attribute(attribute):
                return found.first.get_attribute(attribute)
        return FALLBACK_XSRF

    def enter_code(self, since: float) -> None:
        resends_left, wrong = self.resends, 0
        while True:
            self.step("waiting_for_code", f"{self.resends - resends_left} resend(s) so far")
            code = self.codes.wait_for_code(since, min(time.time() + self.code_wait,
                                                       self.deadline))
            self.check_failures()
            if code is None:
                if time.time() >= self.deadline:
                    raise SignInError("timeout", "no code before the sign-in timed out")
                if resends_left <= 0:
                    if wrong:
                        raise SignInError("wrong_code", f"{wrong} code(s) rejected")
                    raise SignInError("no_code", f"no code arrived ({self.resends} resends)")
                self.click_resend()
                resends_left -= 1
                continue
            self.step("verifying", "submitting the code")
            if self.submit_code(code):
                return
            wrong += 1
            log.info("sign-in of %s: code rejected (%d)", self.email, wrong)
            if wrong >= MAX_WRONG:
                raise SignInError("wrong_code", f"{wrong} codes rejected")

    def click_resend(self) -> None:
        button = self.page.locator("button").filter(has_text=RESEND)
        if not button.count():
            raise SignInError("unexpected_page", "no Resend button on the code page")
        log.info("sign-in of %s: no code yet, pressing Resend", self.email)
        button.first.click()
        self.wait_for_code_page()

    def submit_code(self, code: str) -> bool:
        """True when the page moved on; False when it said (or stayed silent) the code
        was wrong (§11.1 step 6: still on verify-oob-code means rejected)."""
        before = self.visible_text()
        self.page.evaluate("window.__gbpSubmitted = true")
        pin = self.page.locator(PIN).first
        pin.fill(code)
        pin.press("Enter")
        clicked, started = False, time.time()
        while time.time() < min(started + VERIFY_WAIT, self.deadline):
            if "verify-oob-code" not in urlsplit(self.page.url).path:
                return True
            self.check_failures()
            fresh = self.safe(lambda: self.page.evaluate("window.__gbpSubmitted !== true"))
            text = self.visible_text()
            if fresh and self.state() == "code":
                return False  # a new code page: the form came back
            if text != before and WRONG_CODE_MARKERS.search(text or ""):
                return False
            if not clicked and time.time() > started + 3 and not fresh:
                button = self.page.locator(VERIFY_BUTTON)
                if button.count():  # Enter did nothing: press Verify
                    self.safe(lambda: button.first.click(timeout=2000))
                clicked = True
            self.page.wait_for_timeout(100)
        return "verify-oob-code" not in urlsplit(self.page.url).path

    def finish(self) -> None:
        """From the verified code to the home page, creating the account on the way."""
        created, nudged = False, False
        started = time.time()
        while True:
            state = self.state()
            if state == "home":
                return
            if state == "create" and not created:
                self.create_account()
                created = True
            elif state == "login":
                raise SignInError("unexpected_page", "sent back to the login page")
            elif time.time() > started + STEP_WAIT / 3 and not nudged:
                # stuck in between (account chooser, an interstitial): open the app
                nudged = True
                self.page.goto(self.business_url + "/")
            elif time.time() > started + STEP_WAIT:
                raise SignInError("unexpected_page", f"stuck at {self.where()}")
            self.tick()

    def create_account(self) -> None:
        self.step("verifying", "first sign-in: creating the account")
        name = self.page.locator(NAME_INPUT).first
        name.fill(self.name)
        agree = self.page.locator(AGREE_BUTTON)
        if agree.count():
            agree.first.click()
        else:
            name.press("Enter")

    def result(self) -> SignInResult:
        parts = urlsplit(self.page.url)
        config_id = HOME.search(parts.path).group(1)
        csesidx = (parse_qs(parts.query).get("csesidx") or [""])[0]
        if not csesidx.isdigit():
            raise SignInError("unexpected_page", "the home URL has no csesidx")
        ses, oses = self.cookies()
        expiries = [c["expires"] for c in (ses, oses) if c and c.get("expires", -1) > 0]
        self.step("done", f"csesidx {csesidx}")
        return SignInResult(self.email, ses["value"], oses["value"] if oses else "", csesidx,
                            config_id, min(expiries) if expiries else None)

    def cookies(self) -> tuple[dict, dict | None]:
        """__Secure-C_SES and __Host-C_OSES of the app's host; waits up to 10 s for both
        (A does too), settles for the first alone after 3 s."""
        host = urlsplit(self.business_url).hostname or ""
        started = time.time()
        while True:
            jar = {c["name"]: c for c in self.context.cookies()
                   if host == c["domain"].lstrip(".") or host.endswith("." + c["domain"].lstrip("."))}
            ses, oses = jar.get("__Secure-C_SES"), jar.get("__Host-C_OSES")
            waited = time.time() - started
            if ses and (oses or waited > 3):
                return ses, oses
            if waited > 10 or time.time() > self.deadline:
                raise SignInError("unexpected_page", "signed in, but no __Secure-C_SES cookie")
            self.tick()

    # --- looking at the page ----------------------------------------------------------

    def state(self) -> str:
        """Where we are: home, create, code, send, login or other; raises on failure pages."""
        self.check_failures()
        path = urlsplit(self.page.url).path
        if HOME.search(path):
            return "home"
        if path.startswith("/admin/create") or path.endswith("/admin/create"):
            return "create"
        if self.safe(lambda: self.page.locator(PIN).count()):
            return "code"
        if self.safe(lambda: self.page.locator("#sign-in-with-email").count()):
            return "send"  # a "send code" click may be needed (§11.1 step 4)
        if path.rstrip("/").endswith("/login") or path.endswith("/login/email"):
            return "login"
        return "other"

    def wait_for_code_page(self) -> None:
        started = time.time()
        while True:
            state = self.state()
            if state == "code":
                return
            if state == "send":
                self.page.click("#sign-in-with-email")
            if time.time() > min(started + STEP_WAIT, self.deadline):
                if time.time() >= self.deadline:
                    raise SignInError("timeout", "waiting for the code page")
                raise SignInError("unexpected_page", f"expected the code page, "
                                                     f"stuck at {self.where()}")
            self.tick()

    def check_failures(self) -> None:
        path = urlsplit(self.page.url).path
        if "/signin-error" in path:
            raise SignInError("signin_error", "the sign-in token was rejected "
                                              "(/signin-error; try another proxy)")
        headings = self.safe(lambda: self.page.locator("h1").all_inner_texts()) or []
        if any("Access Restricted" in h for h in headings):
            domain = self.email.rsplit("@", 1)[-1]
            raise SignInError("access_restricted", f"Access Restricted (403): the domain "
                                                   f"{domain} may be banned")
        text = self.visible_text() or ""
        markers = CAPTCHA_MARKERS + (CODE_PAGE_MARKERS if "verify-oob-code" in path else ())
        marker = next((m for m in markers if m in text), None)
        if marker:
            raise SignInError("captcha", f"automation detected on {self.where()} ({marker})")

    def visible_text(self) -> str | None:
        return self.safe(lambda: self.page.locator("body").inner_text(timeout=2000))

    def safe(self, look):
        """A look at a page that may be navigating away: None instead of an error."""
        try:
            return look()
        except Exception as exc:  # the driver's Error: a navigation raced the look
            if "Target" in str(exc) and "closed" in str(exc):
                raise
            return None

    def where(self) -> str:
        parts = urlsplit(self.page.url)  # no query: it may hold tokens
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def tick(self) -> None:
        if time.time() >= self.deadline:
            raise SignInError("timeout", f"the sign-in timed out at {self.where()}")
        self.page.wait_for_timeout(100)
