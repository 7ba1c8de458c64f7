"""Bulk member import from CSV: every row is checked, bad rows are reported, the rest load.

Columns (header row required): phone, name, and optionally email, account_ref.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from ludus.core.kit.errors import error_code
from ludus.savings.phones import normalize_phone

BadCsv = error_code(422, "SAVINGS_CSV_INVALID", "The CSV file cannot be read.")
MAX_ROWS = 5000
ACCOUNT_REF = re.compile(r"^[A-Za-z0-9]{3,20}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class ImportRow:
    line: int
    phone: str
    name: str
    email: str | None
    account_ref: str | None


@dataclass
class RowError:
    line: int
    code: str
    message: str
    value: str = ""


@dataclass
class ParsedCsv:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def parse_members_csv(data: bytes) -> ParsedCsv:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadCsv("The CSV must be UTF-8.") from exc
    reader = csv.DictReader(io.StringIO(text))
    headers = {h.strip().lower() for h in (reader.fieldnames or []) if h}
    missing = {"phone", "name"} - headers
    if missing:
        raise BadCsv("The header row must name the columns.", details={"missing": sorted(missing)})
    out = ParsedCsv()
    seen_phones: dict[str, int] = {}
    seen_refs: dict[str, int] = {}
    for index, raw in enumerate(reader):
        line = index + 2  # 1-based, after the header
        if index >= MAX_ROWS:
            raise BadCsv(f"At most {MAX_ROWS} rows per file.")
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        error = _check(row, line, seen_phones, seen_refs)
        if error is not None:
            out.errors.append(error)
            continue
        phone = normalize_phone(row["phone"])
        assert phone is not None  # checked above
        ref = row.get("account_ref") or None
        seen_phones[phone] = line
        if ref:
            seen_refs[ref.upper()] = line
        out.rows.append(
            ImportRow(
                line, phone, row["name"], row.get("email") or None, ref.upper() if ref else None
            )
        )
    return out


def _check(
    row: dict[str, str], line: int, phones: dict[str, int], refs: dict[str, int]
) -> RowError | None:
    raw_phone = row.get("phone", "")
    phone = normalize_phone(raw_phone)
    if phone is None:
        return RowError(line, "INVALID_PHONE", "Not a valid phone number.", raw_phone)
    if phone in phones:
        return RowError(
            line, "DUPLICATE_IN_FILE", f"Same phone as line {phones[phone]}.", raw_phone
        )
    name = row.get("name", "")
    if not name or len(name) > 120:
        return RowError(line, "INVALID_NAME", "Name is required (at most 120 characters).", name)
    email = row.get("email", "")
    if email and not EMAIL.match(email):
        return RowError(line, "INVALID_EMAIL", "Not a valid email address.", email)
    ref = row.get("account_ref", "")
    if ref and not ACCOUNT_REF.match(ref):
        return RowError(line, "INVALID_ACCOUNT_REF", "3–20 letters or digits.", ref)
    if ref and ref.upper() in refs:
        return RowError(
            line, "DUPLICATE_IN_FILE", f"Same account_ref as line {refs[ref.upper()]}.", ref
        )
    return None
