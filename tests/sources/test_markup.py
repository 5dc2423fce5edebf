"""".xls" files that are really HTML tables or Excel 2003 XML (SpreadsheetML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from importer.errors import EmptySourceError, SourceError, UnsafeFileError, UnsupportedFormatError
from importer.sources import SourceOptions, open_source
from tests.sources.conftest import cells, read_all

HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office">
<head><meta http-equiv="Content-Type" content="text/html; charset=windows-1255">
<style>td {{ mso-number-format:"\\@"; }}</style><script>var x = "<td>no</td>";</script></head>
<body><table><tr><td>layout</td></tr></table>
<table border=1>
<tr><th colspan=3>ייצוא לידים</th></tr>
<tr><th>שם</th><th>טלפון</th><th>הערות</th></tr>
<tr><td>דני&nbsp;כהן</td><td>0521234567</td><td>שורה 1<br>שורה   2</td>
<tr><td rowspan=2>רות</td><td>054-1234567</td><td><table><tr><td>nested</td></tr></table></td></tr>
<tr><td>0501234567</td><td>{tail}</td></tr>
</table></body></html>"""


def test_html_table_saved_as_xls(tmp_path: Path) -> None:
    path = tmp_path / "crm.xls"
    path.write_bytes(HTML.format(tail="&amp; more").encode("cp1255"))
    columns, rows, info = read_all(path)
    assert info.format == "html" and info.encoding == "windows-1255"  # type: ignore[attr-defined]
    assert "meta charset" in info.encoding_reason  # type: ignore[attr-defined]
    assert info.sheet == "Table 2" and info.header_row == 2  # type: ignore[attr-defined]
    assert columns == ["שם", "טלפון", "הערות"]
    assert [(r.row, r.cells) for r in rows] == [
        (3, ("דני כהן", "0521234567", "שורה 1\nשורה 2")),
        (4, ("רות", "054-1234567", "")),
        (5, ("", "0501234567", "& more")),
    ]
    assert rows[0].numeric == frozenset()
    assert [s.name for s in info.sheets] == ["Table 1", "Table 2", "Table 3"]  # type: ignore[attr-defined]
    with pytest.raises(EmptySourceError, match=r"sheet 'Table 3': has a header row"):
        open_source(path, SourceOptions(sheet="Table 3"))  # the nested table: one row


def test_html_without_table_and_utf8_detection(tmp_path: Path) -> None:
    path = tmp_path / "page.xls"
    path.write_text("<html><body><p>no data</p></body></html>")
    with pytest.raises(SourceError, match=r"without a table"):
        open_source(path)
    path.write_text("<table><tr><td>שם</td><td>טל</td></tr><tr><td>א</td><td>1</td></tr></table>")
    _, rows, info = read_all(path)
    assert info.encoding == "utf-8" and cells(rows) == [("א", "1")]  # type: ignore[attr-defined]


SPREADSHEETML = """<?xml version="1.0"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"
 xmlns:x="urn:schemas-microsoft-com:office:excel"
 xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"
 xmlns:html="http://www.w3.org/TR/REC-html40">
 <Worksheet ss:Name="Config"><Table><Row><Cell><Data ss:Type="String">k</Data></Cell></Row>
  <Row><Cell><Data ss:Type="String">v</Data></Cell></Row></Table>
  <WorksheetOptions xmlns="urn:schemas-microsoft-com:office:excel"><Visible>SheetHidden</Visible>
  </WorksheetOptions></Worksheet>
 <Worksheet ss:Name="Leads"><Table>
  <Row><Cell ss:MergeAcross="2"><Data ss:Type="String">CRM export</Data></Cell></Row>
  <Row ss:Index="3"><Cell><Data ss:Type="String">Name</Data></Cell>
   <Cell><Data ss:Type="String">Phone</Data></Cell>
   <Cell><Data ss:Type="String">Created</Data></Cell>
   <Cell><Data ss:Type="String">VIP</Data></Cell></Row>
  <Row><Cell><Data ss:Type="String"><html:B>Dan</html:B> Cohen</Data></Cell>
   <Cell><Data ss:Type="Number">521234567</Data></Cell>
   <Cell><Data ss:Type="DateTime">2026-11-28T00:00:00.000</Data></Cell>
   <Cell><Data ss:Type="Boolean">1</Data></Cell></Row>
  <Row><Cell><Data ss:Type="String">Ruth</Data></Cell>
   <Cell ss:Index="3"><Data ss:Type="DateTime">2026-11-28T14:30:00.000</Data></Cell></Row>
  <Row><Cell><Data ss:Type="String">Avi</Data></Cell>
   <Cell><Data ss:Type="Number">9.72501234567E+11</Data></Cell></Row>
 </Table></Worksheet>
</Workbook>"""


def test_spreadsheetml_2003(tmp_path: Path) -> None:
    path = tmp_path / "export.xls"
    path.write_text(SPREADSHEETML, encoding="utf-8")
    columns, rows, info = read_all(path)
    assert info.format == "spreadsheetml" and info.sheet == "Leads"  # type: ignore[attr-defined]
    assert [(s.name, s.hidden) for s in info.sheets] == [  # type: ignore[attr-defined]
        ("Config", True), ("Leads", False)
    ]
    assert info.header_row == 3  # type: ignore[attr-defined]
    assert columns == ["Name", "Phone", "Created", "VIP"]
    assert [(r.row, r.cells, r.numeric) for r in rows] == [
        (4, ("Dan Cohen", "521234567", "2026-11-28", "TRUE"), frozenset({1})),
        (5, ("Ruth", "", "2026-11-28T14:30:00", ""), frozenset()),
        (6, ("Avi", "972501234567", "", ""), frozenset({1})),
    ]
    assert read_all(path, sheet="Config", header_row=1)[0] == ["k"]


def test_billion_laughs_xml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "laughs.xls"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE Workbook [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="A"><Table>'
        '<Row><Cell><Data ss:Type="String">&c;</Data></Cell></Row></Table></Worksheet></Workbook>'
    )
    with pytest.raises(UnsafeFileError, match=r"laughs.xls: .*DTD or entities"):
        open_source(path)


def test_truncated_spreadsheetml_and_other_xml(tmp_path: Path) -> None:
    path = tmp_path / "cut.xls"
    path.write_text(SPREADSHEETML[: len(SPREADSHEETML) - 200])
    with (
        pytest.raises(SourceError, match=r"cut.xls: the Excel 2003 XML file is damaged"),
        open_source(path, SourceOptions(sheet="Leads")) as src,
    ):
        list(src.rows())
    other = tmp_path / "feed.xls"
    other.write_text('<?xml version="1.0"?><rss><channel/></rss>')
    with pytest.raises(UnsupportedFormatError, match=r"not an Excel 2003 XML"):
        open_source(other)
