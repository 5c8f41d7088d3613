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
import io
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, cast

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


def open_text(
    opener: Callable[[], BinaryIO], encoding: str | None = None, name: str = "input"
) -> tuple[Iterator[str], dict[str, Any]]:
    """Decode a text file as a stream of lines; returns the lines and the details for the manifest.

    ``opener`` opens the file's bytes from the start (it is called again for each pass: detection reads the
    whole file once before the text is produced, so memory stays flat in the file's size). The lines keep
    their line ends and are split like ``io.StringIO(text, newline="")`` splits them (``\n``, ``\r\n``,
    ``\r``), so ``"".join(lines)`` is the decoded text. Counts in ``details`` (``nul_bytes_removed``,
    ``replaced_characters``) are complete once the lines are consumed.

    Raises:
        InputError: the bytes are not text (binary signature or mostly control bytes), or ``encoding`` is
            not a known codec.
    """
    with opener() as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not encoding:
        for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                           (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                           (codecs.BOM_UTF16_BE, "utf-16")):
            if sample.startswith(bom):
                details: dict[str, Any] = {"encoding": codec}
                return _without_nul(_decoded_lines(opener, codec), details), details
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise InputError(f"{name}: input.encoding {encoding!r} is not a known encoding") from exc
        details = {"encoding": encoding}
        if _decodes(opener, encoding):
            return _without_nul(_decoded_lines(opener, encoding), details), details
        return _without_nul(_decoded_lines(opener, encoding), details, count_replaced=True), details
    for signature, what in _BINARY_SIGNATURES.items():
        if sample.startswith(signature):
            raise InputError(f"{name} is not a text file: it looks like {what}")
    utf16 = _bomless_utf16(sample)
    if utf16 and _decodes(opener, utf16):
        details = {"encoding": utf16}
        return _without_nul(_decoded_lines(opener, utf16), details), details
    nul = sample.count(0)
    text_bytes = len(sample) - nul
    control = sum(sample.count(byte) for byte in _CONTROL_BYTES)
    if text_bytes == 0 or control / text_bytes > 0.3 or (
        control / text_bytes > BINARY_CONTROL_SHARE and not _valid_utf8(sample.replace(b"\x00", b""))
    ):
        raise InputError(f"{name} looks like a binary file, not CSV/JSON text (mostly control bytes)")
    nul_total, valid = _scan_utf8(opener)
    details = {"encoding": "utf-8"}
    if valid:
        if nul_total:
            details["nul_bytes_removed"] = nul_total
        return _decoded_lines(opener, "utf-8", strip_nul=bool(nul_total)), details
    fallback, failing, utf8_non_ascii = _scan_lines(opener)
    details = {"encoding": fallback}
    if utf8_non_ascii:
        details = {"encoding": f"utf-8+{fallback}", "lines_in_fallback_encoding": failing}
    if nul_total:
        details["nul_bytes_removed"] = nul_total
    return _per_line_text(opener, fallback, details), details


# --- streaming helpers ---------------------------------------------------------------------------------

BLOCK_BYTES = 1 << 20


def _blocks(opener: Callable[[], BinaryIO], strip_nul: bool = False) -> Iterator[bytes]:
    with opener() as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            yield block.replace(b"\x00", b"") if strip_nul else block


def _decodes(opener: Callable[[], BinaryIO], codec: str) -> bool:
    """Whether the whole file decodes in ``codec`` without an error (streamed, nothing kept)."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        for block in _blocks(opener):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _scan_utf8(opener: Callable[[], BinaryIO]) -> tuple[int, bool]:
    """NUL bytes in the file, and whether it is valid UTF-8 once they are removed."""
    nul = 0
    valid = True
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    for block in _blocks(opener):
        count = block.count(0)
        if count:
            nul += count
            block = block.replace(b"\x00", b"")
        if valid:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                valid = False
    if valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    return nul, valid


def _byte_lines(opener: Callable[[], BinaryIO]) -> Iterator[bytes]:
    """The file's bytes (NUL removed) split at ``\n`` (without it); the last piece may be empty."""
    rest = b""
    for block in _blocks(opener, strip_nul=True):
        parts = (rest + block).split(b"\n")
        rest = parts.pop()
        yield from parts
    yield rest


def _scan_lines(opener: Callable[[], BinaryIO]) -> tuple[str, int, int]:
    """``(fallback encoding, lines that are not UTF-8, UTF-8 lines with non-ASCII)`` of a file that is not UTF-8."""
    failing: list[bytes] = []
    failing_count = 0
    sample_size = 0
    utf8_non_ascii = 0
    for line in _byte_lines(opener):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            failing_count += 1
            if len(failing) < 2000 and sample_size <= 1 << 20:
                failing.append(line)
                sample_size += len(line) + 1
            continue
        if not line.isascii():
            utf8_non_ascii += 1
    fallback = guess_legacy_encoding(b"\n".join(failing)[: 1 << 20])
    return fallback, failing_count, utf8_non_ascii


class _ByteStream(io.RawIOBase):
    """A readable binary stream over an iterator of byte strings."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _lines_of(stream: BinaryIO, codec: str) -> Iterator[str]:
    with io.TextIOWrapper(stream, encoding=codec, errors="replace", newline="") as text:
        yield from text


def _decoded_lines(opener: Callable[[], BinaryIO], codec: str, strip_nul: bool = False) -> Iterator[str]:
    if strip_nul:
        stream = io.BufferedReader(_ByteStream(_blocks(opener, strip_nul=True)), BLOCK_BYTES)
        yield from _lines_of(cast(BinaryIO, stream), codec)
        return
    with opener() as handle:
        yield from _lines_of(handle, codec)


def _without_nul(lines: Iterator[str], details: dict[str, Any], count_replaced: bool = False) -> Iterator[str]:
    """Lines without U+0000 (counted in ``nul_bytes_removed``); with ``count_replaced``, U+FFFD is counted."""
    replaced = 0
    for line in lines:
        if "\x00" in line:
            details["nul_bytes_removed"] = details.get("nul_bytes_removed", 0) + line.count("\x00")
            line = line.replace("\x00", "")
        if count_replaced and "\ufffd" in line:
            replaced += line.count("\ufffd")
            details["replaced_characters"] = replaced
        yield line


def _per_line_text(opener: Callable[[], BinaryIO], fallback: str, details: dict[str, Any]) -> Iterator[str]:
    """Each ``\n``-separated line as UTF-8 when it is valid UTF-8, else in ``fallback``."""

    def chunks() -> Iterator[bytes]:
        replaced = 0
        first = True
        for line in _byte_lines(opener):
            try:
                line.decode("utf-8")
                encoded = line
            except UnicodeDecodeError:
                text = line.decode(fallback, errors="replace")
                if "\ufffd" in text:
                    replaced += text.count("\ufffd")
                    details["replaced_characters"] = replaced
                encoded = text.encode("utf-8")
            yield encoded if first else b"\n" + encoded
            first = False

    stream = io.BufferedReader(_ByteStream(chunks()), BLOCK_BYTES)
    yield from _lines_of(cast(BinaryIO, stream), "utf-8")


def _valid_utf8(sample: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


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
