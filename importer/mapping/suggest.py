"""``lead-importer mapping suggest``: a ready mapping from a file's headers and contents.

The phone column is found by what its cells hold (a column of phone numbers
is the phone column even when its header is ``נייד 2`` or ``Unnamed: 3``);
names, ids, call-back times and useful extras are found by header.  Known
exports (Facebook Lead Ads, Google Ads lead forms, Hebrew CRMs, Voicenter's
own pending list) are recognised by their header signatures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import yaml

from importer.errors import MappingError
from importer.headers import custom_data_key, normalize_value, rejects_columns
from importer.i18n import N_
from importer.mapping.binder import bind
from importer.mapping.dates import parse_time_of_day, parse_when
from importer.mapping.schema import parse_mapping, read_yaml
from importer.outcomes import Note
from importer.plain_text import escape_controls, quoted
from importer.sources import open_source, open_sources, require_phone_sheet
from importer.sources.columns import (
    CALLER_ID,
    NATIONAL_ID,
    ColumnProfile,
    phone_columns,
    profile_columns,
)
from importer.sources.model import SourceInfo, SourceOptions, SourceRow
from importer.sources.sheet_scan import SAMPLE_ROWS

__all__ = ["ColumnProfile", "profile_columns", "suggest_mapping"]

_MAX_CUSTOM = 15

_FULL_NAME = {"fullname", "name", "customername", "contactname", "leadname", "שםמלא", "שם",
              "שםלקוח", "שםהלקוח", "שםושםמשפחה", "שםמלאשלהלקוח", "username", "yourname",
              "yourfullname", "clientname", "שמך", "שמךהמלא", "שםהפונה", "שםמלאשלך"}
# A bare "name" beside a family-name column (and no first-name column) is the first name.
_BARE_NAME = {"שם", "name"}
_FIRST_NAME = {"firstname", "givenname", "first", "שםפרטי", "פרטי", "yourfirstname"}
_LAST_NAME = {"lastname", "surname", "familyname", "last", "שםמשפחה", "משפחה",
              "yourlastname"}
_LEAD_ID = {"id", "leadid", "מזהה", "מזההליד", "מספרליד", "מסליד", "leadnumber", "recordid",
            "מספרפנייה", "מזההפנייה"}
_SOURCE = {"source", "leadsource", "utmsource", "מקור", "מקורליד", "מקורהליד", "מקורהגעה"}
_PRIORITY = {"priority", "priorety", "עדיפות"}
_CALLER_ID = CALLER_ID
# Call-back columns: these headers, or any header holding one of _CALLBACK_WORDS; either way
# only when most of the sampled cells are dates (times alone: _CALLBACK_TIME).
_CALLBACK = {"originatetime", "callback", "callbackdate", "callbacktime", "callat", "calltime",
             "callon", "מועדשיחה", "מועדחזרה", "תאריךחזרה", "זמןחזרה", "תאריךלחזרה", "חזרה",
             "לחזורב", "מועדלחזרה", "מועדחיוג", "זמןחיוג", "תאריךחיוג", "שעתחיוג", "calldate",
             "scheduledcall", "nextcall", "followupdate", "מועדהתקשרות"}
_CALLBACK_WORDS = ("חיוג", "לחזור", "callback", "calltime", "calldate", "nextcall", "followup")
# ... but never the time of a call already made ("תאריך חיוג אחרון", "Last call date").
_PAST_WORDS = ("אחרון", "אחרונה", "קודם", "קודמת", "ראשון", "last", "previous", "prev", "first")
_CALLBACK_TIME = {"callbacktime", "calltime", "שעתחזרה", "שעהלחזרה", "שעה", "time", "שעתחיוג",
                  "זמןחיוג"}
# A plain date column, taken as the call-back day only beside a call-back time of day.
_PLAIN_DATE = {"תאריך", "date", "יום", "day"}
_TECHNICAL = {"adid", "adsetid", "campaignid", "formid", "adgroupid", "isorganic", "istest",
              "gclid", "creativeid", "assetgroupid", "callinserted", "apiversion",
              "googlekey", "leadstage", "retailerid", "inboxurl", "vehicle"}
_TEMPERATURE = {"hot": 10, "warm": 5, "cold": 1, "חם": 10, "פושר": 5, "קר": 1}
# Headers of common CRM exports and lead forms → the CustomData name agents see: the usual
# Hebrew CRM and lead-form headers; the standard lead/contact fields of HubSpot, Salesforce
# and Zoho; Google and Facebook lead forms; WordPress forms (your-email).
# Keys are normalised headers (normalize_header); any other header gets custom_data_key's
# name (Hebrew transliterated).
_KNOWN_KEYS = {
    "email": "Email", "useremail": "Email", "emailaddress": "Email", "אימייל": "Email",
    "דואל": "Email", "מייל": "Email", "דואראלקטרוני": "Email", "youremail": "Email",
    "primaryemail": "Email", "mail": "Email", "emailaddresses": "Email",
    "city": "City", "עיר": "City", "יישוב": "City", "ישוב": "City", "town": "City",
    "address": "Address", "כתובת": "Address", "כתובתמלאה": "Address",
    "street": "Street", "streetaddress": "Street", "רחוב": "Street", "כתובתרחוב": "Street",
    "מספרבית": "HouseNumber", "מסבית": "HouseNumber", "housenumber": "HouseNumber",
    "state": "State", "stateregion": "State", "stateprovince": "State", "province": "State",
    "region": "Region", "area": "Region", "territory": "Region", "אזור": "Region",
    "איזור": "Region", "מחוז": "Region",
    "country": "Country", "countryregion": "Country", "מדינה": "Country", "ארץ": "Country",
    "notes": "Notes", "note": "Notes", "comments": "Notes", "הערות": "Notes", "הערה": "Notes",
    "description": "Notes", "תיאור": "Notes", "message": "Message", "yourmessage": "Message",
    "הודעה": "Message", "subject": "Subject", "yoursubject": "Subject", "נושא": "Subject",
    "נושאפנייה": "Subject", "סיבתפנייה": "Subject",
    "status": "Status", "סטטוס": "Status", "leadstatus": "Status", "מצב": "Status",
    "stage": "Stage", "lifecyclestage": "Stage", "dealstage": "Stage", "שלב": "Stage",
    "שלבמכירה": "Stage", "rating": "Rating", "דירוג": "Rating",
    "campaign": "Campaign", "campaignname": "Campaign", "קמפיין": "Campaign",
    "formname": "Form", "adname": "Ad", "adsetname": "AdSet", "adgroup": "AdGroup",
    "adgroupname": "AdGroup", "platform": "Platform",
    "channel": "Channel", "ערוץ": "Channel", "ערוץפנייה": "Channel", "ערוץהגעה": "Channel",
    "createdtime": "LeadTime", "leadsubmittime": "LeadTime", "submittime": "LeadTime",
    "createdate": "LeadTime", "createddate": "LeadTime", "createdat": "LeadTime",
    "creationdate": "LeadTime", "datecreated": "LeadTime", "נוצרב": "LeadTime",
    "תאריךיצירה": "LeadTime", "תאריךכניסה": "LeadTime", "תאריך": "LeadDate",
    "תאריךפנייה": "LeadDate", "date": "LeadDate", "leaddate": "LeadDate",
    "updatedat": "UpdatedAt", "lastmodified": "UpdatedAt", "lastmodifieddate": "UpdatedAt",
    "modifiedtime": "UpdatedAt", "lastupdated": "UpdatedAt", "תאריךעדכון": "UpdatedAt",
    "עודכןב": "UpdatedAt", "תאריךשינוי": "UpdatedAt", "עדכוןאחרון": "UpdatedAt",
    "customerid": "CustomerId", "customernumber": "CustomerId", "clientid": "CustomerId",
    "clientnumber": "CustomerId", "accountnumber": "CustomerId", "מספרלקוח": "CustomerId",
    "מסלקוח": "CustomerId", "מזההלקוח": "CustomerId", "קודלקוח": "CustomerId",
    "מספרהלקוח": "CustomerId",
    "company": "Company", "companyname": "Company", "חברה": "Company", "שםחברה": "Company",
    "שםהחברה": "Company", "שםעסק": "Company", "שםהעסק": "Company", "עסק": "Company",
    "accountname": "Company", "organization": "Company", "ארגון": "Company",
    "contactperson": "ContactName", "אישקשר": "ContactName", "שםאישקשר": "ContactName",
    "title": "JobTitle", "jobtitle": "JobTitle", "position": "JobTitle", "role": "JobTitle",
    "designation": "JobTitle", "תפקיד": "JobTitle",
    "department": "Department", "מחלקה": "Department",
    "branch": "Branch", "סניף": "Branch", "שםסניף": "Branch",
    "industry": "Industry", "ענף": "Industry",
    "website": "Website", "websiteurl": "Website", "url": "Website", "אתר": "Website",
    "אתראינטרנט": "Website", "כתובתאתר": "Website",
    "fax": "Fax", "faxnumber": "Fax", "פקס": "Fax",
    "gender": "Gender", "sex": "Gender", "מין": "Gender", "מגדר": "Gender",
    "language": "Language", "preferredlanguage": "Language", "שפה": "Language",
    "budget": "Budget", "תקציב": "Budget", "amount": "Amount", "סכום": "Amount",
    "סכוםעסקה": "Amount", "price": "Price", "מחיר": "Price",
    "rooms": "Rooms", "numberofrooms": "Rooms", "bedrooms": "Rooms", "מספרחדרים": "Rooms",
    "מסחדרים": "Rooms", "חדרים": "Rooms",
    "owner": "Owner", "leadowner": "Owner", "contactowner": "Owner", "hubspotowner": "Owner",
    "recordowner": "Owner", "assignedto": "Owner", "בעלים": "Owner", "אחראי": "Owner",
    "product": "Product", "מוצר": "Product", "תחוםעניין": "Interest", "interest": "Interest",
    "agent": "Agent", "נציג": "Agent", "נציגמטפל": "Agent", "סוכן": "Agent", "שםנציג": "Agent",
    "שםסוכן": "Agent", "סוכןמטפל": "Agent", "מטפל": "Agent", "salesrep": "Agent",
    "age": "Age", "גיל": "Age",
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


def _find(profiles: list[ColumnProfile], keys: set[str], used: set[int]) -> ColumnProfile | None:
    for prof in profiles:
        if prof.key in keys and prof.index not in used:
            return prof
    return None


# --- the suggestion as data, written by the YAML library ------------------------------------

# What an automatic mapping may hold: reading, phones, fields, screen-pop data and the
# ordinary dedupe. Never `mode`, `sync_*`, `campaign` or anything else that could remove
# calls or send leads elsewhere, whatever the file is called or holds.
AUTOMATIC_KEYS = ("name", "source", "phone", "fields", "custom_data", "copy_columns",
                  "options", "dedupe")


@dataclass(slots=True)
class _Section:
    """One top-level key of the suggestion, with the comment lines shown above it."""

    key: str
    value: object
    notes: list[str] = field(default_factory=list)


def _comment(text: str) -> str:
    return f"# {escape_controls(text)}".rstrip()


class _Flow(list[object]):
    """A list written on one line: ``[a, b]``."""


class _FlowMap(dict[str, object]):
    """A small mapping written on one line: ``{column: x, default: 1}``."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper, with one-line lists and small mappings where the suggestion asks for them."""


