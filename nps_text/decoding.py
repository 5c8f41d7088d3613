"""Bytes of a text export -> ``str``: encoding detection that survives what real exports contain.

Used by :mod:`nps_text.ingest` only (pure: bytes in, text out).

* A BOM decides (UTF-8, UTF-16, UTF-32); so does ``input.encoding`` when set.
* UTF-16 without a BOM is recognised by its NUL bytes in every second position.
* Otherwise NUL bytes are removed (counted in ``nul_bytes_removed``); a file whose bytes are mostly control
  characters, or that starts with a known binary signature, is not text (one-line :class:`InputError`).
* Valid UTF-8 is UTF-8. Else every line is decoded on its own: as UTF-8 when it is valid UTF-8, else in a
  legacy encoding guessed by ``charset-normalizer`` from the failing lines (Windows-1252 when the guess is a
  Latin single-byte code page and Windows-1252 reads the bytes as plausible Western text). So a file that
  switches from UTF-8 to Windows-1252 halfway is read correctly; undecodable bytes become U+FFFD and are
  counted in ``replaced_characters``.
"""

from __future__ import annotations

import codecs
import unicodedata
from typing import Any

from nps_text.errors import InputError

SAMPLE_BYTES = 1 << 16
BINARY_CONTROL_SHARE = 0.05
"""More than this share of control bytes (other than TAB, LF, CR, NUL) in the first 64 KiB, and not valid
UTF-8, or more than 30 % of them: not text."""
_CONTROL_BYTES = bytes([*range(1, 9), 0x0B, *range(0x0E, 0x20), 0x7F])
_BINARY_SIGNATURES = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive (decompress it first)",
    b"BZh": "a bzip2 archive (decompress it first)",
    b"\xfd7zXZ": "an xz archive (decompress it first)",
    b"7z\xbc\xaf": "a 7-Zip archive (decompress it first)",
    b"\xd0\xcf\x11\xe0": "an old binary Office file (.xls/.doc); save it as .xlsx or CSV",
    b"SQLite format 3": "an SQLite database; pass sqlite:///PATH with --query instead",
}
LATIN_CODEPAGES = frozenset(
    {
        "cp1252", "cp1250", "cp1254", "cp1257", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_9",
        "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "cp437", "cp775", "cp850", "cp852",
        "cp858", "cp1125", "mac_roman", "mac_latin2", "mac_iceland", "mac_turkish", "hp_roman8", "cp1006",
    }
)
_WESTERN_SYMBOLS = set("–—„“”‘’‚€…«»°§·×÷±²³µ¼½¾£¥©®™¡¿¢¤¦¨ª¬¯´¸¹º•†‡‰‹›ˆ˜")


def decode_text(data: bytes, encoding: str | None = None, name: str = "input") -> tuple[str, dict[str, Any]]:
    """Decode a text file's bytes; returns the text and details for the manifest (``encoding`` and counts).

    Raises:
        InputError: the bytes are not text (binary signature or mostly control bytes), or ``encoding`` is
            not a known codec.
    """
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom) and not encoding:
            return _finish(data.decode(codec, errors="replace"), {"encoding": codec})
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise InputError(f"{name}: input.encoding {encoding!r} is not a known encoding") from exc
        try:
            return _finish(data.decode(encoding), {"encoding": encoding})
        except UnicodeDecodeError:
            text = data.decode(encoding, errors="replace")
            return _finish(text, {"encoding": encoding, "replaced_characters": text.count("\ufffd")})
    sample = data[:SAMPLE_BYTES]
    for signature, what in _BINARY_SIGNATURES.items():
        if sample.startswith(signature):
            raise InputError(f"{name} is not a text file: it looks like {what}")
    utf16 = _bomless_utf16(sample)
    if utf16:
        try:
            return _finish(data.decode(utf16), {"encoding": utf16})
        except UnicodeDecodeError:
            pass
    nul = sample.count(0)
    text_bytes = len(sample) - nul
    control = sum(sample.count(byte) for byte in _CONTROL_BYTES)
    if text_bytes == 0 or control / text_bytes > 0.3 or (
        control / text_bytes > BINARY_CONTROL_SHARE and not _valid_utf8(sample.replace(b"\x00", b""))
    ):
        raise InputError(f"{name} looks like a binary file, not CSV/JSON text (mostly control bytes)")
    details: dict[str, Any] = {}
    if b"\x00" in data:
        details["nul_bytes_removed"] = data.count(0)
        data = data.replace(b"\x00", b"")
    try:
        return _finish(data.decode("utf-8"), {"encoding": "utf-8", **details})
    except UnicodeDecodeError:
        pass
    text, line_details = _decode_per_line(data)
    return _finish(text, {**line_details, **details})


def _valid_utf8(sample: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _finish(text: str, details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if "\x00" in text:
        details["nul_bytes_removed"] = details.get("nul_bytes_removed", 0) + text.count("\x00")
        text = text.replace("\x00", "")
    return text, details


def _bomless_utf16(sample: bytes) -> str | None:
    """``utf-16-le``/``-be`` when NUL bytes sit in every second position (ASCII text in UTF-16), else None."""
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return None
    odd_nul = sample[1::2].count(0)
    even_nul = sample[0::2].count(0)
    half = len(sample) // 2
    if odd_nul >= 0.6 * half and even_nul <= 0.05 * half:
        return "utf-16-le"
    if even_nul >= 0.6 * half and odd_nul <= 0.05 * half:
        return "utf-16-be"
    return None


def _decode_per_line(data: bytes) -> tuple[str, dict[str, Any]]:
    lines = data.split(b"\n")
    decoded: list[str | None] = []
    failing: list[int] = []
    utf8_non_ascii = 0
    for index, line in enumerate(lines):
        try:
            decoded.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            decoded.append(None)
            failing.append(index)
            continue
        if not line.isascii():
            utf8_non_ascii += 1
    fallback = guess_legacy_encoding(b"\n".join(lines[index] for index in failing[:2000])[: 1 << 20])
    replaced = 0
    for index in failing:
        text = lines[index].decode(fallback, errors="replace")
        replaced += text.count("\ufffd")
        decoded[index] = text
    details: dict[str, Any] = {"encoding": fallback}
    if utf8_non_ascii:
        details = {"encoding": f"utf-8+{fallback}", "lines_in_fallback_encoding": len(failing)}
    if replaced:
        details["replaced_characters"] = replaced
    return "\n".join(text or "" for text in decoded), details


def guess_legacy_encoding(sample: bytes) -> str:
    """The most likely single-byte/legacy encoding of bytes that are not UTF-8 (Windows-1252 preferred)."""
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is not None and best.encoding not in LATIN_CODEPAGES and best.coherence >= 0.2:
        return str(best.encoding)
    try:
        if _looks_western(sample.decode("cp1252")):
            return "cp1252"
    except UnicodeDecodeError:
        pass
    return str(best.encoding) if best is not None else "cp1252"


def _looks_western(text: str) -> bool:
    special = [char for char in text if not char.isascii()]
    if not special:
        return True
    western = sum(
        1 for char in special if char in _WESTERN_SYMBOLS or unicodedata.name(char, "").startswith("LATIN")
    )
    return western >= 0.9 * len(special)
