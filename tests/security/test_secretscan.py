"""The secret scanner: an agent that wants a key out must encode it; every common encoding
is found, findings never quote the value, and ordinary code does not trip it."""

from __future__ import annotations

import base64
import binascii
import codecs
from pathlib import Path
from urllib.parse import quote

import pytest

from runner.secretscan import (
    Secret,
    known_secrets,
    redact,
    scan,
    scan_bytes,
    scan_many,
)

TOKEN = "ghs_" + "Zq8fK2pLm4Xv7Rt1Wn9Ys3Bd6Hc0Ju5Ea2G"  # GitHub token shape
KEY = "model-key-" + "J7d9Qm2Lx8Rv4Pz6Tn1Wk3Hs5"  # an API key with no known shape
SECRETS = [Secret("GITHUB_TOKEN", TOKEN), Secret("ANTHROPIC_API_KEY", KEY)]
REPO = Path(__file__).resolve().parents[2]


def kinds(text: str) -> set[str]:
    return {f.kind for f in scan(text, SECRETS)}


def exfil_forms(value: str) -> dict[str, str]:
    raw = value.encode()
    return {
        "raw": f"see {value} here",
        "base64": base64.b64encode(raw).decode(),
        "base64 offset 1": base64.b64encode(b"x" + raw + b"tail").decode(),
        "base64 offset 2": base64.b64encode(b"xy" + raw).decode(),
        "base64 offset 3": base64.b64encode(b"xyz" + raw).decode(),
        "urlsafe base64": base64.urlsafe_b64encode(b"\xff\xfe" + raw).decode(),
        "wrapped base64": base64.encodebytes(b"header " * 12 + raw).decode(),
        "hex lower": raw.hex(),
        "hex upper": raw.hex().upper(),
        "hex dump": " ".join(f"{b:02x}" for b in raw),
        "url-encoded": "q=" + quote(value + "/?&", safe=""),
        "percent all": "".join(f"%{b:02X}" for b in raw),
        "json": '{"k": "' + value + '"}',
    }


@pytest.mark.parametrize("form", list(exfil_forms(KEY)))
def test_known_secret_is_found_in_every_encoding(form: str) -> None:
    text = exfil_forms(KEY)[form]
    findings = scan(text, SECRETS, where="PR body")
    assert findings, f"{form}: {text!r} not found"
    assert {f.name for f in findings} == {"ANTHROPIC_API_KEY"}
    assert all(f.where == "PR body" for f in findings)


def test_findings_never_quote_the_secret() -> None:
    text = "\n".join(exfil_forms(TOKEN).values())
    findings = scan(text, SECRETS, where="comment")
    assert findings
    shown = "\n".join(f.describe() for f in findings) + repr(findings)
    for encoded in (TOKEN, TOKEN[:12], base64.b64encode(TOKEN.encode()).decode()[:12]):
        assert encoded not in shown
    assert "comment:1:5: known-secret/raw (GITHUB_TOKEN)" in shown


def test_position_is_line_and_column() -> None:
    [finding] = scan(f"line one\n  key = {KEY}\n", [SECRETS[1]], where="app/x.py")
    assert (finding.where, finding.line, finding.column) == ("app/x.py", 2, 9)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ghp_" + "a1B2c3D4e5F6" * 3, "github-token"),
        ("gho_" + "a1B2c3D4e5F6" * 3, "github-token"),
        ("token=ghs_" + "a1B2c3D4e5F6" * 3, "github-token"),
        ("github_pat_11ABCDEFG0" + "a1B2c3D4e5F6_" * 6, "github-token"),
        ("sk-ant-api03-" + "Ab3_dE6-gH9jK2" * 6, "anthropic-key"),
        ("aws_access_key_id = AKIAQ3EGRTYUIOPLKJ7Z", "aws-access-key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "private-key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "private-key"),
        ("-----BEGIN PRIVATE KEY-----", "private-key"),
        ("xoxb-123456789012-abcdefABCDEF", "slack-token"),
        ('DB_PASSWORD="x9Fq2LmZ7vRt4KpW8sYd3N"', "generic-secret"),
        ("client_secret: 7fa3c9e1b2d84f60a5e7c3b1d9f2e8a4", "generic-secret"),
    ],
)
def test_token_patterns(text: str, kind: str) -> None:
    assert kind in {f.kind for f in scan(text)}