_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
_Dumper.add_representer(
    _FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)


def _dump(key: str, value: object) -> str:
    return yaml.dump(
        {key: value},
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,  # one line per key: a long header is never folded
    ).rstrip("\n")


def render_suggestion(header: Sequence[str], sections: Sequence[_Section]) -> str:
    """The mapping text: each section emitted by PyYAML, comments escaped, then checked."""
    keys = [s.key for s in sections]
    if not set(keys) <= set(AUTOMATIC_KEYS) or len(set(keys)) != len(keys):
        raise MappingError(
            "suggested mapping",
            [f"a suggested mapping may not hold {keys!r}"],
            hint=MappingError.AUTOMATIC_HINT,
        )
    out = [_comment(line) for line in header]
    for section in sections:
        out.append("")
        out += [_comment(note) for note in section.notes]
        out.append(_dump(section.key, section.value))
    text = "\n".join(out) + "\n"
    # Comments and data went through different writers: prove that the text holds exactly
    # the data, so nothing in a file name or header can have added or changed a setting.
    if read_yaml(text, "suggested mapping") != {s.key: s.value for s in sections}:
        raise MappingError(
            "suggested mapping",
            ["the automatic mapping could not be written safely for this file; "
             "write a mapping by hand (see docs/mapping.md)"],
            hint=MappingError.AUTOMATIC_HINT,
        )
    return text


