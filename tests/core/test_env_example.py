"""`.env.example` lists every variable the settings read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_variable_read_is_listed():
    settings_src = "".join(p.read_text() for p in (ROOT / "src/tuangou/config").rglob("*.py"))
    read = set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z0-9_]+)"', settings_src))
    for match in re.finditer(r'env_str\(f"([A-Z]+)_\{k\}".*?for k in \(([^)]*)\)', settings_src, re.S):
        read |= {f"{match.group(1)}_{key}" for key in re.findall(r'"([A-Z0-9_]+)"', match.group(2))}
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - listed == set(), f"missing from .env.example: {sorted(read - listed)}"
    assert "SECRET_KEY" in listed and "DATABASE_URL" in listed and "REDIS_URL" in listed
