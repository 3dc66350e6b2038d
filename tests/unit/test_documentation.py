"""The documents users rely on stay true to the code."""
import re
from pathlib import Path

from app.accounts.sources import from_config
from app.config import Config
from simulator import demo

ROOT = Path(__file__).resolve().parents[2]


def settings_read_by_the_code() -> set[str]:
    code = (ROOT / "app" / "config.py").read_text() + (ROOT / "gunicorn.conf.py").read_text()
    return set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', code)) - {"DEBUG", "INFO", "WARNING", "ERROR", "ENV_FILE",
                                                                "GUNICORN_BIND", "WORKER_CONNECTIONS"}


def test_every_setting_is_in_env_example_and_the_readme():
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in settings_read_by_the_code():
        assert re.search(rf"^#? ?{name}=", example, re.M), f"{name} missing from .env.example"
        assert f"`{name}`" in readme, f"{name} missing from the README's configuration table"


def test_env_example_is_a_valid_configuration():
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert "#" not in value, f"inline comment on {name}: docker run --env-file would keep it"
            values[name] = value
    config = Config.from_env(values)
    assert not config.has_credentials and config.server_port == 8080
    # Copied as it is, it configures no account (no placeholder email that would try to sign in),
    # so ./run.sh runs the demo.
    assert from_config(config) == [] and not config.account_email and not config.config_id


def test_demo_env_matches_the_simulator_demo_account():
    values = dict(line.split("=", 1) for line in (ROOT / "deploy" / "demo.env").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert values["GEMINI_BUSINESS_SECURE_C_SES"] == demo.DEMO_SECURE_C_SES
    assert values["GEMINI_BUSINESS_HOST_C_OSES"] == demo.DEMO_HOST_C_OSES
    assert values["GEMINI_BUSINESS_CSESIDX"] == demo.DEMO_CSESIDX
    assert values["GEMINI_BUSINESS_CONFIG_ID"] == demo.DEMO_CONFIG_ID
    assert values["ACCOUNT_EMAIL"] == demo.DEMO_EMAIL


def test_docker_runs_what_the_tests_run():
    """No Docker engine here: the tests run the image's command and nginx file outside it."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]' in dockerfile
    servers = (ROOT / "tests" / "servers.py").read_text()
    assert '"gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"' in servers
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in compose
    assert "server gemini-proxy:8080;" in (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"^  gemini-proxy:$", compose, re.M), "the seed README's `logs -f gemini-proxy` needs this name"


def test_compose_ships_nginx_limits_for_5000_streams():
    """The stock nginx image allows 1,024 connections per nginx worker, ~500 streams (a client's
    connection and one to the gateway each): compose mounts a main file with room for 5,000."""
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./deploy/nginx-main.conf:/etc/nginx/nginx.conf:ro" in compose
    main = (ROOT / "deploy" / "nginx-main.conf").read_text()
    connections = int(re.search(r"^\s*worker_connections (\d+);", main, re.M).group(1))
    descriptors = int(re.search(r"^worker_rlimit_nofile (\d+);", main, re.M).group(1))
    assert connections >= 2 * 5000 + 240 and descriptors >= connections, (connections, descriptors)
    assert "include /etc/nginx/conf.d/*.conf;" in main  # where deploy/nginx.conf is mounted
    nginx_service = compose.split("\n  nginx:\n", 1)[1].split("\n\n", 1)[0]
    assert f"nofile: {descriptors}" in nginx_service


def test_the_compose_demo_never_shares_a_volume_with_real_accounts():
    """Volumes are named after the Compose project: every documented demo command names its own."""
    for name in ("README.md", "docker-compose.yml", "deploy/demo.env"):
        for command in re.findall(r"[^\n`]*docker compose[^\n`]*--profile demo[^\n`]*", (ROOT / name).read_text()):
            assert " -p gbp-demo " in command, (name, command)


# docs/architecture.md is the map of the code: every file it names must exist, and every module
# of the app must be on it, so the map cannot silently fall behind when code moves.
ARCHITECTURE = ROOT / "docs" / "architecture.md"
_NAMED_FILE = re.compile(r"(?<![\w./-])((?:app|simulator|tests|deploy|docs|bench)/[\w./-]*\w\.(?:py|md|conf))(?![\w/])")


def files_named_in_the_architecture() -> set[str]:
    return set(_NAMED_FILE.findall(ARCHITECTURE.read_text()))


def test_architecture_names_only_files_that_exist():
    named = files_named_in_the_architecture()
    assert any(name.startswith("app/") for name in named) and any(name.startswith("simulator/") for name in named)
    missing = sorted(name for name in named if not (ROOT / name).is_file())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_architecture_names_every_module_of_the_app():
    named = files_named_in_the_architecture()
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "app").rglob("*.py")
               if path.stat().st_size or path.name != "__init__.py"}  # an empty package marker is no module
    missing = sorted(modules - named)
    assert not missing, f"docs/architecture.md never names these modules (add them to the map): {missing}"


def test_architecture_links_resolve_and_the_readme_links_it():
    for target in re.findall(r"\]\(([^)#:]+)\)", ARCHITECTURE.read_text()):
        assert (ARCHITECTURE.parent / target).exists(), f"docs/architecture.md links to a missing {target}"
    assert "](docs/architecture.md)" in (ROOT / "README.md").read_text()