def _sample(path: Path, options: SourceOptions) -> tuple[SourceInfo, list[SourceRow]]:
    with open_source(path, options) as source:
        # Several sheets and none with phones: name them all, not one sheet's columns.
        require_phone_sheet(source.info)
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
            for prof in phone_columns(profile_columns(source.info, rows)):
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
    bind(parse_mapping(text, f"suggested mapping for {options.name or Path(path).name}"), info)
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
    fname = info.name

    where = [info.format]
    if info.encoding:
        where.append(info.encoding)
    if info.sheet:
        where.append(f"sheet {quoted(info.sheet)}")
    where.append(f"header on row {info.header_row}")
    header = [
        f"Mapping suggested by lead-importer for {quoted(fname)}",
        f"Recognised as: {kind_name} ({', '.join(where)}; {len(rows)} rows sampled).",
        "Check it with:  lead-importer mapping check THIS_FILE THE_DATA_FILE",
        "Add `campaign: NAME` (the campaign to fill, by name) or pass --campaign.",
    ]
    if any(scan.phones for scan in info.sheet_scan):
        header.insert(2, f"Sheet {quoted(info.sheet or '')} holds the phone numbers:")
        header[3:3] = [f"  {scan.describe()}" for scan in info.sheet_scan]
    sections = [_Section("name", kind_name), _source_section(options, kind)]

    phones = phone_columns(profiles)
    if not phones:
        raise _no_phone_column(info, profiles)
    used |= {p.index for p in phones}
    # A rejects file's reason/source_row columns are ours, never the lead's.
    used |= set(rejects_columns(info.columns) or ())
    sections.append(_phone_section(phones, extra_phone_columns, kind))

    fields, field_notes = _fields(profiles, used)
    if fields:
        sections.append(_Section("fields", fields, field_notes))
    custom, copy = _custom_data(profiles, used, kind)
    if custom:
        note = "custom_data: shown in the agent's screen pop"
        sections.append(_Section("custom_data", custom, [note]))
    if copy:
        note = "every var_* column goes to CustomData as is"
        sections.append(_Section("copy_columns", _Flow(["var_*"]), [note]))
    sections += [
        _Section(
            "options",
            {"is_date_local": False, "ignore_dnc": False},
            [
                "is_date_local: false = OriginateTime is sent as a true UTC time (see docs)",
                "ignore_dnc: true would dial even numbers on the Do-Not-Call registry",
            ],
        ),
        _Section(
            "dedupe",
            {"batch": True, "pending": True, "history_days": 30},
            [
                "batch: the same phone twice in this file: the first one wins",
                "pending: skip numbers already waiting in the campaign",
                "history_days: skip numbers this importer added in the last 30 days",
            ],
        ),
    ]
    return render_suggestion(header, sections)


