"""``lead-importer mapping suggest``: a ready mapping from a file's headers and contents.

The phone column is found by what its cells hold (a column of phone numbers
is the phone column even when its header is ``נייד 2`` or ``Unnamed: 3``);
names, ids, call-back times and useful extras are found by header.  Known
exports (Facebook Lead Ads, Google Ads lead forms, Hebrew CRMs, Voicenter's
own pending list) are recognised by their header signatures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from importer.errors import MappingError
from importer.headers import custom_data_key, normalize_header, normalize_value
from importer.mapping_dates import parse_time_of_day, parse_when
from importer.mapping_schema import MAX_HEADER_CHARS, PHONE_TYPES, parse_mapping
from importer.phones import PhoneNormalizer, PhonePolicy
from importer.sources import open_source, open_sources
from importer.sources.model import SourceInfo, SourceOptions, SourceRow

__all__ = ["ColumnProfile", "profile_columns", "suggest_mapping"]

SAMPLE_ROWS = 200
_PHONE_SHARE = 0.6          # share of non-empty cells that must be phone numbers
_MAX_CUSTOM = 15

_PHONE_WORDS = ("phone", "mobile", "cell", "tel", "טלפון", "נייד", "סלולרי", "פלאפון", "טל")
_MOBILE_WORDS = ("mobile", "cell", "נייד", "סלולר", "פלאפון")
_NATIONAL_ID = {"תז", "תעודתזהות", "מספרזהות", "idnumber", "nationalid", "ssn", "passport"}
_NOT_PHONE = ("id", "zip", "postal", "מיקוד", "code", "מזהה", "date", "time", "תאריך", "sum")
_FULL_NAME = {"fullname", "name", "customername", "contactname", "leadname", "שםמלא", "שם",
              "שםלקוח", "שםהלקוח", "שםושםמשפחה", "שםמלאשלהלקוח", "username"}
_FIRST_NAME = {"firstname", "givenname", "first", "שםפרטי", "פרטי"}
_LAST_NAME = {"lastname", "surname", "familyname", "last", "שםמשפחה", "משפחה"}
_LEAD_ID = {"id", "leadid", "מזהה", "מזההליד", "מספרליד", "מסליד", "leadnumber", "recordid",
            "מספרפנייה", "מזההפנייה", "customerid", "מספרלקוח"}
_SOURCE = {"source", "leadsource", "utmsource", "מקור", "מקורליד", "מקורהליד", "מקורהגעה"}
_PRIORITY = {"priority", "priorety", "עדיפות"}
_CALLER_ID = {"callerid", "מספרמזוהה", "מספריוצא"}
_CALLBACK = {"originatetime", "callback", "callbackdate", "callbacktime", "callat", "calltime",
             "callon", "מועדשיחה", "מועדחזרה", "תאריךחזרה", "זמןחזרה", "תאריךלחזרה", "חזרה",
             "לחזורב", "מועדלחזרה"}
_CALLBACK_TIME = {"callbacktime", "calltime", "שעתחזרה", "שעהלחזרה", "שעה", "time"}
_TECHNICAL = {"adid", "adsetid", "campaignid", "formid", "adgroupid", "isorganic", "istest",
              "gclid", "creativeid", "assetgroupid", "callinserted", "apiversion",
              "googlekey", "leadstage", "retailerid", "inboxurl", "vehicle"}
_TEMPERATURE = {"hot": 10, "warm": 5, "cold": 1, "חם": 10, "פושר": 5, "קר": 1}
_KNOWN_KEYS = {
    "email": "Email", "useremail": "Email", "emailaddress": "Email", "אימייל": "Email",
    "דואל": "Email", "מייל": "Email", "דואראלקטרוני": "Email",
    "city": "City", "עיר": "City", "יישוב": "City", "ישוב": "City",
    "address": "Address", "כתובת": "Address",
    "notes": "Notes", "note": "Notes", "comments": "Notes", "הערות": "Notes", "הערה": "Notes",
    "status": "Status", "סטטוס": "Status", "leadstatus": "Status",
    "campaign": "Campaign", "campaignname": "Campaign", "קמפיין": "Campaign",
    "formname": "Form", "adname": "Ad", "adsetname": "AdSet", "adgroup": "AdGroup",
    "adgroupname": "AdGroup", "platform": "Platform",
    "createdtime": "LeadTime", "leadsubmittime": "LeadTime", "submittime": "LeadTime",
    "תאריךיצירה": "LeadTime", "תאריךכניסה": "LeadTime", "תאריך": "LeadDate",
    "תאריךפנייה": "LeadDate", "date": "LeadDate", "leaddate": "LeadDate",
    "company": "Company", "companyname": "Company", "חברה": "Company",
    "product": "Product", "מוצר": "Product", "תחוםעניין": "Interest", "interest": "Interest",
    "agent": "Agent", "נציג": "Agent", "נציגמטפל": "Agent", "age": "Age", "גיל": "Age",
    "postalcode": "PostalCode", "zip": "PostalCode", "zipcode": "PostalCode",
    "כתובתאימייל": "Email", "כתובתמייל": "Email", "כתובתדואל": "Email",
    "עירמגורים": "City", "מקוםמגורים": "City", "עניין": "Interest",
    "מיקוד": "PostalCode", "תאריךלידה": "BirthDate", "birthdate": "BirthDate",
}
# Words specific enough to name a column inside a longer header ("כתובת אימייל", a Facebook
# question "מה תחום העניין שלך?"); generic ones such as "תאריך" stay out ("תאריך לידה" is a
# birth date, not the lead's date). Longest first, so the most specific one wins.
_KNOWN_WORDS = ("דואראלקטרוני", "אימייל", "הערות", "עניין", "דואל", "מייל")


def _known_key(key: str) -> str | None:
    """The CustomData name for a normalised header, from the table or a word inside it."""
    known = _KNOWN_KEYS.get(key)
    if known is None:
        known = next((_KNOWN_KEYS[w] for w in _KNOWN_WORDS if w in key), None)
    return known
_SOURCE_CONSTANT = {"facebook": "facebook", "google": "google-ads"}


@dataclass(slots=True)
class ColumnProfile:
    """What the sampled cells of one column look like."""

    index: int
    header: str
    key: str                                  # normalised header
    values: list[str] = field(default_factory=list)
    numeric: int = 0
    phones: int = 0                           # cells that are valid phone numbers
    mobiles: int = 0

    @property
    def filled(self) -> int:
        """Non-empty sampled cells."""
        return len(self.values)

    @property
    def phone_share(self) -> float:
        """Share of non-empty cells that are valid phone numbers."""
        return self.phones / self.filled if self.filled else 0.0

    def share(self, test: Callable[[str], object]) -> float:
        """Share of non-empty cells for which ``test(value)`` is true."""
        if not self.filled:
            return 0.0
        return sum(1 for v in self.values if test(v)) / self.filled


def profile_columns(
    info: SourceInfo, rows: list[SourceRow], region: str = "IL"
) -> list[ColumnProfile]:
    """Profile every column from a sample of rows."""
    policy = PhonePolicy(default_region=region, allow_types=frozenset(PHONE_TYPES))
    checker = PhoneNormalizer(policy)
    profiles = [
        ColumnProfile(i, h, normalize_header(h))
        for i, h in enumerate(info.columns)
        if len(h) <= MAX_HEADER_CHARS  # a pasted blob, not a header: never suggested
    ]
    for row in rows:
        for prof in profiles:
            value = row.cells[prof.index].strip() if prof.index < len(row.cells) else ""
            if not value:
                continue
            prof.values.append(value)
            numeric = prof.index in row.numeric
            prof.numeric += numeric
            result = checker.normalize(value, numeric=numeric)
            if result.e164:
                prof.phones += 1
                prof.mobiles += result.number_type == "mobile"
    return profiles


def _has_word(key: str, words: tuple[str, ...]) -> bool:
    return any(w in key for w in words)


def _kind(keys: set[str]) -> tuple[str, str]:
    """(kind, human name) recognised from the normalised headers."""
    if {"phone", "callinserted"} <= keys or {"phone", "customername", "priority"} <= keys:
        return "voicenter", "Voicenter pending calls export"
    if "isorganic" in keys or {"adsetid", "formid"} <= keys or (
        "phonenumber" in keys and "adsetname" in keys
    ):
        return "facebook", "Facebook Lead Ads"
    if "gclid" in keys or ("leadid" in keys and ({"userphone", "formid", "campaignid"} & keys)):
        return "google", "Google Ads lead form"
    if any(re.search("[\u0590-\u05ff]", k) for k in keys):
        return "hebrew", "Hebrew CRM export"
    return "generic", "Generic lead list"


def _phone_columns(profiles: list[ColumnProfile]) -> list[ColumnProfile]:
    picked: list[ColumnProfile] = []
    named_only: list[ColumnProfile] = []
    for prof in profiles:
        if prof.key in _NATIONAL_ID:
            continue
        named = _has_word(prof.key, _PHONE_WORDS) and not _has_word(prof.key, ("id", "מזהה"))
        by_content = prof.phone_share >= _PHONE_SHARE and not (
            _has_word(prof.key, _NOT_PHONE) and not named
        )
        if by_content or (named and (prof.filled == 0 or prof.phone_share >= 0.2)):
            picked.append(prof)
        elif named:
            named_only.append(prof)
    if not picked:
        # A "Phone" column full of damaged numbers (9.72501E+11) is still the phone column:
        # its rows are reported invalid_phone, each with how to fix it, not "no phone column".
        picked = named_only

    def mobile_first(prof: ColumnProfile) -> tuple[int, int]:
        mobile = _has_word(prof.key, _MOBILE_WORDS) or (
            prof.phones > 0 and prof.mobiles / prof.phones >= 0.5
        )
        return (0 if mobile else 1, prof.index)

    return sorted(picked, key=mobile_first)


def _find(profiles: list[ColumnProfile], keys: set[str], used: set[int]) -> ColumnProfile | None:
    for prof in profiles:
        if prof.key in keys and prof.index not in used:
            return prof
    return None


# --- YAML text ------------------------------------------------------------------------------

_PLAIN = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^:#,\[\]{}\"'\n]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _q(text: str) -> str:
    """A YAML scalar for ``text``: plain when safe, double-quoted otherwise."""
    if (
        _PLAIN.match(text)
        and text == text.strip()
        and text.lower() not in _YAML_WORDS
        and not re.fullmatch(r"[-+.\d][\d_.:eE+-]*", text)
    ):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _flow(items: list[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def _sample(path: Path, options: SourceOptions) -> tuple[SourceInfo, list[SourceRow]]:
    source = open_source(path, options)
    rows = list(islice(source.rows(), SAMPLE_ROWS))
    return source.info, rows


def _other_sheets_phones(path: Path, options: SourceOptions) -> list[str]:
    """Phone columns of every sheet after the first (for all_sheets), in sheet order."""
    headers: list[str] = []
    for number, source in enumerate(open_sources(path, options)):
        with source:
            if number == 0:
                continue
            rows = list(islice(source.rows(), SAMPLE_ROWS))
            for prof in _phone_columns(profile_columns(source.info, rows)):
                if prof.header not in headers:
                    headers.append(prof.header)
    return headers


def suggest_mapping(path: Path, options: SourceOptions | None = None) -> str:
    """A ready mapping (YAML with comments) for ``path``, from its headers and contents."""
    options = options or SourceOptions()
    info, rows = _sample(Path(path), options)
    # Every sheet is imported with this one mapping: a phone column only a later sheet has
    # (its mobiles under "נייד") must be in it, or those leads are lost as missing_phone.
    extra = _other_sheets_phones(Path(path), options) if options.all_sheets else []
    text = build_suggestion(info, rows, options, extra_phone_columns=extra)
    # The suggestion must load and bind as written; a failure here is our bug, not the user's.
    parse_mapping(text, f"suggested mapping for {Path(path).name}").bind(info)
    return text


def build_suggestion(
    info: SourceInfo,
    rows: list[SourceRow],
    options: SourceOptions,
    *,
    extra_phone_columns: Sequence[str] = (),
) -> str:
    """The mapping text for an already-sampled file (plus phone columns of other sheets)."""
    profiles = profile_columns(info, rows)
    keys = {p.key for p in profiles}
    kind, kind_name = _kind(keys)
    used: set[int] = set()
    out: list[str] = []
    fname = info.path.name

    where = [info.format]
    if info.encoding:
        where.append(info.encoding)
    if info.sheet:
        where.append(f"sheet {info.sheet!r}")
    where.append(f"header on row {info.header_row}")
    out += [
        f"# Mapping suggested by lead-importer for {fname}",
        f"# Recognised as: {kind_name} ({', '.join(where)}; {len(rows)} rows sampled).",
        f"# Check it with:  lead-importer mapping check THIS_FILE {fname}",
        f"name: {_q(kind_name)}",
        "# campaign: Hot leads        # the campaign to fill (its name); --campaign overrides",
        "",
        "source:                      # how to read the file; auto = detect",
    ]
    sheet = options.sheet
    if isinstance(sheet, str):
        out.append(f"  sheet: {_q(sheet)}")
    else:
        out.append(f"  sheet: {'auto' if sheet is None else sheet + 1}     # 1 = the first sheet")
    out.append(f"  header_row: {options.header_row or 'auto'}")
    out.append(f"  encoding: {_q(options.encoding) if options.encoding else 'auto'}")
    out.append(f"  delimiter: {_q(options.delimiter) if options.delimiter else 'auto'}")
    if options.all_sheets:
        out.append("  all_sheets: true")
    if kind == "voicenter":
        out.append("  unescape_formulas: true     # the export writes '+972... for Excel")

    phones = _phone_columns(profiles)
    if not phones:
        listed = ", ".join(repr(p.header) for p in profiles)
        raise MappingError(
            f"suggested mapping for {fname}",
            [f"no column of {fname} holds phone numbers (its columns: {listed}); "
             "write the mapping by hand (see docs/mapping.md)"],
        )
    used |= {p.index for p in phones}
    out += ["", "phone:"]
    for prof in phones:
        out.append(
            f"  # {_q(prof.header)}: {prof.phones} of {prof.filled} sampled values are phone "
            f"numbers ({prof.mobiles} mobile)"
        )
    headers = [p.header for p in phones]
    extra = [h for h in extra_phone_columns if h not in headers]
    if extra:
        out.append(f"  # other sheets also have: {', '.join(_q(h) for h in extra)}")
    if len(phones) + len(extra) > 1:
        out.append("  # the first column (in this order) that holds a usable number wins")
    out += [
        f"  columns: {_flow(headers + extra)}",
        "  default_region: IL           # numbers without a country code are Israeli",
        "  allow_types: [mobile, fixed_line, fixed_line_or_mobile, voip]",
        "  strictness: valid            # valid = allocated numbers only; possible = looser",
        "  send_as: digits              # 972501234567 (what the Dialer API expects)",
    ]
    if kind == "voicenter":
        out.append(
            "  digits_are_international: true   # 4930901820 as the API lists it: +49 30 901820"
        )

    fields = _fields(profiles, used, kind)
    if fields:
        out += ["", "fields:", *fields]
    custom, copy = _custom_data(profiles, used, kind)
    if custom:
        out += ["", "custom_data:                  # shown in the agent's screen pop", *custom]
    if copy:
        out += ["", 'copy_columns: ["var_*"]      # every var_* column goes to CustomData as is']
    out += [
        "",
        "options:",
        "  is_date_local: false         # OriginateTime is sent as a true UTC time (see docs)",
        "  ignore_dnc: false            # true = dial even numbers on the Do-Not-Call registry",
        "",
        "dedupe:",
        "  batch: true                  # the same phone twice in this file: first one wins",
        "  pending: true                # skip numbers already waiting in the campaign",
        "  history_days: 30             # skip numbers this importer added in the last 30 days",
    ]
    return "\n".join(out) + "\n"


def _fields(profiles: list[ColumnProfile], used: set[int], kind: str) -> list[str]:
    out: list[str] = []
    first = _find(profiles, _FIRST_NAME, used)
    last = _find(profiles, _LAST_NAME, used)
    full = _find(profiles, _FULL_NAME, used)
    if first and last:
        used |= {first.index, last.index}
        line = f"  CustomerName: {{template: {_q('{' + first.header + '} {' + last.header + '}')}"
        if full:
            used.add(full.index)
            line += f", columns_fallback: {_flow([full.header])}"
        out.append(line + "}")
    elif full or first:
        chosen = full or first
        assert chosen is not None
        used.add(chosen.index)
        out.append(f"  CustomerName: {_q(chosen.header)}")

    priority = _find(profiles, _PRIORITY, used)
    if priority and priority.share(lambda v: re.fullmatch(r"-?\d+(\.0+)?", v)) >= 0.8:
        used.add(priority.index)
        out.append(f"  Priority: {_q(priority.header)}            # higher is dialled first")
    else:
        for prof in profiles:
            if prof.index in used or not prof.filled:
                continue
            if prof.share(lambda v: normalize_value(v) in _TEMPERATURE) >= 0.6:
                # Not marked as used: a notes or status column also goes to the screen pop.
                pairs = ", ".join(f"{_q(w)}: {n}" for w, n in _TEMPERATURE.items())
                out.append(f"  # {_q(prof.header)} holds lead temperatures: hot is dialled first")
                out.append(
                    f"  Priority: {{column: {_q(prof.header)}, map: {{{pairs}}}, default: 1}}"
                )
                break

    caller = _find(profiles, _CALLER_ID, used)
    if caller:
        used.add(caller.index)
        out.append(f"  CallerID: {_q(caller.header)}         # the number the lead sees")

    when = _find(profiles, _CALLBACK, used)
    if when and when.share(_is_date) >= 0.6:
        used.add(when.index)
        clock = _find(profiles, _CALLBACK_TIME, used)
        if clock and clock.share(_is_time) >= 0.6 and when.share(_has_clock) < 0.5:
            used.add(clock.index)
            out.append(
                f"  OriginateTime: {{date_column: {_q(when.header)}, "
                f"time_column: {_q(clock.header)}, timezone: Asia/Jerusalem}}"
            )
        else:
            out.append(
                f"  OriginateTime: {{column: {_q(when.header)}, timezone: Asia/Jerusalem}}"
                "   # when to call back"
            )
    return out


def _is_date(value: str) -> bool:
    try:
        return parse_when(value) is not None
    except ValueError:
        return False


def _has_clock(value: str) -> bool:
    try:
        when = parse_when(value)
    except ValueError:
        return False
    return when is not None and when.has_time


def _is_time(value: str) -> bool:
    try:
        return parse_time_of_day(value) is not None
    except ValueError:
        return False


def _custom_data(
    profiles: list[ColumnProfile], used: set[int], kind: str
) -> tuple[list[str], bool]:
    out: list[str] = []
    taken: set[str] = set()
    copy = kind == "voicenter" or any(p.header.lower().startswith("var_") for p in profiles)

    def add(key: str, spec: str, comment: str = "") -> None:
        if key.casefold() in taken or len(taken) >= _MAX_CUSTOM:
            return
        taken.add(key.casefold())
        out.append(f"  {key}: {spec}" + (f"   # {comment}" if comment else ""))

    lead_id = _find(profiles, _LEAD_ID, used)
    if lead_id and lead_id.filled:
        used.add(lead_id.index)
        add("var_LeadID", _q(lead_id.header))
    source = _find(profiles, _SOURCE, used)
    if source and source.filled:
        used.add(source.index)
        add("var_Source", _q(source.header))
    elif kind in _SOURCE_CONSTANT:
        add("var_Source", f"{{value: {_SOURCE_CONSTANT[kind]}}}")

    for prof in profiles:
        if prof.index in used or not prof.filled or prof.key in _TECHNICAL:
            continue
        if prof.key in _NATIONAL_ID or (copy and prof.header.lower().startswith("var_")):
            continue        # national ids stay out of screen pops; var_* columns are copied
        if kind == "voicenter":
            continue        # the rest of Voicenter's export is its own bookkeeping
        used.add(prof.index)
        known = _known_key(prof.key)
        if known:
            add(f"var_{known}", _q(prof.header))
        else:
            key = custom_data_key(prof.header, prof.index)
            note = f"column {prof.index + 1}" if key.startswith("var_Col") else ""
            add(key, _q(prof.header), note)
    return out, copy
