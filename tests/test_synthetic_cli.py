"""`headwater generate` and `headwater replay` from the command line: they write what the
library writes, and turn bad input into one `error:` line naming the fix."""

from __future__ import annotations

import hashlib

from click.testing import CliRunner

from headwater.cli import cli
from sources.synthetic import generate_world, read_manifest


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_generate_command_writes_the_same_world_as_the_library(tmp_path):
    result = _run("generate", "--people", "40", "--seed", "9", "--out", str(tmp_path / "cli"), "--end", "2026-11-01",
                  "--months", "3", "--quiet")
    assert result.exit_code == 0, result.output
    generate_world(tmp_path / "lib", 40, seed=9, end="2026-11-01", months=3)
    for name in ("truth/identifiers.jsonl.gz", "events/website/batch-000001.json", "vendors/shopify/orders.jsonl"):
        assert hashlib.sha256((tmp_path / "cli" / name).read_bytes()).digest() == \
            hashlib.sha256((tmp_path / "lib" / name).read_bytes()).digest()
    manifest = read_manifest(tmp_path / "cli")
    assert manifest.people == 40 and manifest.end == "2026-11-01T00:00:00Z" and manifest.months == 3


def test_generate_rate_override_reaches_the_manifest(tmp_path):
    result = _run("generate", "--people", "20", "--out", str(tmp_path), "--end", "2026-11-01", "--quiet",
                  "--rate", "shared_device=0.5")
    assert result.exit_code == 0, result.output
    assert read_manifest(tmp_path).rates.shared_device == 0.5


def test_generate_names_an_unknown_rate_and_lists_the_known_ones(tmp_path):
    result = _run("generate", "--people", "20", "--out", str(tmp_path), "--rate", "sharde_device=0.1")
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith("error: --rate sharde_device:") and "shared_device" in line and "\n" not in line


def test_generate_rejects_a_rate_above_one(tmp_path):
    result = _run("generate", "--people", "20", "--out", str(tmp_path), "--rate", "placeholder=1.5")
    assert result.exit_code == 2 and result.output.startswith("error: --rate placeholder:")


def test_generate_rejects_an_unreadable_end_date(tmp_path):
    result = _run("generate", "--people", "20", "--out", str(tmp_path), "--end", "last tuesday")
    assert result.exit_code == 2 and "error: --end 'last tuesday': use a date or ISO time" in result.output


def test_replay_without_a_world_says_how_to_make_one(tmp_path):
    result = _run("replay", str(tmp_path), "--quiet")
    assert result.exit_code == 2
    assert result.output.startswith("error:") and "headwater generate" in result.output
    assert "Traceback" not in result.output


def test_replay_to_a_closed_port_fails_in_one_line(tmp_path):
    generate_world(tmp_path, 10, seed=1, end="2026-11-01")
    result = _run("replay", str(tmp_path), "--url", "http://127.0.0.1:9", "--quiet")
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: cannot reach the collect endpoint at http://127.0.0.1:9")


def test_replay_write_key_option_needs_source_equals_key(tmp_path):
    generate_world(tmp_path, 10, seed=1, end="2026-11-01")
    result = _run("replay", str(tmp_path), "--write-key", "website", "--quiet")
    assert result.exit_code == 2 and "--write-key expects SOURCE=KEY" in result.output