def _no_phone_column(info: SourceInfo, profiles: list[ColumnProfile]) -> MappingError:
    """The refusal when no column holds phones: the columns, and the other sheets to try."""
    fname = escape_controls(info.name)
    listed = ", ".join(repr(p.header) for p in profiles)  # repr escapes line breaks
    where: str = Note(N_("sheet {sheet} of {file}"), sheet=repr(info.sheet), file=fname) \
        if info.sheet else fname
    names = [f"{s.name!r}{' (hidden)' if s.hidden else ''}" for s in info.sheets]
    if len(names) > 1:
        problem = Note(N_("no column of {file} holds phone numbers (its columns: {columns}); "
                          "its sheets: {sheets} (choose one with --sheet); write the mapping by "
                          "hand (see docs/mapping.md)"),
                       file=where, columns=listed, sheets=", ".join(names))
    else:
        problem = Note(N_("no column of {file} holds phone numbers (its columns: {columns}); "
                          "write the mapping by hand (see docs/mapping.md)"),
                       file=where, columns=listed)
    return MappingError(
        Note(N_("suggested mapping for {file}"), file=fname), [problem],
        hint=MappingError.AUTOMATIC_HINT,
    )


def _source_section(options: SourceOptions, kind: str) -> _Section:
    sheet = options.sheet
    source: dict[str, object] = {
        "sheet": "auto" if sheet is None else sheet if isinstance(sheet, str) else sheet + 1,
        "header_row": options.header_row or "auto",
        "encoding": options.encoding or "auto",
        "delimiter": options.delimiter or "auto",
    }
    notes = ["source: how to read the file; auto = detect, sheet 1 = the first"]
    if options.all_sheets:
        source["all_sheets"] = True
    if kind == "voicenter":
        source["unescape_formulas"] = True
        notes.append("unescape_formulas: the export writes '+972... for Excel")
    return _Section("source", source, notes)