@pytest.mark.parametrize(
    "text",
    [
        "token = os.environ['GITHUB_TOKEN']",
        "password_hash_algorithm = pbkdf2_sha256_iterations",
        "auth_provider = authTokenProviderFactory2Impl",
        "secret_key_len = crypto_sign_curve25519_BYTES",
        "private_key: ed25519.Ed25519PrivateKey,",
        "api_key: ${{ secrets.ANTHROPIC_API_KEY }}",
        "API_KEY=your-api-key-goes-here-1234567",
        "token: 0000000000000000000000000000000000000000",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "TOKEN_REFRESH_INTERVAL_SECONDS_2 = 30",
    ],
)
def test_ordinary_text_is_not_a_secret(text: str) -> None:
    assert scan(text) == []


def test_no_finding_in_this_repository_but_its_own_fixtures() -> None:
    """Every runner source file, the docs and the schemas scan clean: the scanner must
    not block an ordinary PR that touches code about tokens and keys."""
    paths = [*REPO.glob("runner/**/*.py"), *REPO.glob("docs/*.md"), REPO / "README.md"]
    paths += [*REPO.glob("schemas/*.json"), *REPO.glob("fleet/**/*.*")]
    found = [f.describe() for p in paths for f in scan(p.read_text("utf-8"), where=p.name)]
    assert found == []


def test_short_values_are_not_searched() -> None:
    """A 4-character 'secret' would match half the diff; such values are skipped."""
    assert scan("the word main appears", [Secret("FLEET_X_TOKEN", "main")]) == []


def test_scan_bytes_reads_binary_files() -> None:
    data = b"\x00\x01\xffPK" + KEY.encode() + b"\x00" + binascii.hexlify(TOKEN.encode())
    names = {f.name for f in scan_bytes(data, SECRETS, "bundle")}
    assert names == {"ANTHROPIC_API_KEY", "GITHUB_TOKEN"}


def test_scan_many_labels_each_text() -> None:
    found = scan_many({"PR body": f"ok {KEY}", "escalation": "nothing", "comment": TOKEN}, SECRETS)
    assert {f.where for f in found} == {"PR body", "comment"}


def test_rot13_is_not_claimed() -> None:
    """Documented limit: arbitrary ciphers are out of reach of any scanner; the
    sandbox (no secret reachable) is the boundary, the scan is the second line."""
    assert scan(codecs.encode(KEY, "rot13"), [SECRETS[1]]) == []


def test_redact_replaces_every_form() -> None:
    text = "\n".join(exfil_forms(KEY).values()) + "\n" + TOKEN
    out = redact(text, SECRETS)
    assert scan(out, SECRETS) == []
    assert "[REDACTED:known-secret/base64]" in out
    assert "[REDACTED:known-secret/raw]" in out or "[REDACTED:github-token]" in out
    assert out.startswith("see [REDACTED:")


def test_redact_keeps_ordinary_text() -> None:
    text = "nothing secret here: app/main.py:12 token = os.environ['X']"
    assert redact(text, SECRETS) == text


def test_known_secrets_from_environment() -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "ANTHROPIC_API_KEY": KEY,
        "GITHUB_REPOSITORY": "acme/fleet-public-name",
        "STAGING_DATABASE_PASSWORD": "pw-7Hq2xL9mV3",
        "SHORT_TOKEN": "abc",
        "PATH": "/usr/bin:/bin",
    }
    names = [s.name for s in known_secrets(env)]
    assert names == ["ANTHROPIC_API_KEY", "GITHUB_TOKEN", "STAGING_DATABASE_PASSWORD"]
    assert [s.name for s in known_secrets(env, ["GITHUB_REPOSITORY"])] == ["GITHUB_REPOSITORY"]


@pytest.mark.parametrize("unit", ["token", "x", "token=a", "a="], ids=repr)
def test_scanning_is_linear_in_what_the_agent_controls(unit: str) -> None:
    """Apply scans up to megabytes of agent-written text (files, a transcript): a line of
    repeated secret words made the generic-assignment pattern backtrack over every start
    (80 KB of "token" took 50 s). 100 KB of such a run must cost about what 100 KB of
    prose costs, measured interleaved in the same run (medians of three), so a loaded
    machine slows both alike."""
    import time

    size = 100_000
    hostile = unit * (size // len(unit)) + "!"
    prose = ("The quick brown fox jumps over the lazy dog. " * (size // 45))[:size]
    costs: dict[str, list[float]] = {"hostile": [], "prose": []}
    for _ in range(3):
        for name, text in (("prose", prose), ("hostile", hostile)):
            start = time.perf_counter()
            scan(text)
            costs[name].append(time.perf_counter() - start)
    hostile_s, prose_s = sorted(costs["hostile"])[1], sorted(costs["prose"])[1]
    assert hostile_s < 20 * max(prose_s, 1e-3), (hostile_s, prose_s)
