"""Keep the three catalogues complete.

    tuangou i18n update   extract strings (makemessages; needs GNU gettext), fill English with the
                          source text, derive Simplified Chinese from Traditional Chinese
    tuangou i18n check    fail when a catalogue misses a string of the source or has an
                          untranslated or fuzzy entry

Traditional Chinese (zh_Hant, the default language) is translated by people in its .po file;
Simplified Chinese is converted from it with OpenCC plus the mainland terms below, so the two
never drift apart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import polib
from django.core.management.base import BaseCommand, CommandError

from tuangou.core.i18n import LOCALE_DIR, compile_catalogues

SRC = LOCALE_DIR.parent
LOCALES = ["zh_Hant", "zh_Hans", "en"]
# Where mainland usage differs from a character-by-character conversion.
HANS_TERMS = {
    "簡訊": "短信",
    "帳號": "账号",
    "登入": "登录",
    "登出": "退出",
    "密碼": "密码",
    "網路": "网络",
    "軟體": "软件",
    "資料": "数据",
    "列印": "打印",
    "影片": "视频",
    "預設": "默认",
    "訊息": "消息",
    "重設": "重置",
    "設定": "设置",
    "連結": "链接",
    "帳": "账",
    "欄位": "字段",
}


def _makemessages(src: Path) -> None:
    """Run makemessages in `src` (a package folder with ./locale), without settings, so that it
    writes to that folder's catalogues only."""
    if shutil.which("xgettext") is None:
        raise CommandError("GNU gettext (xgettext) is needed: apt-get install gettext")
    args = [sys.executable, "-m", "django", "makemessages", "--no-location", "--no-obsolete"]
    for locale in LOCALES:
        args += ["-l", locale]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(args, cwd=src, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise CommandError(f"makemessages failed:\n{result.stderr}")


def _to_hans(text: str) -> str:
    from opencc import OpenCC  # dev dependency

    for hant, hans in HANS_TERMS.items():
        text = text.replace(hant, hans)
    return str(OpenCC("t2s").convert(text))


def _entries(po: polib.POFile) -> dict[tuple[str, str], polib.POEntry]:
    return {(e.msgctxt or "", e.msgid): e for e in po if not e.obsolete}


class Command(BaseCommand):
    help = "Update or check the zh_Hant, zh_Hans and en translation catalogues."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["update", "check"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "update":
            self.update()
        else:
            problems = self.check_catalogues()
            if problems:
                raise CommandError("translation catalogues are incomplete:\n" + "\n".join(problems))
            self.stdout.write(self.style.SUCCESS("catalogues complete"))

    def update(self) -> None:
        _makemessages(SRC)
        hant = polib.pofile(str(self._po("zh_Hant")))
        hant_by_key = _entries(hant)
        for locale in ("zh_Hans", "en"):
            po = polib.pofile(str(self._po(locale)))
            for key, entry in _entries(po).items():
                source = hant_by_key.get(key)
                if locale == "en":
                    entry.msgstr = entry.msgid
                    if entry.msgid_plural:
                        entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
                elif source is not None and (source.msgstr or source.msgstr_plural) and "fuzzy" not in source.flags:
                    entry.msgstr = _to_hans(source.msgstr)
                    if source.msgstr_plural:
                        entry.msgstr_plural = {k: _to_hans(v) for k, v in source.msgstr_plural.items()}
                else:
                    entry.msgstr = ""
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
            po.save()
        compile_catalogues()
        missing = [e.msgid for e in hant if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
        self.stdout.write(f"zh_Hant: {len(missing)} entries to translate")
        for msgid in missing[:50]:
            self.stdout.write(f"  {msgid}")

    def check_catalogues(self) -> list[str]:
        problems = []
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "tuangou"
            shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
            _makemessages(copy)
            for locale in LOCALES:
                fresh = _entries(polib.pofile(str(copy / "locale" / locale / "LC_MESSAGES" / "django.po")))
                ours = _entries(polib.pofile(str(self._po(locale))))
                for key in sorted(set(fresh) - set(ours)):
                    problems.append(f"{locale}: not in the catalogue: {key[1]!r}")
                for key, entry in sorted(ours.items()):
                    if key in fresh and (not entry.translated() or "fuzzy" in entry.flags):
                        problems.append(f"{locale}: untranslated: {key[1]!r}")
        return problems

    @staticmethod
    def _po(locale: str) -> Path:
        return LOCALE_DIR / locale / "LC_MESSAGES" / "django.po"