def _phone_section(
    phones: list[ColumnProfile], extra_columns: Sequence[str], kind: str
) -> _Section:
    notes = ["phone: the columns that hold the number"]
    for prof in phones:
        notes.append(
            f"  {quoted(prof.header)}: {prof.phones} of {prof.filled} sampled values are "
            f"phone numbers ({prof.mobiles} mobile)"
        )
    headers = [p.header for p in phones]
    extra = [h for h in extra_columns if h not in headers]
    if extra:
        notes.append(f"  other sheets also have: {', '.join(quoted(h) for h in extra)}")
    if len(phones) + len(extra) > 1:
        notes.append("  the first column (in this order) that holds a usable number wins")
    notes += [
        "  default_region IL: numbers without a country code are Israeli",
        "  strictness: valid = allocated numbers only; possible = looser",
        "  send_as: digits = 972501234567 (what the Dialer API expects)",
    ]
    value: dict[str, object] = {
        "columns": _Flow(headers + extra),
        "default_region": "IL",
        "allow_types": _Flow(["mobile", "fixed_line", "fixed_line_or_mobile", "voip"]),
        "strictness": "valid",
        "send_as": "digits",
    }
    if kind == "voicenter":
        value["digits_are_international"] = True
        notes.append("  digits_are_international: 4930901820 as the API lists it is +49 30 901820")
    return _Section("phone", value, notes)


def _template_safe(*headers: str) -> bool:
    """A header with braces cannot stand inside a template's ``{column}``."""
    return not any(ch in h for h in headers for ch in "{}")


def _fields(profiles: list[ColumnProfile], used: set[int]) -> tuple[dict[str, object], list[str]]:
    out: dict[str, object] = {}
    notes: list[str] = []
    name = _customer_name(profiles, used)
    if name is not None:
        out["CustomerName"] = name

    priority = _find(profiles, _PRIORITY, used)
    if priority and priority.share(lambda v: re.fullmatch(r"-?\d+(\.0+)?", v)) >= 0.8:
        used.add(priority.index)
        out["Priority"] = priority.header
        notes.append("Priority: higher is dialled first")
    else:
        for prof in profiles:
            if prof.index in used or not prof.filled:
                continue
            if prof.share(lambda v: normalize_value(v) in _TEMPERATURE) >= 0.6:
                # Not marked as used: a notes or status column also goes to the screen pop.
                notes.append(f"Priority: {quoted(prof.header)} holds lead temperatures: "
                             "hot is dialled first")
                out["Priority"] = _FlowMap(
                    column=prof.header, map=_FlowMap(_TEMPERATURE), default=1
                )
                break

    caller = _find(profiles, _CALLER_ID, used)
    if caller:
        used.add(caller.index)
        out["CallerID"] = caller.header
        notes.append("CallerID: the number the lead sees")

    originate = _originate_time(profiles, used, notes)
    if originate is not None:
        out["OriginateTime"] = originate
    return out, notes


def _customer_name(profiles: list[ColumnProfile], used: set[int]) -> object | None:
    """CustomerName: a full-name column, or first and family name joined by a template."""
    first = _find(profiles, _FIRST_NAME, used)
    last = _find(profiles, _LAST_NAME, used)
    if first is None and last is not None:
        # "שם" + "שם משפחה": the bare name column holds the first name.
        first = _find(profiles, _BARE_NAME, used)
    taken = used | ({first.index} if first else set())
    full = _find(profiles, _FULL_NAME, taken)
    if first and last and _template_safe(first.header, last.header):
        used |= {first.index, last.index}
        name = _FlowMap(template="{" + first.header + "} {" + last.header + "}")
        if full:
            used.add(full.index)
            name["columns_fallback"] = _Flow([full.header])
        return name
    chosen = full or first
    if chosen is None:
        return None
    used.add(chosen.index)
    return chosen.header


def _callback_header(key: str) -> bool:
    """Whether a normalised header names a time to call back (not one of a past call)."""
    if any(w in key for w in _PAST_WORDS):
        return False
    return key in _CALLBACK or any(w in key for w in _CALLBACK_WORDS)


def _originate_time(
    profiles: list[ColumnProfile], used: set[int], notes: list[str]
) -> object | None:
    """OriginateTime from a call-back date column, with a time-of-day column if there is one."""
    free = [p for p in profiles if p.index not in used and p.filled]
    dates = [p for p in free if _callback_header(p.key) and p.share(_is_date) >= 0.6]
    clocks = [
        p for p in free
        if (p.key in _CALLBACK_TIME or _callback_header(p.key))
        and p not in dates and p.share(_is_time) >= 0.6
    ]
    when = dates[0] if dates else None
    note = "OriginateTime: when to call back"
    if when is None and any(_callback_header(p.key) for p in clocks):
        # "תאריך" + "שעת חיוג": the only date beside a call-back time is its day.
        when = next(
            (p for p in free if p.key in _PLAIN_DATE and p.share(_is_date) >= 0.6
             and p.share(_has_clock) < 0.5),
            None,
        )
        clocks = [p for p in clocks if _callback_header(p.key)]
        if when is not None:
            note += f" (check that {quoted(when.header)} is the call-back day)"
    if when is None:
        return None
    used.add(when.index)
    notes.append(note)
    clock = clocks[0] if clocks else None
    if clock is not None and when.share(_has_clock) < 0.5:
        used.add(clock.index)
        return _FlowMap(
            date_column=when.header, time_column=clock.header, timezone="Asia/Jerusalem"
        )
    return _FlowMap(column=when.header, timezone="Asia/Jerusalem")


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
) -> tuple[dict[str, object], bool]:
    out: dict[str, object] = {}
    copy = kind == "voicenter" or any(p.header.lower().startswith("var_") for p in profiles)
    # The keys copy_columns will give the var_* columns: a suggested key equal to one of them
    # would make the binder skip that column.
    taken = {
        custom_data_key(p.header, p.index).casefold()
        for p in profiles
        if copy and p.header.lower().startswith("var_")
    }

    def add(key: str, spec: object) -> None:
        if len(out) >= _MAX_CUSTOM:
            return
        unique, n = key, 1
        while unique.casefold() in taken:
            # Two columns with one name (an "Email" and an "אימייל"): both reach the agent.
            n += 1
            unique = f"{key}{n}"
        taken.add(unique.casefold())
        out[unique] = spec

    lead_id = _find(profiles, _LEAD_ID, used)
    if lead_id and lead_id.filled:
        used.add(lead_id.index)
        add("var_LeadID", lead_id.header)
    source = _find(profiles, _SOURCE, used)
    if source and source.filled:
        used.add(source.index)
        add("var_Source", source.header)
    elif kind in _SOURCE_CONSTANT:
        add("var_Source", _FlowMap(value=_SOURCE_CONSTANT[kind]))

    for prof in profiles:
        if prof.index in used or not prof.filled or prof.key in _TECHNICAL:
            continue
        if prof.key in NATIONAL_ID or (copy and prof.header.lower().startswith("var_")):
            continue        # national ids stay out of screen pops; var_* columns are copied
        if kind == "voicenter":
            continue        # the rest of Voicenter's export is its own bookkeeping
        used.add(prof.index)
        known = _known_key(prof.key)
        add(f"var_{known}" if known else custom_data_key(prof.header, prof.index), prof.header)
    return out, copy
